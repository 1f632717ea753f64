package rig

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/rotary-secrets/rotary/test/dbtest"
)

// StartPostgres starts a throwaway PostgreSQL server (test/dbtest) outside
// any test, for the demo and other programs, and checks that it refuses a
// wrong password. stop shuts it down and removes its files; call it even
// when err is not nil.
func StartPostgres(ctx context.Context) (pg Postgres, stop func(), err error) {
	tb := newProgramTB(ctx, "postgres")
	err = tb.run(func() { pg = Postgres{DB: dbtest.StartPostgres(tb)} })
	if err == nil {
		err = pg.CheckPasswordEnforced(ctx)
	}
	return pg, tb.cleanup, err
}

// StartMariaDB starts a throwaway MariaDB server (test/dbtest) outside any
// test and checks that it refuses a wrong password. stop shuts it down and
// removes its files; call it even when err is not nil.
func StartMariaDB(ctx context.Context) (m MariaDB, stop func(), err error) {
	tb := newProgramTB(ctx, "mariadb")
	err = tb.run(func() { m = MariaDB{DB: dbtest.StartMariaDB(tb)} })
	if err == nil {
		err = m.CheckPasswordEnforced(ctx)
	}
	return m, tb.cleanup, err
}

// programTB lets a program call test/dbtest's start-up functions, which take
// a testing.TB: it implements the methods they use (Helper, Fatalf, TempDir,
// Cleanup, Context, logging); Fatal* end the call run wraps with an error;
// cleanup runs the registered functions, last first. Any other testing.TB
// method panics (the embedded interface is nil), which run also reports.
type programTB struct {
	testing.TB
	ctx  context.Context
	name string

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

type fatal struct{ msg string }

func newProgramTB(ctx context.Context, name string) *programTB {
	return &programTB{ctx: ctx, name: name}
}

// run calls fn and turns a Fatal or a panic into an error.
func (t *programTB) run(fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if f, ok := p.(fatal); ok {
				err = fmt.Errorf("%s: %s", t.name, f.msg)
				return
			}
			err = fmt.Errorf("%s: start-up failed: %v", t.name, p)
		}
	}()
	fn()
	return nil
}

func (t *programTB) cleanup() {
	t.mu.Lock()
	fns := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

func (t *programTB) Helper()                  {}
func (t *programTB) Name() string             { return t.name }
func (t *programTB) Context() context.Context { return t.ctx }
func (t *programTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}
func (t *programTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}
func (t *programTB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}
func (t *programTB) FailNow() { t.Fail(); panic(fatal{"failed"}) }
func (t *programTB) Fatalf(format string, args ...any) {
	t.Fail()
	panic(fatal{fmt.Sprintf(format, args...)})
}
func (t *programTB) Fatal(args ...any) { t.Fail(); panic(fatal{fmt.Sprint(args...)}) }
func (t *programTB) Errorf(format string, args ...any) {
	t.Fail()
	fmt.Fprintf(os.Stderr, "%s: %s\n", t.name, fmt.Sprintf(format, args...))
}
func (t *programTB) Error(args ...any)               { t.Errorf("%s", fmt.Sprint(args...)) }
func (t *programTB) Logf(format string, args ...any) {}
func (t *programTB) Log(args ...any)                 {}
func (t *programTB) TempDir() string {
	dir, err := os.MkdirTemp("", "rotary-demo-"+t.name+"-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Targets starts PostgreSQL and MariaDB at once (the servers shared by the
// test binary, dbtest.SharedPostgres/SharedMariaDB, or with shared false
// throwaway ones for t) and checks that each refuses a wrong password; any
// failure fails t. The first test pays for the slower server only.
func Targets(t *testing.T, shared bool) (Postgres, MariaDB) {
	t.Helper()
	// Skip here, in the test's goroutine: the servers start in goroutines of
	// their own, where a skip would read as a start-up failure.
	dbtest.NeedsServers(t)
	startPG, startMaria := dbtest.StartPostgres, dbtest.StartMariaDB
	if shared {
		startPG, startMaria = dbtest.SharedPostgres, dbtest.SharedMariaDB
	}
	var pg Postgres
	var maria MariaDB
	var wg sync.WaitGroup
	// A start-up failure marks t failed (dbtest's Fatalf ends only its
	// goroutine) and is caught below.
	wg.Go(func() { pg.DB = startPG(t) })
	wg.Go(func() { maria.DB = startMaria(t) })
	wg.Wait()
	if pg.DB == nil || maria.DB == nil {
		t.Fatal("the database servers did not start (see above)")
	}
	for _, tg := range []Target{pg, maria} {
		if err := tg.CheckPasswordEnforced(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return pg, maria
}
