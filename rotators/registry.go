package rotators

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// Rotation strategies, the values of a secret's rotationStrategy key.
const (
	// SingleUser changes the password of the secret's own user.
	SingleUser = "single-user"
	// AlternatingUsers switches between a user and its _clone, set by a master user.
	AlternatingUsers = "alternating-users"
	// DualPassword keeps the old password valid beside the new one (MySQL 8.0.14+).
	DualPassword = "dual-password"
	// APIKey mints a new SaaS API key and revokes the old one a rotation later.
	APIKey = "api-key"
)

// ErrNoRotator is returned by Lookup when no registered rotator handles a secret.
var ErrNoRotator = errors.New("no rotator for this secret")

// Registry routes a secret to a Rotator by its engine key and strategy. The zero
// value is empty and ready to use. A Registry must not be changed once lookups
// start.
type Registry struct {
	entries []entry
	// master is, per engine, the strategy a secret with masterarn and no
	// rotationStrategy gets when it is not AlternatingUsers.
	master map[string]string
}

type entry struct {
	engine   string
	strategy string
	rotator  Rotator
}

// AnyEngine registers a rotator for every engine that has no rotator of its
// own. Tests use it to route any secret to one rotator.
const AnyEngine = "*"

// Register adds r for each engine (matched without regard to case) with the
// given strategy.
func (g *Registry) Register(r Rotator, strategy string, engines ...string) {
	for _, e := range engines {
		g.entries = append(g.entries, entry{engine: strings.ToLower(e), strategy: strategy, rotator: r})
	}
}

// MasterStrategy names the strategy a secret of engines gets when it has
// masterarn and no rotationStrategy, for an engine whose master-driven
// strategy is not AlternatingUsers (LDAP's admin-password).
func (g *Registry) MasterStrategy(strategy string, engines ...string) {
	if g.master == nil {
		g.master = map[string]string{}
	}
	for _, e := range engines {
		g.master[strings.ToLower(e)] = strategy
	}
}

// Engines lists the registered engine names, sorted, without repeats.
func (g *Registry) Engines() []string {
	var out []string
	for _, e := range g.entries {
		out = append(out, e.engine)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Rotators lists the registered rotators, each once, in registration order.
func (g *Registry) Rotators() []Rotator {
	var out []Rotator
	for _, e := range g.entries {
		if !slices.Contains(out, e.rotator) {
			out = append(out, e.rotator)
		}
	}
	return out
}

// AnyFinisher reports whether some registered rotator implements Finisher.
func (g *Registry) AnyFinisher() bool {
	for _, e := range g.entries {
		if _, ok := e.rotator.(Finisher); ok {
			return true
		}
	}
	return false
}

// Lookup returns the rotator for v. The strategy is v's rotationStrategy key;
// when the key is absent and the engine has one strategy, that one is used;
// when it has several, a secret with masterarn means alternating-users (or
// the engine's MasterStrategy) and one without means single-user (as AWS's
// templates are chosen).
func (g *Registry) Lookup(v secret.Value) (Rotator, error) {
	engine := strings.ToLower(v.Engine)
	if engine == "" {
		engine = implicitEngine(v)
	}
	if engine == "" {
		return nil, &secret.KeyError{Key: secret.KeyEngine, Problem: "is missing or empty"}
	}
	var matches []entry
	for _, e := range g.entries {
		if e.engine == engine {
			matches = append(matches, e)
		}
	}
	if len(matches) == 0 {
		for _, e := range g.entries {
			if e.engine == AnyEngine {
				matches = append(matches, e)
			}
		}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%w: engine %q is not supported here (supported: %s)", ErrNoRotator, v.Engine, strings.Join(g.Engines(), ", "))
	}
	want := v.Strategy()
	if want == "" {
		if len(matches) == 1 {
			return matches[0].rotator, nil
		}
		want = SingleUser
		if v.MasterARN != "" {
			want = AlternatingUsers
			if s, ok := g.master[engine]; ok {
				want = s
			}
		}
	}
	for _, e := range matches {
		if e.strategy == want {
			return e.rotator, nil
		}
	}
	var have []string
	for _, e := range matches {
		have = append(have, e.strategy)
	}
	return nil, fmt.Errorf("%w: engine %q has no strategy %q here (supported: %s)", ErrNoRotator, v.Engine, want, strings.Join(have, ", "))
}

// implicitEngine is the engine of a secret AWS's own template leaves without
// an engine key: an ElastiCache RBAC user secret (AWS's
// SecretsManagerElasticacheUserRotation) holds user_arn, an ElastiCache user
// ARN, and no engine. "" when there is none.
func implicitEngine(v secret.Value) string {
	if a, ok := v.Get("user_arn"); ok && strings.HasPrefix(a, "arn:") && strings.Contains(a, ":elasticache:") {
		return "elasticache"
	}
	return ""
}
