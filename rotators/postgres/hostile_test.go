package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/dbtest/fakepg"
)

// fakeSecret is a user secret for a fake server.
func fakeSecret(s *fakepg.Server, user string, ssl *bool) secret.Value {
	return secret.Value{Engine: "postgres", Host: s.Host, Port: s.Port, Username: user, Password: "Pw-" + randomHex(12), DBName: "postgres", SSL: ssl}
}

// TestNoCleartextPassword: a server that asks for the password in cleartext
// or md5 gets nothing unless the connection is verified TLS to the secret's
// host.
func TestNoCleartextPassword(t *testing.T) {
	ca := dbtest.NewCA(t)
	otherCA := dbtest.NewCA(t)
	tests := []struct {
		name    string
		auth    fakepg.Auth
		tls     *dbtest.CA // the fake's certificate; nil: no TLS
		ssl     *bool
		wantErr error
		wantPW  bool // the fake may receive the password
	}{
		{name: "cleartext over plaintext", auth: fakepg.Cleartext, ssl: boolPtr(false), wantErr: postgres.ErrInsecureAuth},
		{name: "md5 over plaintext", auth: fakepg.MD5, ssl: boolPtr(false), wantErr: postgres.ErrInsecureAuth},
		{name: "cleartext over unverified TLS", auth: fakepg.Cleartext, tls: &otherCA, wantErr: postgres.ErrTLS},
		{name: "cleartext over verified TLS", auth: fakepg.Cleartext, tls: &ca, wantErr: postgres.ErrAuth, wantPW: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fakepg.Options{Auth: tt.auth}
			if tt.tls != nil {
				opts.TLS = fakepg.TLSConfig(t, *tt.tls)
			}
			fake := fakepg.Start(t, opts)
			r, err := postgres.NewSingleUser(postgres.Config{CABundleFile: ca.CAFile})
			if err != nil {
				t.Fatal(err)
			}
			v := fakeSecret(fake, "app", tt.ssl)
			_, err = r.Test(t.Context(), rotators.TestRequest{Pending: v})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Test: %v, want %v", err, tt.wantErr)
			}
			t.Logf("error: %v", err)
			if got := fake.ReceivedAny(v.Password); got != tt.wantPW {
				t.Errorf("fake server received the password: %v, want %v", got, tt.wantPW)
			}
			if !tt.wantPW && len(fake.Passwords()) > 0 {
				t.Errorf("fake server received %d password message(s), want none", len(fake.Passwords()))
			}
			assertNoSecret(t, "error", err.Error(), v.Password)
		})
	}
}

// TestMasterPinning: the master credential goes only to the master secret's
// own server (or the resolved RDS endpoint); a user secret naming another
// server, or a master secret without a resolvable server, is refused before
// any login, and the user secret's TLS setting never applies to the master
// login.
func TestMasterPinning(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name     string
		resolver *fixedResolver
		masterAt string // "fake", "pg" or "" (no host)
		fakeAuth fakepg.Auth
		userSSL  *bool
		wantErr  error
	}{
		{name: "master without host and no resolver", fakeAuth: fakepg.Cleartext, userSSL: boolPtr(false), wantErr: postgres.ErrMasterEndpoint},
		{name: "master without host, not RDS-managed", resolver: &fixedResolver{}, fakeAuth: fakepg.Cleartext, userSSL: boolPtr(false), wantErr: postgres.ErrMasterEndpoint},
		{name: "master without host, RDS endpoint elsewhere", resolver: &fixedResolver{host: pg.Host, port: pg.Port}, fakeAuth: fakepg.Cleartext, userSSL: boolPtr(false), wantErr: postgres.ErrEndpointMismatch},
		{name: "master with its own host", masterAt: "pg", fakeAuth: fakepg.Cleartext, userSSL: boolPtr(false), wantErr: postgres.ErrEndpointMismatch},
		{name: "master without ssl key on the user's plaintext server", masterAt: "fake", fakeAuth: fakepg.Trust, userSSL: boolPtr(false), wantErr: postgres.ErrTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, pg, "pin")
			master := p.master
			// The attacker's fake accepts the user's own login in any way
			// asked, and asks everyone else for a cleartext password.
			fake := fakepg.Start(t, fakepg.Options{Auth: fakepg.Cleartext, Accept: true, AuthFor: map[string]fakepg.Auth{p.base: tt.fakeAuth}})
			user := p.user
			user.Host, user.Port, user.SSL = fake.Host, fake.Port, tt.userSSL
			switch tt.masterAt {
			case "":
				master = secret.Value{Username: master.Username, Password: master.Password}
			case "fake":
				master.Host, master.Port = fake.Host, fake.Port
			}
			cfg := config(pg)
			if tt.resolver != nil {
				cfg.Endpoints = tt.resolver
			}
			r, err := postgres.NewMultiUser(cfg)
			if err != nil {
				t.Fatal(err)
			}
			pending := user.Clone()
			pending.Username, pending.Password = p.clone, "Pending-"+randomHex(8)
			_, err = r.Set(t.Context(), rotators.SetRequest{Current: user, Pending: pending, Previous: fixed(secret.Value{}), Master: fixed(master)})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Set: %v, want %v", err, tt.wantErr)
			}
			t.Logf("error: %v", err)
			if fake.ReceivedAny(master.Password) || len(fake.Passwords()) > 0 {
				t.Error("the fake server received the master password")
			}
			if exists := pg.Strings(t, "SELECT rolname::text FROM pg_roles WHERE rolname = $1", p.clone); len(exists) > 0 {
				t.Error("the clone was created despite the refusal")
			}
			assertNoSecret(t, "error", err.Error(), master.Password, pending.Password)
		})
	}
}

