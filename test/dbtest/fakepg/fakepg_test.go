package fakepg_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/dbtest/fakepg"
)

func connect(ctx context.Context, s *fakepg.Server, user, pw, sslmode string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=%s", s.Host, s.Port, user, pw, sslmode))
}

// TestFakePG checks each mode with a stock pgx client.
func TestFakePG(t *testing.T) {
	ctx := t.Context()
	t.Run("cleartext records the password and refuses", func(t *testing.T) {
		s := fakepg.Start(t, fakepg.Options{Auth: fakepg.Cleartext})
		_, err := connect(ctx, s, "app", "hunter2", "disable")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Fatalf("connect: %v, want 28P01", err)
		}
		if got := s.Passwords(); len(got) != 1 || got[0] != "hunter2" || !s.ReceivedAny("hunter2") {
			t.Errorf("passwords %q", got)
		}
		if got := s.Users(); len(got) != 1 || got[0] != "app" {
			t.Errorf("users %q", got)
		}
	})
	t.Run("scram", func(t *testing.T) {
		s := fakepg.Start(t, fakepg.Options{Auth: fakepg.SCRAM, Password: "right"})
		c, err := connect(ctx, s, "app", "right", "disable")
		if err != nil {
			t.Fatalf("connect with the right password: %v", err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "SELECT 1"); err == nil {
			t.Error("a query succeeded")
		}
		if _, err := connect(ctx, s, "app", "wrong", "disable"); err == nil {
			t.Error("connect with a wrong password succeeded")
		}
		if s.ReceivedAny("right", "wrong") {
			t.Error("a password crossed the wire")
		}
	})
	t.Run("trust over TLS, then stall", func(t *testing.T) {
		ca := dbtest.NewCA(t)
		s := fakepg.Start(t, fakepg.Options{Auth: fakepg.Trust, Stall: true, TLS: fakepg.TLSConfig(t, ca)})
		c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=app dbname=postgres sslmode=verify-full sslrootcert=%s", s.Host, s.Port, ca.CAFile))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		qctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := c.Exec(qctx, "SELECT 1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("query on a stalled server: %v, want a deadline error", err)
		}
		if s.TLSConnections() != 1 || len(s.Queries()) != 1 {
			t.Errorf("%d TLS connections, queries %q", s.TLSConnections(), s.Queries())
		}
	})
	t.Run("known users by SCRAM, everyone else asked in cleartext, then stall", func(t *testing.T) {
		s := fakepg.Start(t, fakepg.Options{Users: map[string]string{"app": "mine"}, Stall: true})
		c, err := connect(ctx, s, "app", "mine", "disable")
		if err != nil {
			t.Fatalf("a known user with its own password: %v", err)
		}
		defer c.Close(context.Background())
		if _, err := connect(ctx, s, "app", "other", "disable"); err == nil {
			t.Error("a known user with a wrong password logged in")
		}
		var pgErr *pgconn.PgError
		if _, err := connect(ctx, s, "master", "hunter2", "disable"); !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Errorf("an unknown user: %v, want 28P01", err)
		}
		if got := s.Passwords(); len(got) != 1 || got[0] != "hunter2" {
			t.Errorf("passwords %q, want the unknown user's only", got)
		}
		qctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		// A pgx connection is not safe for concurrent use: the deferred Close
		// must wait until the stalled Exec has given up (its context ends).
		execDone := make(chan struct{})
		go func() { defer close(execDone); _, _ = c.Exec(qctx, "SELECT 1") }()
		defer func() { <-execDone }()
		select {
		case <-s.Stalled():
		case <-ctx.Done():
			t.Fatal("no statement stalled")
		}
	})
}
