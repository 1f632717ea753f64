// Package audit is Rotary's fleet audit: it reads the metadata of every secret
// in the central account and the allowed member accounts (ListSecrets,
// DescribeSecret, ListSecretVersionIds, GetResourcePolicy — never a secret
// value) and turns it into findings, one per problem, each with a fixed check
// id, a severity and a one-line detail that says what to do.
//
// The checks (Evaluate, EvaluatePolicy) are pure functions of a Secret's
// metadata, the configuration and the time. The Scanner walks accounts and
// regions through a consumer-side client interface, SecretsManagerAPI, that
// has no value-reading method at all, so no audit code path can read a secret
// value; an account whose role cannot be assumed, a call that stays throttled
// or is denied, a secret deleted during the scan and a malformed resource
// policy each become a finding for that account or secret, and the other
// accounts complete.
//
// What it must not do: read or log secret values; put anything but check ids,
// severities and 12-digit account IDs into metric dimensions; change any
// secret.
package audit
