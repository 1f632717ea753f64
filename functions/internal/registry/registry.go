package registry

import (
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/shared/password"
)

// Func adds rotators to reg, reading their settings through getenv. It has the
// shape of lambdamain.Register.
type Func func(reg *rotators.Registry, getenv func(string) string) error

// All registers every engine and strategy Rotary supports (see the package
// documentation). It is what functions/central runs.
func All(reg *rotators.Registry, getenv func(string) string) error {
	for _, f := range []struct {
		name string
		add  Func
	}{
		{"generic", Generic},
		{"postgres", Postgres()},
		{"mysql", MySQL()},
		{"saas", SaaS()},
	} {
		if err := f.add(reg, getenv); err != nil {
			return fmt.Errorf("register %s rotators: %w", f.name, err)
		}
	}
	return nil
}

// Generic registers the rotator of "generic" secrets (a random value that
// lives only in Secrets Manager), with the password policy of AWS's template
// variables.
func Generic(reg *rotators.Registry, getenv func(string) string) error {
	policy, err := password.FromEnv(getenv, "")
	if err != nil {
		return err
	}
	generic.Register(reg, policy)
	return nil
}

// Postgres returns a Func registering the PostgreSQL rotators (engines
// postgres and aurora-postgresql) for the given strategies, or for all of
// them (single-user, alternating-users) when none is given.
func Postgres(strategies ...string) Func {
	return func(reg *rotators.Registry, getenv func(string) string) error {
		return postgres.RegisterFromEnv(reg, getenv, strategies...)
	}
}

// MySQL returns a Func registering the MySQL rotators (engines mysql,
// aurora-mysql and mariadb) for the given strategies, or for all of them
// (single-user, alternating-users, dual-password) when none is given.
func MySQL(strategies ...string) Func {
	return func(reg *rotators.Registry, getenv func(string) string) error {
		return mysql.RegisterFromEnv(reg, getenv, strategies...)
	}
}

// SaaS returns a Func registering the API-key rotators of the given SaaS
// engines (sendgrid, twilio, okta), or of all of them when none is given.
func SaaS(engines ...string) Func {
	return func(reg *rotators.Registry, getenv func(string) string) error {
		return saas.RegisterFromEnv(reg, getenv, engines...)
	}
}
