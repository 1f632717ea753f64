package mysql_test

import (
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
)

// TestStartUpLeavesSystemRootsAlone: Build, with or without ROTARY_CA_BUNDLE,
// does not load the system roots; the first TLS connection does.
func TestStartUpLeavesSystemRootsAlone(t *testing.T) {
	rotatortest.StartUpLeavesSystemRootsAlone(t, func(reg *rotators.Registry, deps rotators.Deps) error {
		return mysql.Build(reg, deps)
	})
}
