package bench_test

import (
	"os"
	"testing"

	"github.com/rotary-secrets/rotary/test/bench"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
)

// TestAuditScaleSmall is the audit scale run in small (make bench runs 20
// accounts of 1,000 secrets): the built audit, 5 % throttling, nothing missed,
// no value read, one AssumeRole per member account.
func TestAuditScaleSmall(t *testing.T) {
	bin, err := lambdarie.BuildFunction(t.Context(), t.TempDir(), "audit")
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.AuditConfig{Accounts: 3, SecretsPerAccount: 200, Seed: 3}
	if os.Getenv(envFull) != "" {
		cfg = bench.AuditConfig{Seed: 3} // 20 x 1,000
	}
	r, err := bench.RunAudit(t.Context(), bin, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Summary())
	if r.Missed || r.SecretsAudited != cfg.Accounts*cfg.SecretsPerAccount && cfg.Accounts > 0 {
		t.Errorf("missed: planted %v, found %v, audited %d", r.Planted, r.Found, r.SecretsAudited)
	}
	if r.ValueReads != 0 {
		t.Errorf("%d value reads", r.ValueReads)
	}
	if r.AssumeRoleMax != 1 {
		t.Errorf("AssumeRole per account max %d, want 1", r.AssumeRoleMax)
	}
	if r.Throttled == 0 {
		t.Error("no call was throttled: the run did not test retries")
	}
}
