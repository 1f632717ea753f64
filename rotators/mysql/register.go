package mysql

import (
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
)

// Register adds a rotator for each strategy (single-user, alternating-users,
// dual-password; all three when none is given) under every engine in Engines.
func Register(reg *rotators.Registry, cfg Config, strategies ...string) error {
	if len(strategies) == 0 {
		strategies = []string{rotators.SingleUser, rotators.AlternatingUsers, rotators.DualPassword}
	}
	for _, s := range strategies {
		var r rotators.Rotator
		switch s {
		case rotators.SingleUser:
			r = NewSingleUser(cfg)
		case rotators.AlternatingUsers:
			r = NewMultiUser(cfg)
		case rotators.DualPassword:
			r = NewDualPassword(cfg)
		default:
			return fmt.Errorf("mysql: unknown rotation strategy %q", s)
		}
		reg.Register(r, s, Engines...)
	}
	return nil
}

// Build is start-up's way in: it reads the Config with ConfigFromEnv through
// deps.Getenv, takes the RDS endpoint resolver from deps.Endpoints, and
// registers the strategies as Register does.
func Build(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
	cfg, err := ConfigFromEnv(deps.Env)
	if err != nil {
		return err
	}
	cfg.Endpoints = deps.Endpoints
	return Register(reg, cfg, strategies...)
}
