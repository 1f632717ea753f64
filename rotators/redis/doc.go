// Package redis rotates the password of a Redis or Valkey ACL user on a
// self-managed server (engine "redis"), with github.com/redis/go-redis/v9.
//
// Single user with overlap: a Redis ACL user may hold several passwords, so
// setSecret adds the pending password to the user (ACL SETUSER u #<sha256>,
// the hash form, so the cleartext never reaches the server) and finishSecret
// removes the password that AWSPREVIOUS held before this rotation. The user
// therefore holds the current and the pending password throughout a rotation,
// and AWSPREVIOUS keeps working for one rotation period after it is replaced.
// The pending value records the SHA-256 of the password to remove
// (KeyRetiresSHA256), so finishSecret reads no other version on the happy
// path; it must never remove the current or the pending password.
//
// Every login uses TLS with the server's certificate verified against the
// secret's host (verify-full) unless the secret says "ssl": false; there is no
// fallback from TLS to cleartext. When the server keeps its users in an ACL
// file, setSecret and finishSecret run ACL SAVE.
package redis
