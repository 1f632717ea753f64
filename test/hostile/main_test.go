package hostile

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/dbtest/fakepg"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The accounts: the central function's home, member A (the hostile tenant)
// and member B (the victim), both allowed in central mode.
const (
	central = rig.CentralAccount
	memberA = rig.MemberA
	memberB = rig.MemberB
	// attackerHost is the loopback address the attacker's fake servers
	// listen on: another address than the real servers' 127.0.0.1.
	attackerHost = "127.0.0.2"
)

// builds holds the binaries, built once per test binary in the background;
// the database servers are shared by every test (each test makes its own
// users).
var builds *lambdarie.Builds

func TestMain(m *testing.M) {
	builds = lambdarie.MustNewBuilds("rotary-hostile-")
	builds.Prebuild(func() { _, _ = builds.RIE() }, func() { _, _ = builds.Function("central") })
	code := m.Run()
	builds.Close()
	dbtest.StopSharedPostgres()
	dbtest.StopSharedMariaDB()
	os.Exit(code)
}

func rieBinary(t *testing.T) string { return lambdarie.Need(t, builds.RIE) }

func centralFunction(t *testing.T) string {
	return lambdarie.Need(t, func() (string, error) { return builds.Function("central") })
}

// servers returns the shared PostgreSQL and MariaDB servers, each checked to
// refuse a wrong password.
func servers(t *testing.T) (rig.Postgres, rig.MariaDB) {
	t.Helper()
	return rig.Targets(t, true)
}

// attackerCA is a CA the function trusts (as it trusts public CAs) that
// issued the attacker a certificate for its own address: TLS verify-full to
// the attacker's host succeeds.
func attackerCA(t *testing.T) (dbtest.CA, *tls.Config) {
	t.Helper()
	ca := dbtest.NewCA(t, attackerHost)
	return ca, fakepg.TLSConfig(t, ca)
}

// bundle writes a PEM file with the given CA files, for ROTARY_CA_BUNDLE.
func bundle(t *testing.T, caFiles ...string) string {
	t.Helper()
	var b []byte
	for _, f := range caFiles {
		pemBytes, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, pemBytes...)
	}
	path := filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// world starts the emulator with the central account and members A and B.
func world(t *testing.T) *rig.World {
	t.Helper()
	w := rig.NewWorld(localaws.Options{InvokeTimeout: time.Minute})
	t.Cleanup(w.Close)
	if err := rig.CheckLoopback(w.URL); err != nil {
		t.Fatal(err)
	}
	return w
}

// centralConfig is the central function in central mode, A and B allowed.
func centralConfig(name, caBundle string, env ...string) rig.FunctionConfig {
	return rig.FunctionConfig{
		Name:       name,
		Home:       central,
		Mode:       awsx.ModeCentral,
		Allowed:    []string{memberA, memberB},
		ExternalID: rig.ExternalID,
		CABundle:   caBundle,
		Env:        env,
	}
}

// startCentral runs the built central function under the RIE; its logs are
// shown if t fails.
func startCentral(t *testing.T, w *rig.World, cfg rig.FunctionConfig) *rig.Function {
	t.Helper()
	fn, err := w.StartFunction(t.Context(), rieBinary(t), centralFunction(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs := fn.Logs()
			if len(logs) > 6000 {
				logs = "…" + logs[len(logs)-6000:]
			}
			t.Logf("logs of %s (the end):\n%s", cfg.Name, logs)
		}
	})
	return fn
}

// secrets remembers every secret value a test planted (passwords, master
// passwords, API keys and tokens), to look for them in logs and errors.
type secrets struct{ rig.Planted }

func (s *secrets) add(vs ...string) { s.Add(vs...) }

// findLeak returns an error naming (not showing) a planted value that text holds.
func (s *secrets) findLeak(what, text string) error {
	if n, length := s.Find(text); n > 0 {
		return fmt.Errorf("%s holds secret value #%d (%d characters)", what, n, length)
	}
	return nil
}

// createSecret creates a secret in account with value v (as its owner) and
// returns its ARN.
func createSecret(t *testing.T, w *rig.World, account, name string, v secret.Value) string {
	t.Helper()
	out, err := w.SecretsManager(account).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(v.StoredJSON()),
	})
	if err != nil {
		t.Fatalf("create secret %s in %s: %v", name, account, err)
	}
	return aws.ToString(out.ARN)
}

