package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The binaries are built once per test binary, into buildDir, and the
// database servers are shared by every test (each test makes its own users).
var (
	buildDir    string
	builds      sync.Map // name -> *buildResult
	buildCtx    context.Context
	buildCancel context.CancelFunc
	prebuilding sync.WaitGroup
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rotary-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	// Start every build now, so they overlap with the database servers'
	// start-up; a test needing a binary waits for its build only.
	buildCtx, buildCancel = context.WithCancel(context.Background())
	flag.Parse()
	if !testing.Short() { // -short skips every test here (dbtest.NeedsServers)
		prebuild()
	}
	code := m.Run()
	buildCancel() // builds a -run selection did not need
	prebuilding.Wait()
	dbtest.StopSharedPostgres()
	dbtest.StopSharedMariaDB()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// built returns the binary for key, building it with fn on first use.
// t may be nil (prebuild): then a failure is only recorded.
func built(t *testing.T, key string, fn func(ctx context.Context) (string, error)) string {
	if t != nil {
		dbtest.NeedsServers(t)
	}
	v, _ := builds.LoadOrStore(key, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(buildCtx, 5*time.Minute)
		defer cancel()
		b.path, b.err = fn(ctx)
	})
	if b.err != nil && t != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// prebuild starts the builds every test here needs, in the background.
func prebuild() {
	for _, f := range []func(*testing.T) string{rieBinary, centralFunction, genericFunction, dropTokenFunction} {
		prebuilding.Go(func() { _ = f(nil) })
	}
}

// rieBinary is the pinned Runtime Interface Emulator, built for the host.
func rieBinary(t *testing.T) string {
	return built(t, "rie", func(ctx context.Context) (string, error) { return lambdarie.BuildRIE(ctx, buildDir) })
}

// function returns the bootstrap of functions/<name>.
func function(t *testing.T, name string) string {
	return built(t, name, func(ctx context.Context) (string, error) { return lambdarie.BuildFunction(ctx, buildDir, name) })
}

func centralFunction(t *testing.T) string { return function(t, "central") }

func genericFunction(t *testing.T) string { return function(t, "generic") }

// dropTokenFunction returns the bootstrap of the test-only function that
// blanks RotationToken.
func dropTokenFunction(t *testing.T) string {
	return built(t, "droptoken", func(ctx context.Context) (string, error) {
		return lambdarie.BuildPackage(ctx, buildDir, "droptoken", "./functions/internal/droptoken")
	})
}

// targets returns the shared PostgreSQL and MariaDB servers (dbtest checks
// at start that each refuses a wrong password; so do we, from here) and a CA
// bundle trusting both.
func targets(t *testing.T) (rig.Postgres, rig.MariaDB, string) {
	t.Helper()
	dbtest.NeedsServers(t) // here, not in the goroutines below
	var pg rig.Postgres
	var maria rig.MariaDB
	var wg sync.WaitGroup
	wg.Add(2)
	// Start both servers at once: the first test pays for the slower one
	// only. A start-up failure marks t failed (dbtest's Fatalf ends only its
	// goroutine) and is caught below.
	go func() { defer wg.Done(); pg.DB = dbtest.SharedPostgres(t) }()
	go func() { defer wg.Done(); maria.DB = dbtest.SharedMariaDB(t) }()
	wg.Wait()
	if pg.DB == nil || maria.DB == nil {
		t.Fatal("the database servers did not start (see above)")
	}
	for _, tg := range []rig.Target{pg, maria} {
		if err := tg.CheckPasswordEnforced(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
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
