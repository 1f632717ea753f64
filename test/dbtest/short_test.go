package dbtest

import "testing"

// TestNeedsServers: a test calling NeedsServers is skipped exactly when
// -short is set, so make test (no -short) never skips a server test.
func TestNeedsServers(t *testing.T) {
	var reached bool
	t.Run("server test", func(t *testing.T) {
		NeedsServers(t)
		reached = true
	})
	if reached == testing.Short() {
		t.Errorf("-short = %v, but the server test ran to its end = %v", testing.Short(), reached)
	}
}
