package fleet_test

import (
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/fleet"
)

// TestSmallFleetUnderRIE runs the small fleet through the built central
// function: two warm copies under the Lambda RIE, in central mode, assuming
// the member roles through the real awsx clients. Each copy has its own
// credential cache, so each member account sees at most one AssumeRole per
// copy.
func TestSmallFleetUnderRIE(t *testing.T) {
	dbtest.NeedsServers(t)
	dir := t.TempDir()
	rie, err := lambdarie.BuildRIE(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := lambdarie.BuildFunction(t.Context(), dir, "central")
	if err != nil {
		t.Fatal(err)
	}
	pool := &fleet.RIEPool{RIE: rie, Bootstrap: boot, Size: 2, Accounts: 4}
	t.Cleanup(pool.Stop)
	res, err := fleet.Run(t.Context(), fleet.Config{Secrets: 24, Accounts: 4, Concurrency: 2, Seed: 3,
		Timeout: 3 * time.Minute, Function: pool, Setup: pool.Setup})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Summary())
	if res.Lost != 0 || res.Failed != 0 {
		t.Errorf("lost credentials = %d, failed rotations = %d, want 0 and 0", res.Lost, res.Failed)
	}
	if res.AssumeRoleMax > pool.Size {
		t.Errorf("at most %d successful AssumeRole calls per account, budget %d (one per warm copy)", res.AssumeRoleMax, pool.Size)
	}
	// central registers the SaaS rotators, which have finish work, so its
	// finishSecret reads the pending value: 9 calls on the happy path.
	if budget := 9 + 9*float64(res.ServiceRetries)/float64(res.Secrets); res.SMCallsPerRotation > budget {
		t.Errorf("Secrets Manager calls per rotation = %.2f, budget %.2f", res.SMCallsPerRotation, budget)
	}
}
