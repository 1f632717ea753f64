package dbrotator

import "errors"

// Sentinel errors of the database rotators. Each engine package re-exports
// them under the same names (postgres.ErrAuth is ErrAuth, and so is
// mysql.ErrAuth), so a caller branches the same way whatever the engine.
var (
	// ErrAuth: the server refused the user name and password (PostgreSQL
	// SQLSTATE 28P01, MySQL error 1045).
	ErrAuth = errors.New("password authentication failed")
	// ErrTLS: TLS could not be set up, the server refused it, or its
	// certificate did not verify (verify-full: chain and host name). No
	// plaintext attempt follows.
	ErrTLS = errors.New("TLS verify-full failed")
	// ErrInsecureAuth: the server asked for the password in a form the
	// connection would reveal (cleartext, md5 or an RSA key the server
	// sends, over a connection that is not verified TLS). Nothing was sent.
	ErrInsecureAuth = errors.New("refused to send the password: the server asked for it in a form this connection would reveal (use verified TLS)")
	// ErrGuard: a safety check refused the change before anything was
	// changed: the secrets do not describe the same account (the pending
	// user is not the current user or its alternate, another server, the
	// master is one of the rotated users, the current credentials do not log
	// in or log in as another account), or the account is one this rotation
	// must not touch (a superuser).
	ErrGuard = errors.New("refused by a safety check")
	// ErrNoCredential: none of the secret's stored versions (AWSCURRENT,
	// AWSPENDING, AWSPREVIOUS) logs in, so the user cannot change its own
	// password.
	ErrNoCredential = errors.New("no stored version of the secret logs in")
	// ErrEndpointMismatch: the user secret names another server than the one
	// the master credential belongs to (the master secret's own host and
	// port, or the endpoint RDS gives for an RDS-managed master), so the
	// master credential is not sent anywhere.
	ErrEndpointMismatch = errors.New("refused: the user secret's server is not the master secret's")
	// ErrMasterEndpoint: the master secret names no host and no endpoint
	// could be resolved for it (not RDS-managed, no resolver, or the RDS API
	// failed), so there is no server the master credential may be sent to.
	ErrMasterEndpoint = errors.New("refused: the master secret's server is unknown")
)
