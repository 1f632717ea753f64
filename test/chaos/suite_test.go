package chaos_test

import (
	"testing"

	"github.com/rotary-secrets/rotary/test/chaos"
)

// runAll plays every schedule against strat and fails on any violation or
// on a database fault point that was never reached.
func runAll(t *testing.T, strat chaos.Strategy, scheds []chaos.Schedule) {
	t.Helper()
	failedSteps := 0
	for _, s := range scheds {
		t.Run(s.String(), func(t *testing.T) {
			res := chaos.Run(t, strat, s)
			for _, v := range res.Violations {
				t.Errorf("invariant violated: %s", v)
			}
			if s.Kind == chaos.DBDrop && res.Fired == 0 {
				t.Errorf("the fault point %q (%s) was never reached: the schedule tested nothing", s.Trigger, s.When)
			}
			if res.FaultFailed {
				failedSteps++
			}
		})
	}
	t.Logf("%s: %d schedules, %d of them made the faulted step fail", strat.Name, len(scheds), failedSteps)
}

// retries returns the retry modes to run: both in full mode, the service's
// whole-sequence retry otherwise.
func retries() []chaos.Retry {
	if chaos.Full() {
		return []chaos.Retry{chaos.RetrySequence, chaos.RetryStep}
	}
	return []chaos.Retry{chaos.RetrySequence}
}
