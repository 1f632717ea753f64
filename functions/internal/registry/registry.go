package registry

import (
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

// Func adds rotators to reg, built with deps. It is a rotators.Builder, the
// shape of lambdamain.Register.
type Func = rotators.Builder

// All registers every engine and strategy Rotary supports (see the package
// documentation). It is what functions/central runs.
func All(reg *rotators.Registry, deps rotators.Deps) error {
	for _, f := range []struct {
		name string
		add  Func
	}{
		{"generic", Generic},
		{"postgres", Postgres()},
		{"mysql", MySQL()},
		{"saas", SaaS()},
	} {
		if err := f.add(reg, deps); err != nil {
			return fmt.Errorf("register %s rotators: %w", f.name, err)
		}
	}
	return nil
}

// Generic registers the rotator of "generic" secrets (a random value that
// lives only in Secrets Manager), with the password policy of AWS's template
// variables.
func Generic(reg *rotators.Registry, deps rotators.Deps) error {
	return generic.Build(reg, deps)
}

// Postgres returns a Func registering the PostgreSQL rotators (engines
// postgres and aurora-postgresql) for the given strategies, or for all of
// them (single-user, alternating-users) when none is given.
func Postgres(strategies ...string) Func {
	return func(reg *rotators.Registry, deps rotators.Deps) error {
		return postgres.Build(reg, deps, strategies...)
	}
}

// MySQL returns a Func registering the MySQL rotators (engines mysql,
// aurora-mysql and mariadb) for the given strategies, or for all of them
// (single-user, alternating-users, dual-password) when none is given.
func MySQL(strategies ...string) Func {
	return func(reg *rotators.Registry, deps rotators.Deps) error {
		return mysql.Build(reg, deps, strategies...)
	}
}

// SaaS returns a Func registering the API-key rotators of the given SaaS
// engines (sendgrid, twilio, okta, entra-app-secret), or of all of them when
// none is given.
func SaaS(engines ...string) Func {
	return func(reg *rotators.Registry, deps rotators.Deps) error {
		return saas.Build(reg, deps, engines...)
	}
}
