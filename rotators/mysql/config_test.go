package mysql

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

func TestConfigFromEnv(t *testing.T) {
	ca := dbtest.NewCA(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		env         map[string]string
		wantErr     bool
		wantTimeout time.Duration
		wantPool    bool
		wantLength  int
	}{
		{name: "defaults", env: nil, wantTimeout: 5 * time.Second, wantLength: 32},
		{name: "timeout and CA", env: map[string]string{EnvConnectTimeout: "2s", EnvCABundle: ca.CAFile, password.EnvLength: "40"},
			wantTimeout: 2 * time.Second, wantPool: true, wantLength: 40},
		{name: "bad timeout", env: map[string]string{EnvConnectTimeout: "soon"}, wantErr: true},
		{name: "negative timeout", env: map[string]string{EnvConnectTimeout: "-1s"}, wantErr: true},
		{name: "timeout in seconds", env: map[string]string{EnvConnectTimeout: "7"}, wantTimeout: 7 * time.Second, wantLength: 32},
		{name: "timeout too long", env: map[string]string{EnvConnectTimeout: "11m"}, wantErr: true},
		{name: "missing CA file", env: map[string]string{EnvCABundle: "/nonexistent/ca.pem"}, wantErr: true},
		{name: "CA file without PEM", env: map[string]string{EnvCABundle: notPEM}, wantErr: true},
		{name: "impossible password policy", env: map[string]string{password.EnvLength: "0"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr {
				if err == nil {
					t.Fatal("ConfigFromEnv() succeeded, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConnectTimeout != tc.wantTimeout {
				t.Errorf("ConnectTimeout = %v, want %v", cfg.ConnectTimeout, tc.wantTimeout)
			}
			if cfg.RootCAs != nil {
				t.Error("ConfigFromEnv loaded the roots at start-up; the first TLS connection should")
			}
			if pool, err := newConnector(cfg).roots(); err != nil || (pool != nil) != tc.wantPool {
				t.Errorf("roots: pool set = %v (%v), want %v", pool != nil, err, tc.wantPool)
			}
			if cfg.Passwords.Length != tc.wantLength || cfg.Passwords.ExcludeCharacters != password.MySQLExclude && tc.env[password.EnvExcludeCharacters] == "" {
				t.Errorf("Passwords = %+v", cfg.Passwords)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	reg := &rotators.Registry{}
	if err := Build(reg, rotators.Deps{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		v        secret.Value
		strategy string
	}{
		{name: "mysql default", v: secret.Value{Engine: "mysql"}, strategy: rotators.SingleUser},
		{name: "mariadb with masterarn", v: secret.Value{Engine: "mariadb", MasterARN: "arn:m"}, strategy: rotators.AlternatingUsers},
		{name: "aurora dual", v: withStrategy(secret.Value{Engine: "aurora-mysql"}, rotators.DualPassword), strategy: rotators.DualPassword},
		{name: "explicit single with masterarn", v: withStrategy(secret.Value{Engine: "MySQL", MasterARN: "arn:m"}, rotators.SingleUser), strategy: rotators.SingleUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := reg.Lookup(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := strategyOf(r); got != tc.strategy {
				t.Fatalf("strategy = %q, want %q", got, tc.strategy)
			}
		})
	}
	if _, err := reg.Lookup(secret.Value{Engine: "postgres"}); !errors.Is(err, rotators.ErrNoRotator) {
		t.Fatalf("Lookup(postgres) = %v, want ErrNoRotator", err)
	}
	if err := Register(&rotators.Registry{}, Config{}, "api-key"); err == nil {
		t.Fatal("Register accepted an unknown strategy")
	}
}

func withStrategy(v secret.Value, s string) secret.Value {
	v.Set(secret.KeyStrategy, s)
	return v
}
