package fleet_test

import (
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/test/fleet"
)

// TestSmallFleet is the small fleet run of make test: 50 secrets in 5 member
// accounts with 5 % throttling and some latency. It checks counts and ratios,
// never timings: zero lost credentials, one AssumeRole per member account
// (the credential cache outlives the run), and the happy-path Secrets
// Manager budget per rotation (8) plus what the service's retries add.
func TestSmallFleet(t *testing.T) {
	res, err := fleet.Run(t.Context(), fleet.Config{Secrets: 50, Accounts: 5, Concurrency: 8, Seed: 8, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Summary())
	if res.Lost != 0 || res.Failed != 0 {
		t.Errorf("lost credentials = %d, failed rotations = %d, want 0 and 0", res.Lost, res.Failed)
	}
	for acct, n := range res.AssumeRole {
		if n != 1 {
			t.Errorf("account %s: %d successful AssumeRole calls, budget 1 per credential lifetime", acct, n)
		}
	}
	if len(res.AssumeRole) != 5 {
		t.Errorf("AssumeRole counted for %d accounts, want 5", len(res.AssumeRole))
	}
	// Each service retry re-drives at most the 8 calls of a rotation.
	if budget := 8 + 8*float64(res.ServiceRetries)/float64(res.Secrets); res.SMCallsPerRotation > budget {
		t.Errorf("Secrets Manager calls per rotation = %.2f, budget %.2f", res.SMCallsPerRotation, budget)
	}
}
