// Package localaws is a local emulator of AWS Secrets Manager (JSON 1.1
// protocol) and STS (Query protocol) on one HTTP endpoint, for tests, demos and
// application teams who run Rotary without an AWS account.
//
// It is faithful to the real service where rotation depends on it: secrets are
// kept per (account, region), credentials map to accounts, STS AssumeRole checks
// a role's trusted accounts and ExternalId, and RotateSecret runs the service's
// rotation flow (an empty AWSPENDING placeholder, the in-progress guard, a
// RotationToken per rotation, the four steps sent to a registered function,
// retries with the same token). Faults (throttling, internal errors, latency,
// "applied then failed") can be injected deterministically, and every call is
// counted per operation and account.
//
// The unchanged aws-sdk-go-v2 clients talk to it through BaseEndpoint (see
// Server.AWSConfig) or AWS_ENDPOINT_URL; the standalone server lives in
// cmd/localaws.
//
// What it must not do: import Rotary's own packages (it speaks AWS wire
// protocols only, so it can check Rotary rather than agree with it), persist
// anything, or write secret values or RotationTokens into error messages or
// logs. It always checks the access key ID, session token and expiry; SigV4
// signatures only with Options.VerifySignatures.
package localaws
