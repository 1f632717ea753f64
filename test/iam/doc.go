// Package iam proves the IAM that Rotary ships: it renders the IAM policies of
// template.yaml, infra/member-role.yaml, infra/per-account.yaml and the
// examples under infra/examples with example parameters (resolving the
// CloudFormation intrinsics), maps every request the local AWS emulator
// (test/localaws) logged to the identity, trust, resource and key policies
// that AWS would evaluate for it, and asks a real IAM policy evaluator,
// @cloud-copilot/iam-simulate run by Node.js (oracle.mjs), for the decision.
//
// The tests give two verdicts: every request the functions make must be
// allowed — in the representative scenarios (central and per-account, single
// user, alternating users with an ordinary and an RDS-managed master, SaaS
// with its admin secret, customer managed keys, an IAM user's access keys) and
// in the end-to-end suite's, make demo's and the fleet test's rotations,
// replayed from their own scenario lists (test/e2e/rig scenarios.go,
// test/fleet) — and every request of the
// hostile tenant's attacks must be denied. A failure names the request, the
// policy and the statement that decided (for a request nothing allowed, the
// statements whose action and resource matched but whose condition did not).
//
// The evaluator is AGPL-3.0 licensed. It is a test tool only: installed into
// test/iam/node_modules by `npm ci` from the pinned package-lock.json, run as
// a separate process, never linked into or shipped with the functions.
package iam
