// Package functest checks a function's register step against the engine
// table (registry.Table): which engines and strategies the function carries,
// and which settings stop it at start-up.
// Every functions/<name> test uses it. It is test support: no function links it.
package functest

import (
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/functions/internal/registry"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Env is one environment to start a function with.
type Env struct {
	Name    string
	Vars    map[string]string
	WantErr bool // the function must refuse to start
}

// allStrategies are every strategy a secret may ask for.
var allStrategies = []string{rotators.SingleUser, rotators.AlternatingUsers, rotators.DualPassword, rotators.APIKey}

// Function checks the function name's register step against its row of
// registry.Table: in each environment that must start, it carries exactly
// the row's engine key values, each with exactly the function's strategies.
func Function(t *testing.T, name string, register lambdamain.Register, envs []Env) {
	t.Helper()
	row, fn, ok := registry.FunctionNamed(name)
	if !ok {
		t.Fatalf("function %s is in no row of registry.Table", name)
	}
	Register(t, register, envs, row.Engines, fn.Strategies)
}

// Register runs register in each environment. When it must start, the
// registry must hold exactly engines, and each engine exactly strategies:
// a secret asking for any other strategy is refused.
func Register(t *testing.T, register lambdamain.Register, envs []Env, engines, strategies []string) {
	t.Helper()
	for _, env := range envs {
		t.Run(env.Name, func(t *testing.T) {
			var reg rotators.Registry
			err := register(&reg, rotators.Deps{Getenv: func(k string) string { return env.Vars[k] }})
			if (err != nil) != env.WantErr {
				t.Fatalf("register() = %v, want error %v", err, env.WantErr)
			}
			if env.WantErr {
				return
			}
			want := slices.Sorted(slices.Values(engines))
			if got := reg.Engines(); !slices.Equal(got, want) {
				t.Errorf("engines = %v, want %v", got, want)
			}
			for _, engine := range engines {
				for _, s := range allStrategies {
					v := secret.Value{Engine: engine}
					v.Set(secret.KeyStrategy, s)
					_, err := reg.Lookup(v)
					if carried := slices.Contains(strategies, s); carried != (err == nil) {
						t.Errorf("Lookup(%s, %s): err = %v, want carried = %v", engine, s, err, carried)
					}
				}
			}
		})
	}
}
