package registry_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/registry"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/rotators/ldap"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/rotators/redis"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/shared/secret"
)

func env(m map[string]string) rotators.Deps {
	return rotators.Deps{Getenv: func(k string) string { return m[k] }}
}

func all(t *testing.T) *rotators.Registry {
	t.Helper()
	reg := &rotators.Registry{}
	if err := registry.All(reg, env(nil)); err != nil {
		t.Fatalf("All: %v", err)
	}
	return reg
}

// TestAllRoutesEveryEngine: every engine and strategy Rotary supports reaches
// the right rotator, by the rotationStrategy key or (without it) by masterarn.
func TestAllRoutesEveryEngine(t *testing.T) {
	reg := all(t)
	tests := []struct {
		engine, strategy string
		master           bool
		want             string // the rotator's type: one per engine and strategy
	}{
		{engine: "generic", want: "*generic.Rotator"},
		{engine: "postgres", want: "*postgres.SingleUser"},
		{engine: "postgres", master: true, want: "*postgres.MultiUser"},
		{engine: "postgres", strategy: rotators.SingleUser, master: true, want: "*postgres.SingleUser"},
		{engine: "aurora-postgresql", want: "*postgres.SingleUser"},
		{engine: "aurora-postgresql", strategy: rotators.AlternatingUsers, want: "*postgres.MultiUser"},
		{engine: "mysql", want: "*mysql.SingleUser"},
		{engine: "mysql", master: true, want: "*mysql.MultiUser"},
		{engine: "mysql", strategy: rotators.DualPassword, want: "*mysql.DualPassword"},
		{engine: "aurora-mysql", strategy: rotators.AlternatingUsers, want: "*mysql.MultiUser"},
		{engine: "aurora-mysql", strategy: rotators.DualPassword, want: "*mysql.DualPassword"},
		{engine: "mariadb", want: "*mysql.SingleUser"},
		{engine: "mariadb", master: true, want: "*mysql.MultiUser"},
		{engine: "MariaDB", strategy: rotators.SingleUser, want: "*mysql.SingleUser"},
		{engine: "sendgrid", want: "*saas.Rotator"},
		{engine: "twilio", want: "*saas.Rotator"},
		{engine: "okta", strategy: rotators.APIKey, want: "*saas.Rotator"},
		{engine: "iam-access-key", want: "*iamkey.Rotator"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/master=%t", tc.engine, tc.strategy, tc.master), func(t *testing.T) {
			v := secret.Value{Engine: tc.engine}
			if tc.master {
				v.MasterARN = "arn:aws:secretsmanager:us-east-1:222222222222:secret:master-AbCdEf"
			}
			if tc.strategy != "" {
				v.Set(secret.KeyStrategy, tc.strategy)
			}
			r, err := reg.Lookup(v)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			got := fmt.Sprintf("%T", r)
			if got != tc.want {
				t.Errorf("rotator = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestAllEngines: the registry lists exactly the supported engines.
func TestAllEngines(t *testing.T) {
	got := fmt.Sprint(all(t).Engines())
	want := fmt.Sprint([]string{"aurora-mysql", "aurora-postgresql", "elasticache", "entra-app-secret", "generic", "iam-access-key", "ldap", "mariadb", "mysql", "okta", "postgres", "redis", "sendgrid", "twilio"})
	if got != want {
		t.Errorf("Engines() = %s, want %s", got, want)
	}
	// The packages' own lists agree with the table above.
	var pkgs []string
	pkgs = append(pkgs, generic.Engine)
	pkgs = append(pkgs, iamkey.Engine)
	pkgs = append(pkgs, postgres.Engines...)
	pkgs = append(pkgs, mysql.Engines...)
	pkgs = append(pkgs, redis.Engines...)
	pkgs = append(pkgs, saas.Engines()...)
	pkgs = append(pkgs, elasticache.Engines...)
	pkgs = append(pkgs, ldap.Engines...)
	if len(pkgs) != len(all(t).Engines()) {
		t.Errorf("packages list %d engines %v, the registry %d", len(pkgs), pkgs, len(all(t).Engines()))
	}
}

// TestAllRefuses: an unknown engine or strategy is a clear error that names
// what is supported.
func TestAllRefuses(t *testing.T) {
	reg := all(t)
	tests := []struct {
		name string
		v    secret.Value
	}{
		{"unknown engine", secret.Value{Engine: "oracle"}},
		{"strategy the engine lacks", func() secret.Value {
			v := secret.Value{Engine: "postgres"}
			v.Set(secret.KeyStrategy, rotators.DualPassword)
			return v
		}()},
		{"unknown strategy", func() secret.Value {
			v := secret.Value{Engine: "mariadb"}
			v.Set(secret.KeyStrategy, "triple-password")
			return v
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.Lookup(tc.v)
			if !errors.Is(err, rotators.ErrNoRotator) {
				t.Fatalf("Lookup error = %v, want ErrNoRotator", err)
			}
			t.Log(err)
		})
	}
	var keyErr *secret.KeyError
	if _, err := reg.Lookup(secret.Value{}); !errors.As(err, &keyErr) || keyErr.Key != secret.KeyEngine {
		t.Errorf("Lookup without engine: error = %v, want a KeyError for %q", err, secret.KeyEngine)
	}
}

// TestAllConfigErrors: a bad setting fails registration (function start-up),
// naming the variable.
func TestAllConfigErrors(t *testing.T) {
	for _, name := range []string{"PASSWORD_LENGTH", "ROTARY_CA_BUNDLE", "ROTARY_CONNECT_TIMEOUT"} {
		t.Run(name, func(t *testing.T) {
			bad := map[string]string{
				"PASSWORD_LENGTH":        "3",
				"ROTARY_CA_BUNDLE":       "/nonexistent/ca.pem",
				"ROTARY_CONNECT_TIMEOUT": "soon",
			}
			err := registry.All(&rotators.Registry{}, env(map[string]string{name: bad[name]}))
			if err == nil {
				t.Fatalf("All with %s=%q succeeded", name, bad[name])
			}
			t.Log(err)
		})
	}
}

// TestSubsets: per-engine functions can register one strategy only.
func TestSubsets(t *testing.T) {
	pg, _ := registry.Lookup("postgres")
	reg := &rotators.Registry{}
	if err := pg.Build(reg, env(nil), rotators.SingleUser); err != nil {
		t.Fatal(err)
	}
	v := secret.Value{Engine: "postgres"}
	v.Set(secret.KeyStrategy, rotators.AlternatingUsers)
	if _, err := reg.Lookup(v); !errors.Is(err, rotators.ErrNoRotator) {
		t.Errorf("single-user only registry routed an alternating-users secret: %v", err)
	}
	for _, name := range []string{"mysql", "sendgrid", "generic"} {
		e, _ := registry.Lookup(name)
		if err := e.Build(&rotators.Registry{}, env(nil), "no-such-strategy"); err == nil {
			t.Errorf("%s with an unknown strategy succeeded", name)
		}
	}
	if err := saas.Build(&rotators.Registry{}, env(nil), "github"); err == nil {
		t.Error("SaaS with an unknown engine succeeded")
	}
}

// TestOptionalInterfaces: the shipped rotators carry exactly the optional
// methods their work needs. Database and generic rotators have no finish work
// and mint nothing (no extra Secrets Manager read); the SaaS ones mint on
// Create, undo it when it cannot be stored, and revoke the old key on Finish.
func TestOptionalInterfaces(t *testing.T) {
	for _, r := range all(t).Rotators() {
		_, finisher := r.(rotators.Finisher)
		_, minter := r.(rotators.Minter)
		_, isSaaS := r.(*saas.Rotator)
		if _, ok := r.(*iamkey.Rotator); ok {
			isSaaS = true // mints a key on Create, retires the old one on Finish
		}
		name := fmt.Sprintf("%T", r)
		if _, ok := r.(*redis.Rotator); ok { // removes the previous password at finishSecret, mints nothing
			if !finisher || minter {
				t.Errorf("%s: Finisher %t, Minter %t; want true, false", name, finisher, minter)
			}
			continue
		}
		if finisher != isSaaS || minter != isSaaS {
			t.Errorf("%s: Finisher %t, Minter %t; want both %t", name, finisher, minter, isSaaS)
		}
	}
}
