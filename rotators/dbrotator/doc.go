// Package dbrotator is what the database rotators (rotators/postgres,
// rotators/mysql) share besides the rotators.Rotator contract: one error
// vocabulary (the sentinels callers branch on with errors.Is), the
// current → pending → previous login fallback of a user changing its own
// password (LoginChain), the rule of where a master credential may be sent
// (MasterEndpoint), the removal of secret values from driver errors (Scrub),
// and the login counters (Counters, Stats). Settings
// read from the environment (TLS roots, timeouts) are parsed in package
// rotators (envconfig.go), which the non-database rotators use too.
//
// It must not import a database driver (pgx, go-sql-driver/mysql) or the AWS
// SDK: the generic and SaaS functions link package rotators, and a test in
// functions/internal/registry checks with go list -deps that they carry no
// driver. It knows nothing of a server's protocol: the engine packages turn
// their drivers' errors into these sentinels. The only secret values it sees
// are the ones Scrub removes; it stores and prints none.
package dbrotator
