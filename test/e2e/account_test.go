package e2e

import (
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
)

// TestAccountMode is acceptance 2: the same central bootstrap, copied into a
// member account with ROTARY_MODE=account, rotates that account's own
// PostgreSQL and MariaDB secrets with its own credentials (no AssumeRole),
// and refuses a secret of another account with a clear error, no AssumeRole
// call and nothing written.
func TestAccountMode(t *testing.T) {
	pg, maria, bundle := targets(t)
	w := world(t)
	fn := startFunction(t, w, function(t, "central"), rig.AccountConfig(bundle))

	for _, c := range rig.AccountCases(pg, maria) {
		t.Run(c.Name, func(t *testing.T) {
			s, err := w.Provision(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			r, err := w.Rotate(t.Context(), s, fn)
			if err != nil {
				t.Fatal(err)
			}
			if ch := w.Verify(t.Context(), s, r); !ch.OK() {
				t.Fatalf("%s: %v", describe(s), ch.Err())
			}
			if err := s.FindLeak("function logs", fn.Logs()); err != nil {
				t.Error(err)
			}
		})
	}
	if n := w.AWS.Calls("AssumeRole", ""); n != 0 {
		t.Errorf("%d AssumeRole calls in account mode, want 0", n)
	}

	t.Run("another account's secret", func(t *testing.T) {
		s, err := w.Provision(t.Context(), rig.Case{Name: "elsewhere/postgres", Account: rig.MemberB, Target: pg, Strategy: rotators.SingleUser})
		if err != nil {
			t.Fatal(err)
		}
		w.AWS.ResetCalls()
		r := rotateExpectFailure(t, w, s, fn, "createSecret", "account not allowed", rig.MemberB, "deploy a copy in that account")
		if n := w.AWS.Calls("AssumeRole", ""); n != 0 {
			t.Errorf("%d AssumeRole calls, want 0", n)
		}
		if err := w.Unchanged(t.Context(), s, r); err != nil {
			t.Error(err)
		}
	})
}
