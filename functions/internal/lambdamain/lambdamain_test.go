package lambdamain

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
)

type needsRDS struct {
	rotators.Rotator
	got postgres.EndpointResolver
}

func (n *needsRDS) SetEndpointResolver(e postgres.EndpointResolver) { n.got = e }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestBuildWiresRDSResolver(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	n := &needsRDS{Rotator: generic.New(password.Default(""))}
	_, err := Build(context.Background(), env(map[string]string{"ROTARY_HOME_ACCOUNT": "123456789012"}), slog.New(slog.DiscardHandler),
		func(reg *rotators.Registry, _ func(string) string) error {
			reg.Register(n, rotators.AlternatingUsers, "postgres")
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.got.(rdsResolver); !ok {
		t.Fatalf("resolver = %T, want rdsResolver", n.got)
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
			register: func(reg *rotators.Registry, _ func(string) string) error {
				generic.Register(reg, password.Default(""))
				return nil
			},
			want: awsx.ErrConfig,
		},
		"impossible password policy": {
			env: map[string]string{"PASSWORD_LENGTH": "2"},
			register: func(reg *rotators.Registry, getenv func(string) string) error {
				_, err := password.FromEnv(getenv, "")
				return err
			},
			want: password.ErrPolicy,
		},
		"garbage cleanup reserve": {
			env: map[string]string{"ROTARY_CLEANUP_RESERVE": "soon"},
			register: func(reg *rotators.Registry, _ func(string) string) error {
				generic.Register(reg, password.Default(""))
				return nil
			},
			want: rotation.ErrConfig,
		},
		"bad password source": {
			env: map[string]string{"PASSWORD_SOURCE": "dice"},
			register: func(reg *rotators.Registry, _ func(string) string) error {
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
