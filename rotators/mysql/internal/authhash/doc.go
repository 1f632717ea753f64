// Package authhash computes the password hashes MySQL and MariaDB store, so a
// rotator can send a pre-hashed password (IDENTIFIED BY PASSWORD '*…',
// IDENTIFIED WITH caching_sha2_password AS '$A$005$…', MariaDB's IDENTIFIED
// VIA ed25519 USING '…') instead of the plaintext, which would otherwise reach
// the server's general and slow logs.
//
// It must not log, keep or return a plaintext password. Its only dependency
// besides the standard library is filippo.io/edwards25519 (already used by the
// MySQL driver).
package authhash