// refused rotates s with fn and checks the refusal every attack must meet:
// the run failed, the function's error is a StepError (Lambda errorType
// "StepError", not a timeout or a crash) whose message holds every one of
// want (case-insensitive), AWSCURRENT did not move, no version became
// AWSPREVIOUS, and neither the error nor any log line holds a planted secret
// value or RotationToken. It returns the failed step's error.
func refused(t *testing.T, w *rig.World, s *rig.Secret, fn *rig.Function, planted *secrets, want ...string) string {
	t.Helper()
	r, err := w.Rotate(t.Context(), s, fn)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Outcome != localaws.Failed {
		t.Errorf("rotation of %s: outcome %s, want Failed: the attack was not refused", s.Name, r.Run.Outcome)
		return ""
	}
	last := r.Run.Steps[len(r.Run.Steps)-1]
	msg, isStepError := strings.CutPrefix(last.Error, "StepError: ")
	if !isStepError {
		t.Errorf("%s failed with %q, want errorType StepError", last.Step, last.Error)
	}
	for _, wnt := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(wnt)) {
			t.Errorf("the %s error does not mention %q: %s", last.Step, wnt, msg)
		}
	}
	t.Logf("%s refused at %s: %s", s.Name, last.Step, last.Error)
	sm := w.SecretsManager(s.Account)
	d, err := sm.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.VersionIdsToStages[r.PreviousVersion]; !slices.Contains(got, rig.StageCurrent) {
		t.Errorf("AWSCURRENT moved: the version current before has stages %v", got)
	}
	for id, st := range d.VersionIdsToStages {
		if slices.Contains(st, rig.StagePrevious) {
			t.Errorf("version %s became AWSPREVIOUS", id)
		}
	}
	noLeaks(t, fn, planted, s, last.Error)
	return msg
}

// noLeaks fails t if the function's logs or text hold a planted value, a
// password of s, or a RotationToken.
func noLeaks(t *testing.T, fn *rig.Function, planted *secrets, s *rig.Secret, text string) {
	t.Helper()
	logs := fn.Logs()
	for what, txt := range map[string]string{"step error": text, "function logs": logs} {
		if err := planted.findLeak(what, txt); err != nil {
			t.Error(err)
		}
		if s != nil {
			if err := s.FindLeak(what, txt); err != nil {
				t.Error(err)
			}
		}
		if err := fn.FindTokenLeak(what, txt); err != nil {
			t.Error(err)
		}
	}
}

// neverRead fails t if the function made any call in account (member B: the
// victim) since the last ResetCalls.
func neverRead(t *testing.T, w *rig.World, account string) {
	t.Helper()
	if n := w.AWS.Calls("", account); n != 0 {
		t.Errorf("%d calls in account %s during the attack, want 0 (GetSecretValue %d, DescribeSecret %d)",
			n, account, w.AWS.Calls("GetSecretValue", account), w.AWS.Calls("DescribeSecret", account))
	}
}

// centralNeverRead fails t if a secret of the central account was read or
// described (AssumeRole calls count under the central account as the caller;
// they are not reads of its secrets).
func centralNeverRead(t *testing.T, w *rig.World) {
	t.Helper()
	for _, op := range []string{"GetSecretValue", "DescribeSecret", "BatchGetSecretValue", "ListSecrets"} {
		if n := w.AWS.Calls(op, central); n != 0 {
			t.Errorf("%d %s calls on the central account's secrets, want 0", n, op)
		}
	}
}

// emfDimensions returns the values of every dimension named in the EMF
// records of logs.
func emfDimensions(logs string) map[string][]string {
	out := map[string][]string{}
	for line := range strings.SplitSeq(logs, "\n") {
		i := strings.Index(line, "{")
		if i < 0 || !strings.Contains(line, `"_aws"`) {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line[i:]), &rec) != nil {
			continue
		}
		meta, _ := rec["_aws"].(map[string]any)
		cwm, _ := meta["CloudWatchMetrics"].([]any)
		for _, d := range cwm {
			dir, _ := d.(map[string]any)
			sets, _ := dir["Dimensions"].([]any)
			for _, set := range sets {
				names, _ := set.([]any)
				for _, n := range names {
					name, _ := n.(string)
					out[name] = append(out[name], fmt.Sprint(rec[name]))
				}
			}
		}
	}
	return out
}

// mustListen checks that the attacker's loopback address can be used.
func mustListen(t *testing.T, host string) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("cannot listen on %s (the attacker's address): %v", host, err)
	}
	_ = ln.Close()
}
