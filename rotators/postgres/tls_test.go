package postgres_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// TestTLS is acceptance 4: verify-full against the test CA works, plaintext
// only with "ssl": false, and a wrong CA or a host name the certificate does
// not name fails with a clear error after exactly one connection, with no
// plaintext attempt (the server never sees the user name) and no change.
func TestTLS(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	otherCA := dbtest.NewCA(t)
	tests := []struct {
		name       string
		ssl        *bool
		caFile     string // "" = system roots only
		host       string
		viaProxy   bool
		wantErr    error
		wantReason string
	}{
		{name: "ssl absent verify-full", caFile: pg.CA.CAFile, host: pg.Host},
		{name: "ssl true verify-full", ssl: boolPtr(true), caFile: pg.CA.CAFile, host: pg.Host},
		{name: "ssl false plaintext", ssl: boolPtr(false), host: pg.Host, viaProxy: true},
		{name: "system roots only", host: pg.Host, viaProxy: true, wantErr: postgres.ErrTLS, wantReason: "unknown authority"},
		{name: "wrong CA", ssl: boolPtr(true), caFile: otherCA.CAFile, host: pg.Host, viaProxy: true, wantErr: postgres.ErrTLS, wantReason: "unknown authority"},
		{name: "hostname mismatch", caFile: pg.CA.CAFile, host: pg.AltHost, wantErr: postgres.ErrTLS, wantReason: "not valid for host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pw := newName("tls"), newPassword()
			pg.CreateRole(t, user, pw)
			r, err := postgres.NewSingleUser(postgres.Config{CABundleFile: tt.caFile})
			if err != nil {
				t.Fatal(err)
			}
			v := userSecret(pg, user, pw)
			v.Host, v.SSL = tt.host, tt.ssl
			var proxy *dbtest.FaultProxy
			if tt.viaProxy {
				proxy = dbtest.NewFaultProxy(t, pg.Addr())
				host, port, _ := net.SplitHostPort(proxy.Addr)
				v.Host = host
				v.Port, _ = strconv.Atoi(port)
			}
			d := &direct{rot: r, current: v}
			next, err := d.rotate(t)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("rotate: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil {
				if !pg.CanLogin(t, user, next.Password) {
					t.Error("new password does not log in")
				}
				return
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			for _, want := range []string{tt.wantReason, "no plaintext attempt", postgres.EnvCABundle} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if got := r.Stats(); got != (postgres.Stats{Logins: 1, FailedLogins: 1}) {
				t.Errorf("stats %+v, want exactly one failed login", got)
			}
			if proxy != nil && proxy.Connections() != 1 {
				t.Errorf("%d connections reached the server, want 1 (no plaintext retry)", proxy.Connections())
			}
			if strings.Contains(pg.Log(), user) {
				t.Error("the server log names the user: a startup packet was sent without TLS")
			}
			if !pg.CanLogin(t, user, pw) {
				t.Error("the password changed despite the TLS failure")
			}
			assertNoSecret(t, "error", msg, pw, next.Password)
		})
	}
}

// TestConfig covers ConfigFromEnv and the CA bundle checks.
func TestConfig(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name        string
		env         map[string]string
		wantErr     bool
		wantTimeout string
	}{
		{name: "defaults", env: map[string]string{}},
		{name: "bundle and duration", env: map[string]string{postgres.EnvCABundle: pg.CA.CAFile, postgres.EnvConnectTimeout: "1500ms"}, wantTimeout: "1.5s"},
		{name: "timeout in seconds", env: map[string]string{postgres.EnvConnectTimeout: "7"}, wantTimeout: "7s"},
		{name: "bad timeout", env: map[string]string{postgres.EnvConnectTimeout: "soon"}, wantErr: true},
		{name: "negative timeout", env: map[string]string{postgres.EnvConnectTimeout: "-1s"}, wantErr: true},
		{name: "missing bundle", env: map[string]string{postgres.EnvCABundle: "/nonexistent/ca.pem"}, wantErr: true},
		{name: "bundle without certificates", env: map[string]string{postgres.EnvCABundle: pg.LogFile}, wantErr: true},
		{name: "impossible password policy", env: map[string]string{"PASSWORD_LENGTH": "0"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := postgres.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("ConfigFromEnv: %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if tt.wantTimeout != "" && cfg.ConnectTimeout.String() != tt.wantTimeout {
				t.Errorf("timeout %s, want %s", cfg.ConnectTimeout, tt.wantTimeout)
			}
			if _, err := postgres.NewSingleUser(cfg); err != nil {
				t.Errorf("NewSingleUser: %v", err)
			}
		})
	}
}
