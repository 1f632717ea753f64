package fakemysql_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/dbtest/fakemysql"
)

// serverTLS returns a server configuration and a client one trusting it.
func serverTLS(t *testing.T) (*tls.Config, *tls.Config) {
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
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func connect(t *testing.T, s *fakemysql.Server, user, pw string, cleartext bool, tc *tls.Config) (*sql.Conn, error) {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, pw, "tcp", s.Addr()
	cfg.AllowCleartextPasswords = cleartext
	cfg.TLS = tc
	cfg.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { _ = db.Close() })
	return db.Conn(t.Context())
}

// TestFakeRecordsWhatTheDriverReveals documents go-sql-driver's behaviour
// against each hostile method: the fake must see the password exactly when
// the driver sends it.
func TestFakeRecordsWhatTheDriverReveals(t *testing.T) {
	srvTLS, cliTLS := serverTLS(t)
	tests := []struct {
		name      string
		auth      fakemysql.Auth
		cleartext bool
		tls       bool
		revealed  bool
	}{
		{name: "accept any", auth: fakemysql.AuthAcceptAny},
		{name: "cleartext refused by the driver", auth: fakemysql.AuthClearText},
		{name: "cleartext allowed", auth: fakemysql.AuthClearText, cleartext: true, revealed: true},
		{name: "cleartext over TLS", auth: fakemysql.AuthClearText, cleartext: true, tls: true, revealed: true},
		{name: "sha256 with the server's key", auth: fakemysql.AuthSHA256, revealed: true},
		{name: "sha256 over TLS", auth: fakemysql.AuthSHA256, tls: true, revealed: true},
		{name: "caching_sha2 full auth with the server's key", auth: fakemysql.AuthCachingSHA2Full, revealed: true},
		{name: "caching_sha2 full auth over TLS", auth: fakemysql.AuthCachingSHA2Full, tls: true, revealed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fakemysql.Start(t, fakemysql.Config{Auth: tc.auth, TLS: srvTLS})
			var ct *tls.Config
			if tc.tls {
				ct = cliTLS
			}
			pw := "secret-" + tc.auth.String()
			c, err := connect(t, s, "app", pw, tc.cleartext, ct)
			if err == nil {
				var v string
				if err := c.QueryRowContext(t.Context(), "SELECT VERSION()").Scan(&v); err != nil || v != "8.0.36" {
					t.Fatalf("SELECT VERSION() = %q, %v", v, err)
				}
			}
			if got := s.Received(pw); got != tc.revealed {
				t.Fatalf("Received = %v, want %v (connect error: %v)", got, tc.revealed, err)
			}
			if tc.revealed && err != nil {
				t.Fatalf("connect: %v", err)
			}
			if logins := s.Logins(); len(logins) != 1 || logins[0].User != "app" || logins[0].TLS != tc.tls {
				t.Fatalf("Logins = %+v", logins)
			}
		})
	}
}

func TestFakeAcceptList(t *testing.T) {
	s := fakemysql.Start(t, fakemysql.Config{Auth: fakemysql.AuthClearText, Accept: []string{"app"}})
	if _, err := connect(t, s, "app", "own", false, nil); err != nil {
		t.Fatalf("listed user: %v", err)
	}
	if _, err := connect(t, s, "master", "master-pw", false, nil); !errors.Is(err, mysql.ErrCleartextPassword) {
		t.Fatalf("other user: err = %v, want ErrCleartextPassword", err)
	}
	if len(s.Passwords()) != 0 {
		t.Fatal("a password was revealed")
	}
}

func TestFakeStall(t *testing.T) {
	s := fakemysql.Start(t, fakemysql.Config{Stall: []string{"SET PASSWORD"}})
	c, err := connect(t, s, "app", "pw", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var who string
	if err := c.QueryRowContext(t.Context(), "SELECT CURRENT_USER()").Scan(&who); err != nil || who != "app@%" {
		t.Fatalf("CURRENT_USER() = %q, %v", who, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.ExecContext(ctx, "SET PASSWORD = 'x'"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled exec: err = %v, want deadline exceeded", err)
	}
	if s.Stalled() != 1 {
		t.Fatalf("Stalled = %d, want 1", s.Stalled())
	}
}

// TestKnownUsersAndDeny checks Users and Deny: a known user proves its own
// password without revealing it and logs in; anyone else (over TLS) reveals
// the password, which is recorded and refused.
func TestKnownUsersAndDeny(t *testing.T) {
	srvTLS, cliTLS := serverTLS(t)
	s := fakemysql.Start(t, fakemysql.Config{Auth: fakemysql.AuthCachingSHA2Full, Users: map[string]string{"app": "mine"}, Deny: true, TLS: srvTLS})
	c, err := connect(t, s, "app", "mine", false, cliTLS)
	if err != nil {
		t.Fatalf("a known user with its own password: %v", err)
	}
	_ = c.Close()
	var myErr *mysql.MySQLError
	if _, err := connect(t, s, "master", "hunter2", false, cliTLS); !errors.As(err, &myErr) || myErr.Number != 1045 {
		t.Errorf("an unknown user: %v, want 1045", err)
	}
	if got := s.Passwords(); len(got) != 1 || got[0] != "hunter2" {
		t.Errorf("passwords %q, want the unknown user's only", got)
	}
}
