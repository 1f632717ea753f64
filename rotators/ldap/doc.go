// Package ldap rotates LDAP user passwords (OpenLDAP and other servers with
// the Password Modify extended operation, RFC 3062). Its engine is "ldap".
//
// Single user: the rotator binds as the secret's own DN (its username key)
// with the current password and changes its own password with Password
// Modify, sending the old and the new password; the server hashes it with its
// own password-hash setting (OpenLDAP {SSHA}). testSecret binds with the
// pending password and checks with Who Am I? (RFC 4532) that the bind
// identity is that DN.
//
// Admin password (with masterarn; "rotationStrategy": "admin-password" or
// none, as AWS's templates route a master secret to admin rotation): the
// master DN replaces the user's userPassword with an {SSHA} hash computed
// here, after the user's own bind proves the secret holds its password; the
// master password goes only to the master secret's own host, port and TLS
// mode, which the user secret must share.
//
// Every connection is TLS with the server's certificate verified against its
// host name (verify-full): LDAPS by default, StartTLS with "tlsMode":
// "starttls". There is no plaintext mode and no fallback: a failed StartTLS
// ends the step. A secret with "ssl": false is refused.
//
// DNs are parsed (RFC 4514), every attribute value must be plain (letters,
// digits, space, . _ @ -), and the DN sent is rebuilt from the parsed parts
// with every value escaped; quotes, NUL, control characters, wildcards,
// separators in values and overlong DNs are refused before any connection.
//
// The package never calls Secrets Manager and imports no AWS SDK.
package ldap
