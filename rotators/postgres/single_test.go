package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

func newSingle(t *testing.T, pg *dbtest.Postgres) *postgres.SingleUser {
	t.Helper()
	r, err := postgres.NewSingleUser(config(pg))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSingleUserRotations rotates twice, calling the steps directly: the new
// password works, the old one stops working, two logins and no failed login
// per rotation, no plaintext in the server log.
func TestSingleUserRotations(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newSingle(t, pg)
	user, pw := newName("single"), newPassword()
	pg.CreateRole(t, user, pw)
	d := &direct{rot: r, current: userSecret(pg, user, pw)}

	var seen []string
	for i := range 2 {
		old := d.current
		var next secret.Value
		stats := loginDelta(r, func() {
			var err error
			if next, err = d.rotate(t); err != nil {
				t.Fatalf("rotation %d: %v", i+1, err)
			}
		})
		if stats != (postgres.Stats{Logins: 2}) {
			t.Errorf("rotation %d: logins %+v, want 2 logins and 0 failed", i+1, stats)
		}
		if next.Password == old.Password || next.Username != user {
			t.Fatalf("rotation %d: pending value does not have a new password for the same user", i+1)
		}
		if !pg.CanLogin(t, user, next.Password) {
			t.Errorf("rotation %d: the new password does not log in", i+1)
		}
		if pg.CanLogin(t, user, old.Password) {
			t.Errorf("rotation %d: the old password still logs in", i+1)
		}
		seen = append(seen, next.Password)
	}
	assertNoSecret(t, "server log", pg.Log(), seen...)
	if !strings.Contains(pg.Log(), "SCRAM-SHA-256$4096:") {
		t.Error("server log has no ALTER ROLE with a SCRAM verifier: is log_statement=all in effect?")
	}
}

// TestSingleUserSetIdempotent runs setSecret and testSecret twice, and Set
// after the password was already changed.
func TestSingleUserSetIdempotent(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newSingle(t, pg)
	user, pw := newName("twice"), newPassword()
	pg.CreateRole(t, user, pw)
	cur := userSecret(pg, user, pw)
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf", Token: randomHex(16)}
	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}, Previous: fixed(secret.Value{}), Master: fixed(secret.Value{})})
	if err != nil {
		t.Fatal(err)
	}
	set := rotators.SetRequest{Rotation: rot, Current: cur, Pending: cr.Pending, Previous: fixed(secret.Value{}), Master: fixed(secret.Value{})}
	if _, err := r.Set(ctx, set); err != nil {
		t.Fatalf("first Set: %v", err)
	}
	// Second Set: current is refused now, pending works: nothing to change.
	stats := loginDelta(r, func() {
		if _, err := r.Set(ctx, set); err != nil {
			t.Fatalf("second Set: %v", err)
		}
	})
	if stats != (postgres.Stats{Logins: 2, FailedLogins: 1}) {
		t.Errorf("second Set: %+v, want 2 logins (current refused, pending works)", stats)
	}
	for i := range 2 {
		if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: cr.Pending, Current: fixed(cur)}); err != nil {
			t.Fatalf("Test %d: %v", i+1, err)
		}
	}
	// finishSecret has no work for a database rotator: the engine calls no
	// Finish on it.
	if _, ok := any(r).(rotators.Finisher); ok {
		t.Error("SingleUser implements rotators.Finisher; it has no finish work")
	}
	if !pg.CanLogin(t, user, cr.Pending.Password) || pg.CanLogin(t, user, pw) {
		t.Error("after the steps ran twice, the pending password is not the only one that works")
	}
}

// TestSingleUserFallbacks covers setSecret's choice of login: previous when
// current and pending are refused, and a clear error when nothing works.
func TestSingleUserFallbacks(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newSingle(t, pg)
	tests := []struct {
		name        string
		dbPassword  string // the password the role really has: "current", "previous" or "none"
		wantErr     error
		wantChanged bool
	}{
		{name: "current works", dbPassword: "current", wantChanged: true},
		{name: "only previous works", dbPassword: "previous", wantChanged: true},
		{name: "nothing works", dbPassword: "none", wantErr: postgres.ErrNoCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := newName("fallback")
			cur, prev, other := newPassword(), newPassword(), newPassword()
			real := map[string]string{"current": cur, "previous": prev, "none": other}[tt.dbPassword]
			pg.CreateRole(t, user, real)
			d := &direct{rot: r, current: userSecret(pg, user, cur), previous: userSecret(pg, user, prev)}
			next, err := d.rotate(t)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("rotate: %v, want %v", err, tt.wantErr)
			}
			if got := pg.CanLogin(t, user, next.Password); got != tt.wantChanged {
				t.Errorf("new password logs in = %v, want %v", got, tt.wantChanged)
			}
			if !tt.wantChanged && !pg.CanLogin(t, user, real) {
				t.Error("a failed rotation changed the password")
			}
			if err != nil {
				assertNoSecret(t, "error", err.Error(), cur, prev, next.Password)
			}
		})
	}
}

