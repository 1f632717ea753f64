package e2e

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// builds holds the binaries, built once per test binary; the database
// servers are shared by every test (each test makes its own users).
var builds *lambdarie.Builds

func TestMain(m *testing.M) {
	builds = lambdarie.MustNewBuilds("rotary-e2e-")
	// Start every build now, so they overlap with the database servers'
	// start-up; a test needing a binary waits for its build only.
	flag.Parse()
	if !testing.Short() { // -short skips every test here (dbtest.NeedsServers)
		builds.Prebuild(func() { _, _ = builds.RIE() }, func() { _, _ = builds.Function("central") },
			func() { _, _ = builds.Function("generic") }, func() { _, _ = builds.Package(dropToken, dropTokenPkg) })
	}
	code := m.Run()
	builds.Close()
	dbtest.StopSharedPostgres()
	dbtest.StopSharedMariaDB()
	os.Exit(code)
}

// rieBinary is the pinned Runtime Interface Emulator, built for the host.
func rieBinary(t *testing.T) string {
	dbtest.NeedsServers(t)
	return lambdarie.Need(t, builds.RIE)
}

// function returns the bootstrap of functions/<name>.
func function(t *testing.T, name string) string {
	dbtest.NeedsServers(t)
	return lambdarie.Need(t, func() (string, error) { return builds.Function(name) })
}

// The test-only function that blanks RotationToken.
const (
	dropToken    = "droptoken"
	dropTokenPkg = "./functions/internal/droptoken"
)

// dropTokenFunction returns the bootstrap of the test-only function that
// blanks RotationToken.
func dropTokenFunction(t *testing.T) string {
	dbtest.NeedsServers(t)
	return lambdarie.Need(t, func() (string, error) { return builds.Package(dropToken, dropTokenPkg) })
}

// targets returns the shared PostgreSQL and MariaDB servers (dbtest checks
// at start that each refuses a wrong password; so does rig.Targets, from
// here) and a CA bundle trusting both.
func targets(t *testing.T) (rig.Postgres, rig.MariaDB, string) {
	t.Helper()
	dbtest.NeedsServers(t) // here, not in rig.Targets' goroutines
	pg, maria := rig.Targets(t, true)
	bundle := filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := rig.WriteCABundle(bundle, pg, maria); err != nil {
		t.Fatal(err)
	}
	return pg, maria, bundle
}

// world starts the standard world (central + two members) for one test.
func world(t *testing.T) *rig.World {
	t.Helper()
	w := rig.NewWorld(localaws.Options{})
	t.Cleanup(w.Close)
	if err := rig.CheckLoopback(w.URL); err != nil {
		t.Fatal(err)
	}
	return w
}

// startFunction runs bootstrap with cfg in w; its logs are shown if t fails.
func startFunction(t *testing.T, w *rig.World, bootstrap string, cfg rig.FunctionConfig) *rig.Function {
	t.Helper()
	fn, err := w.StartFunction(t.Context(), rieBinary(t), bootstrap, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of %s:\n%s", cfg.Name, fn.Logs())
		}
	})
	return fn
}

// startUnderRIE starts the built function name under the RIE against aws0,
// signed with creds, with env on top of the region, credentials and
// endpoint, and registers it with aws0 as function name of account. It
// returns the function and its ARN.
func startUnderRIE(t *testing.T, aws0 *localaws.Server, creds localaws.Credentials, account, name string, env ...string) (*lambdarie.Function, string) {
	t.Helper()
	rie, boot := rieBinary(t), function(t, name)
	fn, err := lambdarie.Start(t.Context(), rie, boot, append([]string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + aws0.URL,
	}, env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	arn := "arn:aws:lambda:us-east-1:" + account + ":function:" + name
	aws0.RegisterFunction(arn, localaws.HTTPFunction(fn.InvokeURL))
	return fn, arn
}
