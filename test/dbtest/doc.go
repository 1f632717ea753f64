// Package dbtest starts throwaway database servers for tests: PostgreSQL
// (initdb + pg_ctl) and MariaDB (mariadb-install-db + mariadbd), each in a
// temporary directory on a free port, with password authentication enforced on
// TCP and TLS from a certificate authority generated for the test.
//
// It must never be imported by production code, and never relies on the
// machine's own (permissively configured) database servers.
package dbtest
