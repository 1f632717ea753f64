package saas_test

import (
	"os"
	"os/exec"
	"testing"
)

// rerunEnv marks the child test process TestRerunInOneProcess starts, so the
// child does not start one itself.
const rerunEnv = "ROTARY_SAAS_RERUN_CHILD"

// TestRerunInOneProcess: tests run twice in one process (go test -count=2)
// each start a world of their own: nothing a run leaves behind in the test
// harness (store numbering, hence secret ARNs and the seeded key's name) or in
// package state changes what the next run sees. It runs this test binary
// again with -test.count=2 on the provider-specific tests and the generic kit
// over every provider. Seen failing before the fix: the harness numbered
// stores by test name across runs, so the second run's first store had
// another secret's ARN and finishSecret refused the seeded key as "not one
// Rotary minted for this secret" (TestEntraCertificateAdmin and 15 others).
func TestRerunInOneProcess(t *testing.T) {
	if os.Getenv(rerunEnv) != "" {
		t.Skip("already the rerun child")
	}
	if testing.Short() {
		t.Skip("starts a second test process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.count=2",
		"-test.run=^(TestEntraCertificateAdmin|TestOktaOAuthAdmin|TestOkta|TestSendGridSubuser|TestTwilioMainKeyAdmin|TestTwilioKeyTypePreserved|TestRotationOverlap|TestFinishRevokesOwnPrevious|TestFinishTwice|TestDiscard|TestErrorsNeverHoldSecrets)$")
	cmd.Env = append(os.Environ(), rerunEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tests run twice in one process: %v\n%s", err, out)
	}
}
