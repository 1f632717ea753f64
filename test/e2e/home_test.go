package e2e

import (
	"testing"

	"github.com/rotary-secrets/rotary/test/bench"
)

// TestAccountModeNoSTSUnderRIE: a built function in account mode without
// ROTARY_HOME_ACCOUNT takes its account from the invoked function's ARN, so a
// cold start and a whole rotation make no STS call at all (the measurement is
// test/bench's, which make bench reports).
func TestAccountModeNoSTSUnderRIE(t *testing.T) {
	if n := bench.AccountModeSTSCalls(t, rieBinary(t), function(t, "generic")); n != 0 {
		t.Errorf("STS calls = %d, want 0 (account mode, account from the invoked function's ARN)", n)
	}
}
