// Package rotation is Rotary's protocol engine: the one implementation of the
// Secrets Manager side of a rotation, shared by every rotator.
//
// For each Lambda invocation it validates the event (refusing a bad one before
// any AWS call), resolves the Secrets Manager client for the secret's account,
// checks the version stages, reads exactly the versions the step needs, calls
// the rotator, writes the pending version (passing the event's RotationToken)
// and moves AWSCURRENT at the end. Every step may run twice or be retried after
// a crash at any point and ends in the same state.
//
// Tenant isolation: every secret a rotation reads is in the rotated secret's
// own partition and account, through that account's client. A masterarn
// anywhere else, or not a strictly valid secret ARN, is refused with
// ErrForeignSecret before any STS or Secrets Manager call for it.
//
// Deadlines: a rotator's Create, Set, Test and Finish run under a context that
// ends Config.CleanupReserve (ROTARY_CLEANUP_RESERVE, default 20s) before the
// Lambda deadline; a call that runs into it fails with ErrStepDeadline, and
// Discard runs with its own context that still ends before the Lambda
// deadline.
//
// Telemetry: the engine label of logs and metrics is a registered engine name
// or "unknown", never the secret's own string.
//
// Budget: a single-user rotation on the happy path makes 8 Secrets Manager calls
// (createSecret 3, setSecret 2, testSecret 1, finishSecret 2).
//
// This package is the only one that talks to Secrets Manager. It must not
// contain target logic (no SQL, no SaaS calls), must not log or return secret
// values or the RotationToken, and must not cache secret values between
// invocations.
package rotation
