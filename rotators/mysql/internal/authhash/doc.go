// Package authhash computes the password hashes MySQL and MariaDB store, so a
// rotator can send a pre-hashed password (IDENTIFIED BY PASSWORD '*…',
// IDENTIFIED WITH caching_sha2_password AS '$A$005$…') instead of the
// plaintext, which would otherwise reach the server's general and slow logs.
//
// It must not log, keep or return a plaintext password, and has no other
// dependency than the standard library.
package authhash
