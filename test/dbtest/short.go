package dbtest

import "testing"

// SkipReason is the message of a test skipped by NeedsServers.
const SkipReason = "needs servers (PostgreSQL, MariaDB, moto_server or built functions under the Lambda RIE): skipped by -short (make test-short); make test runs it"

// NeedsServers skips t in short mode (go test -short, make test-short): the
// fast tier runs only tests that start no server and build no binary. Call it
// first thing in a test or helper that starts a database, moto_server or the
// Lambda RIE, on the test's own goroutine. Without -short (make test) it does
// nothing: the full suite never skips, and neither do programs that use the
// start helpers outside go test (make demo), where testing.Short would panic.
func NeedsServers(t testing.TB) {
	t.Helper()
	if testing.Testing() && testing.Short() {
		t.Skip(SkipReason)
	}
}
