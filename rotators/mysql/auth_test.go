package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/dbtest/fakemysql"
)

// fakeTLS returns a server TLS configuration for the fake and a Config whose
// RootCAs trust it.
func fakeTLS(t *testing.T) (*tls.Config, Config) {
	t.Helper()
	ca := dbtest.NewCA(t)
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pemCA, err := os.ReadFile(ca.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, Config{Passwords: password.Default(password.MySQLExclude), RootCAs: pool}
}

// TestNoPasswordRevealed: a server that asks for the password in a readable
// form (cleartext, or encrypted to its own RSA key) gets it only over
// verified TLS; over plaintext the login is refused with ErrInsecureAuth and
// the fake never sees the password.
func TestNoPasswordRevealed(t *testing.T) {
	srvTLS, cfg := fakeTLS(t)
	off := false
	tests := []struct {
		auth     fakemysql.Auth
		tls      bool
		revealed bool
	}{
		{auth: fakemysql.AuthClearText},
		{auth: fakemysql.AuthSHA256},
		{auth: fakemysql.AuthCachingSHA2Full},
		{auth: fakemysql.AuthClearText, tls: true, revealed: true},
		{auth: fakemysql.AuthSHA256, tls: true, revealed: true},
		{auth: fakemysql.AuthCachingSHA2Full, tls: true, revealed: true},
	}
	for _, tc := range tests {
		name := tc.auth.String()
		if tc.tls {
			name += " over verified TLS"
		}
		t.Run(name, func(t *testing.T) {
			fake := fakemysql.Start(t, fakemysql.Config{Auth: tc.auth, TLS: srvTLS, Version: "10.11.6-MariaDB"})
			r := NewSingleUser(cfg)
			cur := secret.Value{Engine: "mariadb", Host: fake.Host, Port: fake.Port, Username: "app", Password: newPassword(t)}
			if !tc.tls {
				cur.SSL = &off
			}
			vs := &versions{current: cur}
			err := rotate(t, r, vs)
			if tc.revealed {
				if err != nil {
					t.Fatalf("rotate over verified TLS: %v", err)
				}
				if !fake.Received(cur.Password) {
					t.Fatal("the fake did not get the password over verified TLS: the test proves nothing")
				}
				return
			}
			if !errors.Is(err, ErrInsecureAuth) {
				t.Fatalf("rotate() = %v, want ErrInsecureAuth", err)
			}
			if got := fake.Passwords(); len(got) != 0 {
				t.Fatalf("the fake received %d password(s)", len(got))
			}
			if got := fake.Queries(); len(got) != 0 {
				t.Fatalf("the fake ran %d statement(s)", len(got))
			}
		})
	}
}

// TestStalledServerBoundedByContext: a server that accepts the login and
// never answers the password statement (or the master's first statement)
// fails the step when ctx ends, even with read timeouts far longer than the
// deadline.
func TestStalledServerBoundedByContext(t *testing.T) {
	off := false
	tests := []struct {
		name  string
		stall string
		multi bool
	}{
		{name: "single user, password statement", stall: "SET PASSWORD"},
		{name: "single user, first statement", stall: ""},
		{name: "alternating users, master's statement", stall: "SHOW CREATE USER", multi: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakemysql.Start(t, fakemysql.Config{Version: "10.11.6-MariaDB", Stall: []string{tc.stall}})
			cfg := Config{Passwords: password.Default(password.MySQLExclude), ConnectTimeout: 10 * time.Minute}
			cur := secret.Value{Engine: "mariadb", Host: fake.Host, Port: fake.Port, Username: "app", Password: newPassword(t), SSL: &off}
			var r rotator = NewSingleUser(cfg)
			pending := cur.Clone()
			pending.Password = newPassword(t)
			req := setRequest(cur, pending)
			if tc.multi {
				r = NewMultiUser(cfg)
				cur.MasterARN = "arn:master"
				pending = cur.Clone()
				pending.Username, pending.Password = "app_clone", newPassword(t)
				req = setRequest(cur, pending)
				req.Master = loader(secret.Value{Username: "admin", Password: newPassword(t), Host: fake.Host, Port: fake.Port, SSL: &off}, true)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			_, err := r.Set(ctx, req)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Set() = %v, want context.DeadlineExceeded", err)
			}
			if fake.Stalled() != 1 {
				t.Fatalf("stalled statements = %d, want 1", fake.Stalled())
			}
		})
	}
}

// setRequest is a setSecret request without previous or master values.
func setRequest(cur, pending secret.Value) rotators.SetRequest {
	none := loader(secret.Value{}, false)
	return rotators.SetRequest{Rotation: rotators.Rotation{SecretARN: "arn", Token: "tok"}, Current: cur, Pending: pending, Previous: none, Master: none}
}
