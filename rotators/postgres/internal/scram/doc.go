// Package scram builds and parses the SCRAM-SHA-256 password verifiers that
// PostgreSQL stores in pg_authid.rolpassword (RFC 5802 and RFC 7677):
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// Sending a verifier in ALTER ROLE ... PASSWORD '<verifier>' instead of the
// password keeps the plaintext out of the server's statement log and
// statistics: PostgreSQL stores a string in this form as it is.
//
// This package must not log, keep or return the password, and a verifier never
// contains a quote or a backslash, so it can be written in a SQL literal.
// SASLprep is not implemented: only ASCII passwords are accepted, for which
// SASLprep (PostgreSQL's and pgx's) changes nothing.
package scram