// TestHostileUsernames rotates roles with awkward names, and refuses names
// PostgreSQL would truncate or cannot hold, before any connection.
func TestHostileUsernames(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newSingle(t, pg)
	sfx := randomHex(3)
	tests := []struct {
		name   string
		user   string
		decoy  string // a role that must keep its password
		create bool   // create the role first
		ok     bool
	}{
		{name: "double quote", user: `q"` + sfx + `" PASSWORD 'x`, decoy: "q" + sfx, create: true, ok: true},
		{name: "single quotes and semicolon", user: "s'" + sfx + "'; DROP ROLE dec" + sfx + "; --", decoy: "dec" + sfx, create: true, ok: true},
		{name: "backslashes", user: `b\` + sfx + `\\`, create: true, ok: true},
		{name: "unicode", user: "ünïcødé_ロール_" + sfx, create: true, ok: true},
		{name: "spaces and case", user: "Mixed Case " + sfx, decoy: "mixed case " + sfx, create: true, ok: true},
		{name: "63 bytes", user: sfx + strings.Repeat("x", 63-len(sfx)), create: true, ok: true},
		{name: "63 bytes multibyte", user: sfx + strings.Repeat("é", (63-len(sfx))/2), create: true, ok: true},
		{name: "64 bytes", user: sfx + strings.Repeat("y", 64-len(sfx)), decoy: sfx + strings.Repeat("y", 63-len(sfx))},
		{name: "NUL byte", user: "nul\x00" + sfx, decoy: "nul" + sfx},
		{name: "invalid UTF-8", user: "bad\xff" + sfx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw, decoyPW := newPassword(), newPassword()
			if tt.create {
				pg.CreateRole(t, tt.user, pw)
			}
			if tt.decoy != "" {
				pg.CreateRole(t, tt.decoy, decoyPW)
			}
			d := &direct{rot: r, current: userSecret(pg, tt.user, pw)}
			var next secret.Value
			var err error
			stats := loginDelta(r, func() { next, err = d.rotate(t) })
			if tt.ok {
				if err != nil {
					t.Fatalf("rotate: %v", err)
				}
				if !pg.CanLogin(t, tt.user, next.Password) || pg.CanLogin(t, tt.user, pw) {
					t.Error("the role's password was not changed to the new one")
				}
			} else {
				var keyErr *secret.KeyError
				if !errors.As(err, &keyErr) || keyErr.Key != secret.KeyUsername {
					t.Fatalf("rotate: %v, want a *secret.KeyError for username", err)
				}
				if stats.Logins != 0 {
					t.Errorf("%d logins before refusing the name, want 0", stats.Logins)
				}
				if strings.ContainsRune(err.Error(), 0) {
					t.Error("error text carries a NUL byte")
				}
			}
			if tt.decoy != "" && !pg.CanLogin(t, tt.decoy, decoyPW) {
				t.Errorf("decoy role %q lost its password", tt.decoy)
			}
		})
	}
}

// TestMalformedSecrets fails before any connection.
func TestMalformedSecrets(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	good := userSecret(pg, "someone", "pw-123456")
	tests := []struct {
		name    string
		json    string // parsed with secret.Parse when set
		mutate  func(v *secret.Value)
		wantKey string
	}{
		{name: "missing username", mutate: func(v *secret.Value) { v.Username = "" }, wantKey: secret.KeyUsername},
		{name: "missing password", mutate: func(v *secret.Value) { v.Password = "" }, wantKey: secret.KeyPassword},
		{name: "missing host", mutate: func(v *secret.Value) { v.Host = "" }, wantKey: secret.KeyHost},
		{name: "missing engine", mutate: func(v *secret.Value) { v.Engine = "" }, wantKey: secret.KeyEngine},
		{name: "wrong engine", mutate: func(v *secret.Value) { v.Engine = "mysql" }, wantKey: secret.KeyEngine},
		{name: "non-numeric port", json: `{"engine":"postgres","host":"127.0.0.1","port":"fivefourthreetwo","username":"u","password":"p"}`, wantKey: secret.KeyPort},
		{name: "port out of range", json: `{"engine":"postgres","host":"127.0.0.1","port":70000,"username":"u","password":"p"}`, wantKey: secret.KeyPort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := good.Clone()
			if tt.json != "" {
				var err error
				if v, err = secret.Parse([]byte(tt.json)); err != nil {
					var keyErr *secret.KeyError
					if !errors.As(err, &keyErr) || keyErr.Key != tt.wantKey {
						t.Fatalf("Parse: %v, want a KeyError for %q", err, tt.wantKey)
					}
					return // refused before a rotator could see it
				}
			}
			if tt.mutate != nil {
				tt.mutate(&v)
			}
			for _, mk := range []func() (rotators.Rotator, statser){
				func() (rotators.Rotator, statser) { r := newSingle(t, pg); return r, r },
				func() (rotators.Rotator, statser) { r := newMulti(t, pg); return r, r },
			} {
				rot, st := mk()
				v.MasterARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"
				d := &direct{rot: rot, current: v, master: userSecret(pg, pg.Superuser, pg.SuperPassword)}
				_, err := d.rotate(t)
				var keyErr *secret.KeyError
				if !errors.As(err, &keyErr) || keyErr.Key != tt.wantKey {
					t.Errorf("%T: rotate: %v, want a KeyError for %q", rot, err, tt.wantKey)
				}
				if n := st.Stats().Logins; n != 0 {
					t.Errorf("%T: %d logins, want none", rot, n)
				}
				// Set alone, with a good pending value, refuses too.
				_, err = rot.Set(t.Context(), rotators.SetRequest{Current: v, Pending: v, Previous: fixed(secret.Value{}), Master: fixed(secret.Value{})})
				if !errors.As(err, &keyErr) {
					t.Errorf("%T: Set: %v, want a KeyError", rot, err)
				}
				if n := st.Stats().Logins; n != 0 {
					t.Errorf("%T: %d logins after Set, want none", rot, n)
				}
			}
		})
	}
}
