// Package rig sets up Rotary's end-to-end world and checks its rotations,
// without the testing package, so the e2e tests (test/e2e), the demo
// (test/e2e/cmd/demo), the chaos suite and the fleet load test share one
// implementation:
//
//   - World: a test/localaws emulator on a loopback port with a central account
//     and member accounts, each member holding the role rotary-member that
//     trusts the central account with an ExternalId;
//   - StartFunction: a built bootstrap under the Lambda Runtime Interface
//     Emulator (test/e2e/lambdarie), configured for central or account mode
//     and registered with the emulator so RotateSecret invokes it over HTTP;
//   - Postgres, MariaDB, LDAP and Redis targets (on test/dbtest servers):
//     users, secrets in AWS's template shape, logins that tell a refused
//     password from any other failure; the API-driven ElastiCache (users in
//     the emulator, passwords applied to a redis-server) and IAMKey (access
//     keys proven with sts:GetCallerIdentity) targets, whose users carry the
//     rotary:secret tag naming their secret (the IAM user: its full ARN);
//   - Provision, Rotate and Verify: create a user and its secret (plus a master
//     user and secret for alternating users) in a member account, rotate it
//     through RotateSecret, and check the outcome: stages moved, the new
//     credential logs in, the old one is refused (single user) or still works
//     (alternating users).
//
// Every listener is on 127.0.0.1. Errors and results never hold a password
// or a RotationToken. It is test infrastructure: production code must never
// import it.
package rig
