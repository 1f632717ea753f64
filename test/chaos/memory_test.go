package chaos_test

import (
	"context"
	"testing"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// memStrategy is a single-user database held in memory; with broken, its
// rotator changes the password in createSecret.
func memStrategy(broken bool) chaos.Strategy {
	name := "memdb-single"
	if broken {
		name = "memdb-broken"
	}
	return chaos.Strategy{
		Name:       name,
		SingleUser: true,
		Triggers:   []string{"ALTER ROLE"},
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			pw := "initial-" + rotationtest.NewToken()[:16]
			db := chaos.NewMemDB("app", pw)
			var rot = any(&chaos.MemRotator{DB: db})
			if broken {
				rot = &chaos.Broken{Rotator: &chaos.MemRotator{DB: db}, Change: func(_ context.Context, u, p string) error {
					db.Force(u, p)
					return nil
				}}
			}
			env := rotationtest.New(t, rot, opts)
			arn := env.CreateSecret(t, "chaos/memdb", secret.Value{Engine: chaos.MemEngine, Username: "app", Password: pw})
			return &chaos.Case{Env: env, ARN: arn, Target: db, Arm: db.Arm}
		},
	}
}

// TestMemDB runs every fault point of every step, database faults included,
// against the in-memory single-user database.
func TestMemDB(t *testing.T) {
	strat := memStrategy(false)
	calls := chaos.Discover(t, strat)
	runAll(t, strat, chaos.Enumerate(calls, strat.Triggers, retries(), chaos.Full()))
}

// TestBrokenRotatorIsCaught is the suite's own check: a rotator that changes
// the password in createSecret must make the checker report violations — on
// the happy path (AWSCURRENT stops authenticating between steps) and when
// the pending value cannot be stored (a credential no version holds).
func TestBrokenRotatorIsCaught(t *testing.T) {
	strat := memStrategy(true)
	for _, s := range []chaos.Schedule{
		{Step: "testSecret", Kind: chaos.SMThrottled, Op: "GetSecretValue", Nth: 1, Retry: chaos.RetrySequence},
		{Step: "createSecret", Kind: chaos.SMRefused, Op: "PutSecretValue", Nth: 1, Retry: chaos.RetrySequence},
	} {
		t.Run(s.String(), func(t *testing.T) {
			res := chaos.Run(t, strat, s)
			if len(res.Violations) == 0 {
				t.Fatalf("the checker saw no violation from a rotator that changes the password in createSecret (%d observations)", res.Observed)
			}
			t.Logf("caught, as it should be: %q", res.Violations)
		})
	}
}
