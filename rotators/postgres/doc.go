// Package postgres rotates PostgreSQL (and Aurora PostgreSQL) passwords: the
// rotators for the engines "postgres" and "aurora-postgresql".
//
//   - SingleUser changes the secret's own user's password, logged in as that
//     user (AWS's single-user template).
//   - MultiUser alternates between a user and its "_clone", managed by a master
//     user whose secret the engine reads from the masterarn key (AWS's
//     multi-user template), so the previous credentials keep working until the
//     next rotation. Both users act as the original role, so objects created by
//     either stay usable by the other (see README.md for the privilege model).
//
// Passwords never reach the server in plaintext: ALTER ROLE and CREATE ROLE
// carry a SCRAM-SHA-256 verifier computed here (internal/scram). Connections
// use TLS verify-full unless the secret whose password they carry says "ssl":
// false, a TLS failure is never retried in plaintext, and a cleartext or md5
// password request is answered only over verified TLS. The master password is
// sent only to the master secret's own server (its host, or the RDS endpoint
// an EndpointResolver finds for it), and the user secret must name that same
// server. Every session has statement_timeout and lock_timeout; transient
// conflicts of a password change are retried within the step's context.
//
// Its sentinels (ErrAuth, ErrTLS, ErrGuard, …), its single-user login
// fallback (dbrotator.LoginChain) and its login counters (Stats) are
// rotators/dbrotator's, shared with the MySQL rotators, which are built the
// same way: a type per strategy sharing an embedded connector.
//
// This package must not import the AWS SDK, read Secrets Manager, or log; it
// must not put a password or verifier in an error (known values are scrubbed
// from driver errors). It receives every secret version from the engine
// (shared/rotation) through the rotators.Rotator contract.
package postgres
