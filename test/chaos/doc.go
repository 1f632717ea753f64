// Package chaos is Rotary's chaos suite: it turns the protocol invariants of
// ARCHITECTURE.md into systematic evidence by enumerating every fault point of
// every rotation step, for each engine and strategy, and checking the
// invariants after every step of every schedule.
//
// A schedule is one fault at one point — a Secrets Manager call refused, a
// Secrets Manager write applied with its response lost (enough times to beat
// the SDK's retries), a database connection dropped just before or just after
// the password statement, the function process killed mid-step under the
// Lambda Runtime Interface Emulator — followed by the retries the service
// makes (the whole sequence again with the same token, or the failed step
// again). After every step the Checker verifies that AWSCURRENT authenticates,
// that AWSPREVIOUS does too at rest where the strategy promises it, and that no
// credential exists on the target that no stored version holds; at the end a
// later rotation must succeed.
//
// Targets: generic, PostgreSQL and MariaDB (single and alternating users),
// Redis ACL users (single user with overlap and alternating users), LDAP,
// ElastiCache users, IAM access keys, and the SaaS adapters (SendGrid,
// Twilio, Okta, Entra) with their provider fakes. For API keys a key
// minted and not yet stored when the process dies is tolerated mid-rotation
// (Checker.AccountsAtRest) but not at rest.
//
// `go test ./test/chaos` runs a representative subset (every fault point of the
// in-memory targets, a few per database strategy); ROTARY_CHAOS=full (make
// chaos) runs every schedule. Each run logs the number of schedules it ran.
//
// It is test infrastructure: production code must never import it. It listens
// on loopback addresses only.
package chaos
