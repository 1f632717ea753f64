package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/rotators/ldap"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/rotators/redis"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

// Engine is one row of Table: everything start-up, the templates, the
// Makefile and the README need to know about one engine.
type Engine struct {
	// Name names the row: the rotator package's directory under rotators/,
	// or the provider's engine key for a SaaS adapter.
	Name string
	// Package is the rotator package, relative to the module root.
	Package string
	// Engines are the values of a secret's engine key the row rotates.
	Engines []string
	// Strategies are the rotation strategies it carries, the one a secret
	// without rotationStrategy (and without masterarn) gets first.
	Strategies []string
	// Functions are its per-engine functions (functions/<Name>/main.go),
	// each with the strategies it carries. The central function carries
	// every row with every strategy.
	Functions []Function
	// Identifiers are the secret keys, beyond AWS's own (engine, host, port,
	// username, dbname, ssl, masterarn, dbClusterIdentifier,
	// dbInstanceIdentifier), whose values identify and never authenticate:
	// logs may show them and redaction leaves them alone
	// (shared/secret.IdentifierKeys holds the same keys).
	Identifiers []string
	// Build registers the row's rotators for the given strategies (all of
	// Strategies when none is given), built with deps.
	Build func(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error
}

// Function is a per-engine function and the strategies it carries.
type Function struct {
	Name       string
	Strategies []string
}

// Table is Rotary's list of engines: the registry is built from it, and tests
// check the README's engine table, the per-account template's Rotator values,
// the functions/ directories (the Makefile builds one bootstrap per
// directory) and every function's registrations against it. Adding an engine
// is one rotator package, one row here and one functions/<name>/main.go.
var Table = []Engine{
	{
		Name: "postgres", Package: "rotators/postgres", Engines: postgres.Engines,
		Strategies: []string{rotators.SingleUser, rotators.AlternatingUsers},
		Functions: []Function{
			{Name: "postgres-single", Strategies: []string{rotators.SingleUser}},
			{Name: "postgres-multi", Strategies: []string{rotators.AlternatingUsers}},
		},
		Build: postgres.Build,
	},
	{
		Name: "mysql", Package: "rotators/mysql", Engines: mysql.Engines,
		Strategies: []string{rotators.SingleUser, rotators.AlternatingUsers, rotators.DualPassword},
		Functions: []Function{
			{Name: "mysql-single", Strategies: []string{rotators.SingleUser, rotators.DualPassword}},
			{Name: "mysql-multi", Strategies: []string{rotators.AlternatingUsers}},
		},
		Build: mysql.Build,
	},
	{
		Name: "redis", Package: "rotators/redis", Engines: redis.Engines,
		Strategies: []string{rotators.SingleUser, rotators.AlternatingUsers},
		Functions:  []Function{{Name: "redis", Strategies: []string{rotators.SingleUser, rotators.AlternatingUsers}}},
		Build:      redis.Build,
	},
	{
		Name: saas.EngineSendGrid, Package: "rotators/saas", Engines: []string{saas.EngineSendGrid},
		Strategies: []string{rotators.APIKey}, Functions: []Function{{Name: "sendgrid", Strategies: []string{rotators.APIKey}}},
		Identifiers: []string{"apiKeyId", "onBehalfOf", "region", "baseUrl"},
		Build:       saasBuild(saas.EngineSendGrid),
	},
	{
		Name: saas.EngineTwilio, Package: "rotators/saas", Engines: []string{saas.EngineTwilio},
		Strategies: []string{rotators.APIKey}, Functions: []Function{{Name: "twilio", Strategies: []string{rotators.APIKey}}},
		Identifiers: []string{"apiKeyId", "accountSid", "region", "baseUrl"},
		Build:       saasBuild(saas.EngineTwilio),
	},
	{
		Name: saas.EngineOkta, Package: "rotators/saas", Engines: []string{saas.EngineOkta},
		Strategies: []string{rotators.APIKey}, Functions: []Function{{Name: "okta", Strategies: []string{rotators.APIKey}}},
		Identifiers: []string{"keyId", "clientId", "appId", "orgUrl", "tokenEndpointAuthMethod"},
		Build:       saasBuild(saas.EngineOkta),
	},
	{
		Name: saas.EngineEntra, Package: "rotators/saas", Engines: []string{saas.EngineEntra},
		Strategies: []string{rotators.APIKey}, Functions: []Function{{Name: "entra", Strategies: []string{rotators.APIKey}}},
		Identifiers: []string{"keyId", "clientId"},
		Build:       saasBuild(saas.EngineEntra),
	},
	{
		Name: "elasticache", Package: "rotators/elasticache", Engines: elasticache.Engines,
		Strategies: []string{rotators.SingleUser}, Functions: []Function{{Name: "elasticache", Strategies: []string{rotators.SingleUser}}},
		Identifiers: []string{elasticache.KeyUserARN},
		Build:       elasticache.Build,
	},
	{
		Name: "iamkey", Package: "rotators/iamkey", Engines: []string{iamkey.Engine},
		Strategies: []string{rotators.APIKey}, Functions: []Function{{Name: "iam-access-key", Strategies: []string{rotators.APIKey}}},
		Identifiers: []string{iamkey.KeyAccessKeyID},
		Build:       iamkey.Build,
	},
	{
		Name: "ldap", Package: "rotators/ldap", Engines: ldap.Engines,
		Strategies:  []string{rotators.SingleUser, ldap.AdminPassword},
		Functions:   []Function{{Name: "ldap", Strategies: []string{rotators.SingleUser, ldap.AdminPassword}}},
		Identifiers: []string{ldap.KeyTLSMode},
		Build:       ldap.Build,
	},
	{
		Name: generic.Engine, Package: "rotators/generic", Engines: []string{generic.Engine},
		Strategies: []string{rotators.SingleUser}, Functions: []Function{{Name: "generic", Strategies: []string{rotators.SingleUser}}},
		Build: func(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
			if err := only(generic.Engine, strategies, rotators.SingleUser); err != nil {
				return err
			}
			return generic.Build(reg, deps)
		},
	},
}

// saasBuild returns the Build of one SaaS provider (api-key only).
func saasBuild(engine string) func(*rotators.Registry, rotators.Deps, ...string) error {
	return func(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
		if err := only(engine, strategies, rotators.APIKey); err != nil {
			return err
		}
		return saas.Build(reg, deps, engine)
	}
}

// only refuses any strategy but have.
func only(engine string, strategies []string, have string) error {
	for _, s := range strategies {
		if s != have {
			return fmt.Errorf("%s: unknown rotation strategy %q (have %s)", engine, s, have)
		}
	}
	return nil
}

// Lookup returns the row named name.
func Lookup(name string) (Engine, bool) {
	i := slices.IndexFunc(Table, func(e Engine) bool { return e.Name == name })
	if i < 0 {
		return Engine{}, false
	}
	return Table[i], true
}

// FunctionNamed returns the row carrying the per-engine function name, and
// the function.
func FunctionNamed(name string) (Engine, Function, bool) {
	for _, e := range Table {
		for _, f := range e.Functions {
			if f.Name == name {
				return e, f, true
			}
		}
	}
	return Engine{}, Function{}, false
}

// Functions lists every per-engine function, in table order.
func Functions() []string {
	var out []string
	for _, e := range Table {
		for _, f := range e.Functions {
			out = append(out, f.Name)
		}
	}
	return out
}

// MarkdownTable renders Table as the README's engine table.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| engine key values | strategies (default first) | functions (besides `central`) | identifying keys | package |\n")
	b.WriteString("|---|---|---|---|---|\n")
	code := func(xs []string) string {
		if len(xs) == 0 {
			return "—"
		}
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = "`" + x + "`"
		}
		return strings.Join(out, ", ")
	}
	for _, e := range Table {
		var fns []string
		for _, f := range e.Functions {
			fns = append(fns, "`"+f.Name+"` ("+strings.Join(f.Strategies, ", ")+")")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | [%s](%s) |\n", code(e.Engines), code(e.Strategies), strings.Join(fns, ", "),
			code(e.Identifiers), e.Package, e.Package)
	}
	return b.String()
}
