package e2e

import (
	"testing"

	"github.com/rotary-secrets/rotary/test/e2e/rig"
)

// TestLoopbackOnly: the emulator, the RIE's invoke endpoint and the database
// servers listen on loopback addresses only.
func TestLoopbackOnly(t *testing.T) {
	pg, maria, bundle := targets(t)
	w := world(t)
	fn := startFunction(t, w, function(t, "central"), rig.CentralConfig(bundle))
	for _, u := range []string{w.URL, fn.InvokeURL, "tcp://" + pg.Addr(), "tcp://" + maria.Addr()} {
		if err := rig.CheckLoopback(u); err != nil {
			t.Error(err)
		}
	}
}
