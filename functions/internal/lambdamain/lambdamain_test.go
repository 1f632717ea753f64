package lambdamain

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/test/localaws"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestBuildPassesDeps: start-up builds the rotators with their dependencies
// passed in: the function's environment, the RDS endpoint resolver (the same
// for PostgreSQL and MySQL, made from the function's clients by the
// constructor the function names) and the clock. Nothing is installed
// afterwards.
func TestBuildPassesDeps(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	vars := map[string]string{"ROTARY_HOME_ACCOUNT": "123456789012", "ROTARY_CONNECT_TIMEOUT": "3s"}
	var got rotators.Deps
	var my *mysql.MultiUser
	var made rotators.EndpointResolver
	_, err := Build(context.Background(), env(vars), slog.New(slog.DiscardHandler),
		func(reg *rotators.Registry, deps rotators.Deps) error {
			got = deps
			if err := postgres.Build(reg, deps, rotators.AlternatingUsers); err != nil {
				return err
			}
			if err := mysql.Build(reg, deps, rotators.AlternatingUsers); err != nil {
				return err
			}
			my = reg.Rotators()[1].(*mysql.MultiUser)
			return nil
		}, func(c *awsx.Clients, d *rotators.Deps) {
			rdsx.Wire(c, d)
			made = d.Endpoints
		})
	if err != nil {
		t.Fatal(err)
	}
	if got.Env("ROTARY_CONNECT_TIMEOUT") != "3s" {
		t.Error("deps.Getenv does not read the function's environment")
	}
	if made == nil || got.Endpoints != made {
		t.Errorf("deps.Endpoints = %v, want the resolver the function's constructor made", got.Endpoints)
	}
	if got.Now == nil {
		t.Error("deps.Now is nil")
	}
	if my.EndpointResolver() != made {
		t.Errorf("mysql resolver = %T, want the one start-up made (built in, not installed afterwards)", my.EndpointResolver())
	}
	// Without a constructor (SaaS and generic functions) there is none.
	_, err = Build(context.Background(), env(vars), slog.New(slog.DiscardHandler),
		func(reg *rotators.Registry, deps rotators.Deps) error {
			got = deps
			return generic.Build(reg, deps)
		})
	if err != nil || got.Endpoints != nil {
		t.Errorf("without a constructor: Endpoints = %v (err %v), want nil", got.Endpoints, err)
	}
}

// TestRDSResolverNeverAnswersEmpty: a master secret that is not RDS-managed
// is an error, never an empty endpoint a rotator could take as "use the user
// secret's host".
func TestRDSResolverNeverAnswersEmpty(t *testing.T) {
	srv := localaws.Start(t)
	creds := srv.AddAccount("123456789012")
	base := srv.AWSConfig(creds, "us-east-1")
	cfg, err := awsx.ConfigFromEnv(env(map[string]string{awsx.EnvHomeAccount: "123456789012"}))
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(base)
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("master"), SecretString: aws.String(`{"username":"m","password":"p"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	clients := awsx.New(base, cfg)
	host, port, err := rdsx.Resolver(clients).ResolveEndpoint(t.Context(), arn, "token-1", "", "")
	if !errors.Is(err, rdsx.ErrNotRDSManaged) {
		t.Fatalf("ResolveEndpoint = %q, %d, %v; want ErrNotRDSManaged", host, port, err)
	}
}

func TestBuildFailsFast(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	cases := map[string]struct {
		env      map[string]string
		register Register
		want     error
	}{
		"wildcard without org": {
			env: map[string]string{"ROTARY_MODE": "central", "ROTARY_ALLOWED_ACCOUNTS": "*"},
			register: func(reg *rotators.Registry, _ rotators.Deps) error {
				generic.Register(reg, password.Default(""))
				return nil
			},
			want: awsx.ErrConfig,
		},
		"impossible password policy": {
			env: map[string]string{"PASSWORD_LENGTH": "2"},
			register: func(reg *rotators.Registry, deps rotators.Deps) error {
				_, err := password.FromEnv(deps.Getenv, "")
				return err
			},
			want: password.ErrPolicy,
		},
		"garbage cleanup reserve": {
			env: map[string]string{"ROTARY_CLEANUP_RESERVE": "soon"},
			register: func(reg *rotators.Registry, _ rotators.Deps) error {
				generic.Register(reg, password.Default(""))
				return nil
			},
			want: rotation.ErrConfig,
		},
		"bad password source": {
			env: map[string]string{"PASSWORD_SOURCE": "dice"},
			register: func(reg *rotators.Registry, _ rotators.Deps) error {
				generic.Register(reg, password.Default(""))
				return nil
			},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Build(context.Background(), env(c.env), slog.New(slog.DiscardHandler), c.register)
			if err == nil {
				t.Fatal("Build accepted a bad configuration")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// TestBuildAppliesWirings: each wiring the function names puts its target
// API, made from the function's clients, into the deps the rotators are
// built with; without one the field stays nil.
func TestBuildAppliesWirings(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	vars := map[string]string{"ROTARY_HOME_ACCOUNT": "123456789012"}
	var got rotators.Deps
	register := func(reg *rotators.Registry, deps rotators.Deps) error {
		got = deps
		return generic.Build(reg, deps)
	}
	var clients *awsx.Clients
	if _, err := Build(context.Background(), env(vars), slog.New(slog.DiscardHandler), register,
		func(c *awsx.Clients, d *rotators.Deps) { clients = c; d.ElastiCache = elasticachex.New(c) }); err != nil {
		t.Fatal(err)
	}
	if clients == nil || got.ElastiCache == nil {
		t.Fatalf("the wiring was not applied: ElastiCache = %v", got.ElastiCache)
	}
	if _, err := Build(context.Background(), env(vars), slog.New(slog.DiscardHandler), register); err != nil || got.ElastiCache != nil {
		t.Errorf("without a wiring: ElastiCache = %v (err %v), want nil", got.ElastiCache, err)
	}
}

// TestOwnClientOnlyInAccountMode: the function's own Secrets Manager client
// (for bare secret names) exists only in account mode, is built on first use
// and once; central mode builds none and refuses a bare name.
func TestOwnClientOnlyInAccountMode(t *testing.T) {
	base := aws.Config{Region: "us-east-1"}
	if own := ownClient(awsx.Config{Mode: awsx.ModeCentral}, base); own != nil {
		t.Fatal("central mode builds the account-mode client")
	}
	own := ownClient(awsx.Config{Mode: awsx.ModeAccount}, base)
	if own == nil {
		t.Fatal("account mode has no own client")
	}
	if first := own(); first == nil || own() != first {
		t.Fatal("account mode: want one client, built once")
	}
	cfg := awsx.Config{Mode: awsx.ModeCentral, HomeAccount: "123456789012"}
	clients := clientsFor(cfg, awsx.New(base, cfg), ownClient(cfg, base))
	if _, err := clients.SecretsManager(t.Context(), "bare-name", "token"); err == nil {
		t.Fatal("central mode accepted a bare secret name")
	}
	cfg.Mode = awsx.ModeAccount
	clients = clientsFor(cfg, awsx.New(base, cfg), ownClient(cfg, base))
	if c, err := clients.SecretsManager(t.Context(), "bare-name", "token"); err != nil || c == nil {
		t.Fatalf("account mode refused a bare secret name: %v", err)
	}
}
