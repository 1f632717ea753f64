package dbtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/test/dbtest"
)

// TestPostgres checks the throwaway server: passwords enforced, TLS with the
// test CA, statements logged. It owns its server (no TestMain here: the
// package is shared with the MariaDB helpers).
func TestPostgres(t *testing.T) {
	pg := dbtest.StartPostgres(t)
	pg.CreateRole(t, "dbtest_app", "right-password")

	tlsConfig := func(t *testing.T, serverName string) *tls.Config {
		t.Helper()
		pem, err := os.ReadFile(pg.CA.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatal("no certificate in CA file")
		}
		return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
	}
	connect := func(t *testing.T, host, user, password string, tc *tls.Config) error {
		t.Helper()
		cfg, err := pgx.ParseConfig("")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = host, uint16(pg.Port), user, password, "postgres"
		cfg.TLSConfig, cfg.Fallbacks = tc, nil
		cfg.ConnectTimeout = 5 * time.Second
		c, err := pgx.ConnectConfig(t.Context(), cfg)
		if err == nil {
			_ = c.Close(context.Background())
		}
		return err
	}

	tests := []struct {
		name     string
		host     string
		password string
		tls      bool
		wantErr  bool
		wantAuth bool // the error is a refused password
	}{
		{name: "plaintext right password", host: pg.Host, password: "right-password"},
		{name: "plaintext wrong password", host: pg.Host, password: "wrong", wantErr: true, wantAuth: true},
		{name: "tls verify-full", host: pg.Host, password: "right-password", tls: true},
		{name: "tls wrong password", host: pg.Host, password: "wrong", tls: true, wantErr: true, wantAuth: true},
		{name: "tls host not in certificate", host: pg.AltHost, password: "right-password", tls: true, wantErr: true},
		{name: "plaintext on alternate address", host: pg.AltHost, password: "right-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tc *tls.Config
			if tt.tls {
				tc = tlsConfig(t, tt.host)
			}
			err := connect(t, tt.host, "dbtest_app", tt.password, tc)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("connect error = %v, want error: %v", err, tt.wantErr)
			}
			if got := dbtest.IsAuthFailure(err); got != tt.wantAuth {
				t.Errorf("IsAuthFailure(%v) = %v, want %v", err, got, tt.wantAuth)
			}
		})
	}

	t.Run("statements are logged", func(t *testing.T) {
		c := pg.Connect(t, "dbtest_app", "right-password")
		if _, err := c.Exec(t.Context(), "SELECT 'dbtest-log-marker'"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(pg.Log(), "dbtest-log-marker") {
			t.Errorf("server log does not contain the statement; log_statement=all is not in effect")
		}
	})

	t.Run("fixture passwords are not logged", func(t *testing.T) {
		if strings.Contains(pg.Log(), "right-password") {
			t.Errorf("server log contains a fixture password")
		}
	})
}
