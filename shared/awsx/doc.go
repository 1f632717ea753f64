// Package awsx builds the AWS SDK clients Rotary's functions use: the base SDK
// configuration, and a Secrets Manager client for the account and region that
// own a given secret ARN.
//
// In account mode (the default) every secret must live in the function's own
// account, and no role is ever assumed. In central mode a secret in another
// account is reached by assuming that account's member role (STS AssumeRole
// with an optional ExternalId), after checking the account against an
// allow-list: an account that is not allowed causes no STS call at all.
// Assumed-role credentials are cached per role ARN for the life of the warm
// container, so AssumeRole runs at most once per account per credential
// lifetime, and Secrets Manager clients are cached per (account, region).
//
// Clients of other services in an account (ElastiCache, IAM, RDS, the audit's
// Secrets Manager per account and region) come from Clients.Account: the same
// checks, the same credentials cache, and a ClientCache keeps one client per
// account and region. STS sessions are named rotary.<function>, followed by
// the first characters of the rotation's ClientRequestToken when a rotation
// asked (SessionName); the RotationToken never names a session.
//
// Secret ARNs are parsed strictly (ParseSecretARN): a known partition, a
// well-formed region, a 12-digit account and a valid secret name; a member
// role ARN is derived only from such a location (SecretLocation.RoleARN).
//
// What it must not do: read, cache or log secret values (it hands out clients,
// the rotation engine reads every version fresh); write the ExternalId or any
// credential into an error or a log; or assume a role for an account that the
// configuration does not allow.
package awsx
