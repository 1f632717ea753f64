package rotatortest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// memAdapter is the kit's adapter for test/chaos's in-memory single-user
// database; wrap, when set, breaks its rotator.
func memAdapter(name string, wrap func(r rotators.Rotator, db *chaos.MemDB) rotators.Rotator) rotatortest.Adapter {
	return rotatortest.Adapter{
		Name:           name,
		SingleUser:     true,
		IdentifierKeys: []string{secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			pw := "initial-" + rotationtest.NewToken()[:16]
			db := chaos.NewMemDB("app", pw)
			var rot rotators.Rotator = &chaos.MemRotator{DB: db}
			if wrap != nil {
				rot = wrap(rot, db)
			}
			var reg rotators.Registry
			reg.Register(rot, rotators.SingleUser, chaos.MemEngine)
			return &rotatortest.Target{
				Rotators: &reg,
				Value:    secret.Value{Engine: chaos.MemEngine, Username: "app", Password: pw},
				Login: func(ctx context.Context, v secret.Value) error {
					if ok, _ := db.Authenticates(ctx, v); !ok {
						return chaos.ErrDenied
					}
					return nil
				},
				Credentials: db.Users,
			}
		},
	}
}

// TestConformingRotatorPasses: the in-memory rotator, written like the real
// ones, passes every case.
func TestConformingRotatorPasses(t *testing.T) {
	a := memAdapter("memdb", nil)
	r := rotatortest.Run(t, a)
	if r.Violations != 0 || r.Cases == 0 || r.Observations == 0 {
		t.Fatalf("result %s", r)
	}
	// Every kind of case is there: a fault point per Secrets Manager call of
	// each step, a hostile case per identifier.
	kinds := map[string]int{}
	for _, c := range rotatortest.Cases(t, a) {
		kinds[strings.SplitN(c.Name, "/", 2)[0]]++
	}
	if kinds["happy-path"] != 1 || kinds["each-step-twice"] != 1 || kinds["fault"] < len(chaos.Steps) || kinds["hostile"] != len(rotatortest.Hostile) {
		t.Errorf("cases by kind %v", kinds)
	}
}

// setNoop does nothing in Set.
type setNoop struct{ rotators.Rotator }

func (setNoop) Set(context.Context, rotators.SetRequest) (rotators.SetResponse, error) {
	return rotators.SetResponse{}, nil
}

// extraUser leaves a second account behind in Create.
type extraUser struct {
	rotators.Rotator
	db *chaos.MemDB
}

func (e extraUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	resp, err := e.Rotator.Create(ctx, req)
	e.db.Force(req.Current.Username+"_extra", resp.Pending.Password)
	return resp, err
}

// unchecked sets whatever user the secret names, creating it, without
// checking the current credential.
type unchecked struct {
	rotators.Rotator
	db *chaos.MemDB
}

func (u unchecked) Set(_ context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	u.db.Force(req.Pending.Username, req.Pending.Password)
	return rotators.SetResponse{}, nil
}

// setOnce refuses a second Set of the same pending value: not safe to call
// twice.
type setOnce struct {
	rotators.Rotator
	db *chaos.MemDB
}

func (o setOnce) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if ok, _ := o.db.Authenticates(ctx, req.Pending); ok {
		return rotators.SetResponse{}, errors.New("the pending password is already set")
	}
	return o.Rotator.Set(ctx, req)
}

// TestBrokenRotatorsFail: each deliberately broken rotator makes the kit
// fail, in the cases that should catch it.
func TestBrokenRotatorsFail(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(rotators.Rotator, *chaos.MemDB) rotators.Rotator
	}{
		{"set-does-nothing", func(r rotators.Rotator, _ *chaos.MemDB) rotators.Rotator { return setNoop{r} }},
		{"create-changes-the-target", func(r rotators.Rotator, db *chaos.MemDB) rotators.Rotator {
			return &chaos.Broken{Rotator: r, Change: func(_ context.Context, u, p string) error { db.Force(u, p); return nil }}
		}},
		{"create-leaves-an-extra-user", func(r rotators.Rotator, db *chaos.MemDB) rotators.Rotator { return extraUser{r, db} }},
		{"set-trusts-the-username", func(r rotators.Rotator, db *chaos.MemDB) rotators.Rotator { return unchecked{r, db} }},
		{"set-not-idempotent", func(r rotators.Rotator, db *chaos.MemDB) rotators.Rotator { return setOnce{r, db} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := memAdapter(tc.name, tc.wrap)
			var cases []rotatortest.Case
			if rec := record(t, func(tb testing.TB) { cases = rotatortest.Cases(tb, a) }); rec.failed() {
				t.Logf("the kit failed it while finding its fault points: %q", rec.msgs)
				return
			}
			failing := 0
			var r rotatortest.Result
			for _, c := range cases {
				rec := record(t, func(tb testing.TB) { c.Run(tb, &r) })
				if rec.failed() {
					failing++
					if failing <= 2 {
						t.Logf("case %s failed it, as it should: %q", c.Name, rec.msgs[0])
					}
				}
			}
			if failing == 0 {
				t.Fatalf("no case of %d failed a broken rotator (%s)", len(cases), r)
			}
			t.Logf("%d of %d cases failed it", failing, len(cases))
		})
	}
}

// recorder is a testing.TB whose failures are recorded instead of reported.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
	fail bool
}

// record runs fn under a recorder in its own goroutine (so Fatal can stop it).
func record(t *testing.T, fn func(testing.TB)) *recorder {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec
}

func (r *recorder) note(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = true
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fail
}

func (r *recorder) Error(args ...any)                 { r.note(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.note(fmt.Sprintf(format, args...)) }
func (r *recorder) Fail()                             { r.note("Fail") }
func (r *recorder) Failed() bool                      { return r.failed() }
func (r *recorder) FailNow()                          { r.note("FailNow"); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)                 { r.note(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.note(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recorder) Helper() {}
