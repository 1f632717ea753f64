package postgres_test

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/secret"
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
		{name: "statement and lock timeouts", env: map[string]string{postgres.EnvStatementTimeout: "30s", postgres.EnvLockTimeout: "2"}},
		{name: "bad statement timeout", env: map[string]string{postgres.EnvStatementTimeout: "forever"}, wantErr: true},
		{name: "zero lock timeout", env: map[string]string{postgres.EnvLockTimeout: "0"}, wantErr: true},
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

// TestTLSRefusedByServer: a server that answers the TLS request with "N" (ssl
// = off) gets no plaintext startup message afterwards. The listener speaks
// only that one byte of the protocol.
func TestTLSRefusedByServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	type result struct {
		conns     int
		plaintext int // bytes received after refusing TLS
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() { done <- res }()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		res.conns++
		req := make([]byte, 8) // SSLRequest: length 8, code 80877103
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if _, err := c.Write([]byte{'N'}); err != nil {
			return
		}
		rest, _ := io.ReadAll(c) // until the client hangs up
		res.plaintext = len(rest)
		_ = ln.Close() // a second connection would fail to connect, and be seen as such
	}()
	host, portStr, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	r, err := postgres.NewSingleUser(postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v := secret.Value{Engine: "postgres", Host: host, Port: port, Username: "app", Password: "pw-" + randomHex(8)}
	_, err = r.Test(t.Context(), rotators.TestRequest{Pending: v})
	if !errors.Is(err, postgres.ErrTLS) || !strings.Contains(err.Error(), "does not accept TLS") {
		t.Fatalf("Test: %v, want ErrTLS saying the server does not accept TLS", err)
	}
	res := <-done
	if res.conns != 1 || res.plaintext != 0 {
		t.Errorf("server saw %d connection(s) and %d plaintext bytes after refusing TLS, want 1 and 0", res.conns, res.plaintext)
	}
	if got := r.Stats(); got != (postgres.Stats{Logins: 1, FailedLogins: 1}) {
		t.Errorf("stats %+v, want one failed login", got)
	}
}