// stepDone runs step and fails t if it has not returned after a minute: a
// liveness bound (the step must end at its own deadline, seconds), not a
// performance assertion.
func stepDone(t *testing.T, step func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- step() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the step is still waiting for a stalled server after a minute")
		return nil
	}
}

// TestStallingServer: a server that accepts the login (SCRAM over plaintext,
// which the client allows) and then never answers
// makes Set fail at the statement bound even when the step's context has no
// deadline, and at the context's deadline when that comes first.
func TestStallingServer(t *testing.T) {
	for _, tt := range []struct {
		name     string
		multi    bool
		deadline bool
	}{
		{name: "single user, statement bound"},
		{name: "single user, context deadline", deadline: true},
		{name: "alternating users, statement bound", multi: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The user proves its password with SCRAM; the master is let in.
			pw := "Pw-" + randomHex(12)
			fake := fakepg.Start(t, fakepg.Options{Auth: fakepg.SCRAM, Password: pw, AuthFor: map[string]fakepg.Auth{"boss": fakepg.Trust}, Stall: true})
			cfg := postgres.Config{StatementTimeout: 200 * time.Millisecond}
			ctx := t.Context()
			if tt.deadline {
				cfg.StatementTimeout = time.Hour
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Second)
				defer cancel()
			}
			user := fakeSecret(fake, "app", boolPtr(false))
			user.Password = pw
			pending := user.Clone()
			pending.Password = "Pending-" + randomHex(8)
			var rot rotators.Rotator
			req := rotators.SetRequest{Current: user, Pending: pending, Previous: fixed(secret.Value{})}
			if tt.multi {
				m := fakeSecret(fake, "boss", boolPtr(false))
				user.MasterARN = masterARN
				pending.MasterARN, pending.Username = masterARN, "app_clone"
				req.Current, req.Pending, req.Master = user, pending, fixed(m)
				r, err := postgres.NewMultiUser(cfg)
				if err != nil {
					t.Fatal(err)
				}
				rot = r
			} else {
				r, err := postgres.NewSingleUser(cfg)
				if err != nil {
					t.Fatal(err)
				}
				rot = r
			}
			err := stepDone(t, func() error { _, err := rot.Set(ctx, req); return err })
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Set: %v, want a deadline error", err)
			}
			t.Logf("error: %v", err)
			if len(fake.Queries()) == 0 {
				t.Error("the fake server saw no statement: the test did not reach the stall")
			}
		})
	}
}

// TestLockTimeout: every session has lock_timeout. While another transaction
// holds the role's catalog row, ALTER ROLE waits at most the lock timeout per
// attempt (SQLSTATE 55P03), is retried a bounded number of times, then fails;
// the password is unchanged.
func TestLockTimeout(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	user, pw := newName("locked"), newPassword()
	pg.CreateRole(t, user, pw)
	blocker := pg.Super(t)
	ident := pgx.Identifier{user}.Sanitize()
	if _, err := blocker.Exec(t.Context(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(t.Context(), "ALTER ROLE "+ident+" CONNECTION LIMIT 7"); err != nil {
		t.Fatal(err)
	}
	cfg := config(pg)
	cfg.LockTimeout = 50 * time.Millisecond
	r, err := postgres.NewSingleUser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cur := userSecret(pg, user, pw)
	pending := cur.Clone()
	pending.Password = "Pending-" + randomHex(8)
	err = stepDone(t, func() error {
		_, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: pending, Previous: fixed(secret.Value{})})
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" || !strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("Set: %v, want lock_not_available (55P03) after the retries", err)
	}
	if _, err := blocker.Exec(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if !pg.CanLogin(t, user, pw) {
		t.Error("the password changed")
	}
	if got := r.Stats(); got.Logins != 1 || got.FailedLogins != 0 || got.Retries == 0 {
		t.Errorf("stats %+v, want one login (retries reuse the session) and the retries counted", got)
	}
}
