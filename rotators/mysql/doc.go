// Package mysql rotates MySQL, Aurora MySQL and MariaDB credentials held in
// secrets shaped like AWS's rotation templates' ({"engine","host","port",
// "username","password","dbname","ssl","masterarn"}).
//
// Three strategies, a type each, as in rotators/postgres; they share a
// connector (connections, TLS roots, counters) and its methods by embedding:
//   - SingleUser: the user changes its own password (SET PASSWORD on
//     MariaDB, ALTER USER CURRENT_USER() on MySQL), sent pre-hashed.
//   - MultiUser: a master user alternates between the user and its _clone,
//     copying the original's grants and REQUIRE options to the clone on every
//     rotation and revoking stale ones.
//   - DualPassword: MySQL 8.0.14+ RETAIN CURRENT PASSWORD, so one user
//     rotates with zero downtime; refused on servers without it (MariaDB).
//
// Errors wrap the sentinels of rotators/dbrotator, shared with PostgreSQL
// (ErrAuth, ErrTLS, ErrGuard, …), and the fallback of a user changing its own
// password is dbrotator.LoginChain.
//
// Connections are opened with mysql.NewConnector and sql.OpenDB (no DSN
// strings, no global TLS registry), with verified TLS unless the secret whose
// credential the login sends says "ssl": false. The server's flavour and
// version are read once per connection and pick the statements.
//
// Trust model: the master credential goes only to the master secret's own
// endpoint, or, for a master secret without host, to the endpoint the
// EndpointResolver (RDS) gives, and the user secret must name that endpoint
// (ErrEndpointMismatch, ErrMasterEndpoint). The master acts only on the
// host of the account the current credentials log in as (CURRENT_USER()). A
// password is never answered to a request that would reveal it without
// verified TLS (ErrInsecureAuth). Every statement runs under the caller's
// context; deadlocks and lock wait timeouts are retried in place.
//
// What this package must not do: call AWS, log, or put a password, hash or
// other secret value in an error, a log line or SQL text that has a pre-hashed
// alternative. Driver errors are scrubbed of every known secret value.
package mysql
