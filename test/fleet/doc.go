// Package fleet is Rotary's fleet load test: the central engine rotating many
// secrets spread over many member accounts, in central mode (a localaws role
// in each member account, shared/awsx clients assuming them), with throttling
// and latency injected by localaws, bounded concurrency, on loopback only.
//
// Run drives every rotation the way the service does (RotateSecret in the
// member account; the emulator invokes the four steps, retrying a failed
// rotation with the same token) and measures rotations per second, p50/p99
// rotation latency, AssumeRole calls per account, Secrets Manager calls per
// rotation, and checks that no credential was lost: every secret ends with the
// rotation's new value as AWSCURRENT and its old value as AWSPREVIOUS.
//
// The load uses the generic engine, which needs no database: the engine,
// the cross-account client cache and the Secrets Manager traffic are the
// same for every engine, and a database would measure the database.
//
// The secrets are tagged rotary:rotate=true, as the README tells users to.
// Config.Central, Members, ExternalID and Prepare run the same load in a
// given deployment (test/iam judges every request of a small run against the
// shipped IAM).
//
// It is test infrastructure: production code must never import it.
package fleet
