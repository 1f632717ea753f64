package rotation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// stalling is a rotator whose named method stalls like a hung target: it
// honours its context and returns only when the context ends. With huge set,
// Create then returns a pending value too large to store, so the engine must
// undo it with Discard.
type stalling struct {
	rotators.Rotator
	method string
	huge   bool

	mu           sync.Mutex
	stepDeadline time.Time // the deadline the stalled method saw
	discards     int
	discardErr   error     // the cleanup context's state when Discard started
	discardDL    time.Time // the cleanup context's deadline
}

func (s *stalling) stall(ctx context.Context, method string) error {
	if method != s.method {
		return nil
	}
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	s.stepDeadline = dl
	s.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (s *stalling) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if err := s.stall(ctx, "Create"); err != nil {
		if !s.huge {
			return rotators.CreateResponse{}, err
		}
		// Minted at the last moment: the value cannot be stored.
		p := req.Current.Clone()
		p.Set("blob", strings.Repeat("x", secret.MaxSize))
		return rotators.CreateResponse{Pending: p}, nil
	}
	return s.Rotator.Create(ctx, req)
}

func (s *stalling) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if err := s.stall(ctx, "Set"); err != nil {
		return rotators.SetResponse{}, err
	}
	return s.Rotator.Set(ctx, req)
}

func (s *stalling) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	if err := s.stall(ctx, "Test"); err != nil {
		return rotators.TestResponse{}, err
	}
	return s.Rotator.Test(ctx, req)
}

func (s *stalling) Discard(ctx context.Context, _ rotators.DiscardRequest) (rotators.DiscardResponse, error) {
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discards++
	s.discardErr = ctx.Err()
	s.discardDL = dl
	return rotators.DiscardResponse{}, nil
}

// TestStepDeadline: a rotator call that stalls is ended at the step deadline
// (the Lambda deadline minus the cleanup reserve) with a StepError that says
// so, while the invocation itself still has its reserve left for cleanup and
// the failure log.
func TestStepDeadline(t *testing.T) {
	t.Parallel() // each case waits out a deadline on its own emulator
	const reserve = time.Second
	for _, c := range []struct{ step, method string }{
		{rotation.StepCreate, "Create"},
		{rotation.StepSet, "Set"},
		{rotation.StepTest, "Test"},
	} {
		t.Run(c.step, func(t *testing.T) {
			t.Parallel()
			rot := &stalling{Rotator: generic.New(password.Default("")), method: c.method}
			env, arn := newEnv(t, rot)
			eng, err := rotation.New(rotation.Config{Clients: rotation.Static(env.SM), Rotators: env.Registry, CleanupReserve: reserve})
			if err != nil {
				t.Fatal(err)
			}
			token := env.Begin(t, arn)
			for _, step := range steps {
				if step == c.step {
					break
				}
				if err := eng.Handle(t.Context(), event(step, arn, token)); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*reserve)
			defer cancel()
			lambdaDeadline, _ := ctx.Deadline()
			err = eng.Handle(ctx, event(c.step, arn, token))
			if ctx.Err() != nil {
				t.Fatalf("the step ran into the Lambda deadline: %v", err)
			}
			if !errors.Is(err, rotation.ErrStepDeadline) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrStepDeadline wrapping context.DeadlineExceeded", err)
			}
			var se *rotation.StepError
			if !errors.As(err, &se) || se.Step != c.step {
				t.Fatalf("err = %#v, want *StepError for %s", err, c.step)
			}
			if msg := err.Error(); !strings.Contains(msg, "step deadline reached") || !strings.Contains(msg, rotation.EnvCleanupReserve) {
				t.Fatalf("error does not explain the step deadline: %v", err)
			}
			rot.mu.Lock()
			defer rot.mu.Unlock()
			if want := lambdaDeadline.Add(-reserve); !rot.stepDeadline.Equal(want) {
				t.Fatalf("rotator's deadline = %v, want Lambda deadline minus %s = %v", rot.stepDeadline, reserve, want)
			}
		})
	}
}

// TestCleanupOutlivesStepDeadline: a value minted at the step deadline that
// cannot be stored is still undone: Discard gets a live context that ends
// after the step deadline and before the Lambda deadline.
func TestCleanupOutlivesStepDeadline(t *testing.T) {
	t.Parallel()
	const reserve = time.Second
	rot := &stalling{Rotator: generic.New(password.Default("")), method: "Create", huge: true}
	env, arn := newEnv(t, rot)
	eng, err := rotation.New(rotation.Config{Clients: rotation.Static(env.SM), Rotators: env.Registry, CleanupReserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	token := env.Begin(t, arn)
	ctx, cancel := context.WithTimeout(t.Context(), 3*reserve)
	defer cancel()
	lambdaDeadline, _ := ctx.Deadline()
	err = eng.Handle(ctx, event(rotation.StepCreate, arn, token))
	if !errors.Is(err, rotation.ErrPendingTooLarge) {
		t.Fatalf("err = %v, want ErrPendingTooLarge", err)
	}
	rot.mu.Lock()
	defer rot.mu.Unlock()
	if rot.discards != 1 {
		t.Fatalf("Discard calls = %d, want 1", rot.discards)
	}
	if rot.discardErr != nil {
		t.Fatalf("Discard started with a dead context: %v", rot.discardErr)
	}
	if !rot.discardDL.After(rot.stepDeadline) || !rot.discardDL.Before(lambdaDeadline) {
		t.Fatalf("cleanup deadline %v is not between the step deadline %v and the Lambda deadline %v", rot.discardDL, rot.stepDeadline, lambdaDeadline)
	}
}

func TestCleanupReserveFromEnv(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "", want: rotation.DefaultCleanupReserve},
		{in: "20s", want: 20 * time.Second},
		{in: " 45s ", want: 45 * time.Second},
		{in: "1s", want: time.Second},
		{in: "10m", want: 10 * time.Minute},
		{in: "garbage", wantErr: true},
		{in: "20", wantErr: true},
		{in: "-5s", wantErr: true},
		{in: "0", wantErr: true},
		{in: "500ms", wantErr: true},
		{in: "11m", wantErr: true},
		{in: "1e9h", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := rotation.CleanupReserveFromEnv(func(k string) string {
				if k == rotation.EnvCleanupReserve {
					return c.in
				}
				return ""
			})
			if c.wantErr {
				if !errors.Is(err, rotation.ErrConfig) {
					t.Fatalf("CleanupReserveFromEnv(%q) = %v, %v; want ErrConfig", c.in, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("CleanupReserveFromEnv(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
	if _, err := rotation.New(rotation.Config{Clients: rotation.Static(nil), Rotators: rotationtest.New(t, generic.New(password.Default(""))).Registry, CleanupReserve: -time.Second}); !errors.Is(err, rotation.ErrConfig) {
		t.Fatalf("New with a negative reserve: err = %v, want ErrConfig", err)
	}
}
