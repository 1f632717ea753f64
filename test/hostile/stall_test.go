package hostile

import (
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The stalled-server test's Lambda settings: the RIE's function timeout and
// the engine's cleanup reserve, so every step of the rotator must end by
// stallTimeout - stallReserve (7 s) with time left to log and answer.
const (
	stallTimeout = "12" // AWS_LAMBDA_FUNCTION_TIMEOUT, seconds
	stallReserve = "5s" // ROTARY_CLEANUP_RESERVE
)

// TestStalledServerBlastRadius is attack 5: member A's single-user secret
// names a server that accepts the login and then never answers the password
// statement. That rotation must fail within its step deadline with a clear
// StepError — not be killed by the Lambda timeout, which would skip the
// engine's cleanup and failure log — while a rotation of member B's secret,
// run in parallel by another instance of the same function (Lambda scales
// out), completes.
func TestStalledServerBlastRadius(t *testing.T) {
	pg, _ := servers(t)
	mustListen(t, attackerHost)
	ca, tlsConf := attackerCA(t)
	w := world(t)
	cfg := centralConfig("rotary-central", bundle(t, pg.CAFile(), ca.CAFile),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+stallTimeout, "ROTARY_CLEANUP_RESERVE="+stallReserve)
	fnA := startCentral(t, w, cfg)
	cfg.Name = "rotary-central-2" // a second concurrent instance
	fnB := startCentral(t, w, cfg)

	planted := &secrets{}
	app := tenant{user: "app_" + rig.RandomHex(4), password: rig.NewPassword()}
	planted.add(app.password)
	stall := startFakePG(t, tlsConf, true, map[string]string{app.user: app.password})
	arnA := createSecret(t, w, memberA, "stall/postgres", secret.Value{Engine: "postgres", Host: stall.Host, Port: stall.Port, Username: app.user, Password: app.password, DBName: "postgres"})
	sA := &rig.Secret{Case: rig.Case{Name: "stall/postgres", Account: memberA, Strategy: rotators.SingleUser}, ARN: arnA, User: app.user}
	sB, err := w.Provision(t.Context(), rig.Case{Name: "orders/postgres", Account: memberB, Target: pg, Strategy: rotators.SingleUser})
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		r   rig.Rotation
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := w.Rotate(t.Context(), sA, fnA)
		done <- result{r, err}
	}()
	select {
	case <-stall.Stalled():
	case res := <-done:
		t.Fatalf("A's rotation ended before the server stalled it: %s %s (err %v)", res.r.Run.Outcome, res.r.Run.Error, res.err)
	}

	// While A's step hangs on the stalled server, B's rotation completes.
	rB, err := w.Rotate(t.Context(), sB, fnB)
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Verify(t.Context(), sB, rB); !c.OK() {
		t.Errorf("B's rotation in parallel: %v", c.Err())
	}
	select {
	case <-done:
		t.Error("A's rotation ended before B's completed: nothing ran in parallel with the stall")
	default:
	}

	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.r.Run.Outcome != localaws.Failed {
		t.Fatalf("A's rotation against a stalled server: %s, want Failed", res.r.Run.Outcome)
	}
	last := res.r.Run.Steps[len(res.r.Run.Steps)-1]
	if last.Step != localaws.StepSet {
		t.Errorf("A's rotation failed at %s, want setSecret (the password statement stalls)", last.Step)
	}
	msg, isStepError := strings.CutPrefix(last.Error, "StepError: ")
	switch {
	case !isStepError:
		t.Errorf("A's %s ended with %q, want errorType StepError: the step was not bounded by its own deadline (Lambda timeout %ss, reserve %s)",
			last.Step, last.Error, stallTimeout, stallReserve)
	case !strings.Contains(msg, "deadline") && !strings.Contains(msg, "timeout"):
		t.Errorf("A's %s error does not say it ran out of time: %s", last.Step, msg)
	}
	if !stepFailedLogged(fnA.Logs(), last.Step, arnA) {
		t.Errorf("no \"rotation step failed\" log line for A's %s: the engine's failure path did not run before the timeout", last.Step)
	}
	t.Logf("A's rotation: %s", last.Error)
	centralNeverRead(t, w)
	noLeaks(t, fnA, planted, sA, last.Error)
	noLeaks(t, fnB, planted, sB, "")
}
