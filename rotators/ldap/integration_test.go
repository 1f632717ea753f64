package ldap

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.StopSharedSlapd()
	os.Exit(code)
}

// testConfig trusts the server's test CA.
func testConfig(s *dbtest.Slapd) Config {
	return Config{Policy: password.Default(""), RootCAs: s.Pool()}
}

func newPassword(t testing.TB) string {
	t.Helper()
	pw, err := password.Default("").Generate()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// newUser makes a fresh user on s and returns its secret (LDAPS).
func newUser(t testing.TB, s *dbtest.Slapd, prefix string) secret.Value {
	t.Helper()
	pw := newPassword(t)
	dn := s.AddUser(t, dbtest.NewLDAPUserName(prefix), pw)
	return secret.Value{Engine: Engine, Host: s.Host, Port: s.LDAPSPort, Username: dn, Password: pw}
}

func loader(v secret.Value, ok bool) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) { return v, ok, nil }
}

// rotate runs Create, Set and Test and returns the pending value.
func rotate(t testing.TB, r *Rotator, cur secret.Value) (secret.Value, error) {
	t.Helper()
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:us-east-1:111111111111:secret:test-AbCdEf", Token: rotationtest.NewToken()}
	none := loader(secret.Value{}, false)
	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}, Previous: none, Master: none})
	if err != nil {
		return secret.Value{}, err
	}
	if _, err := r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: cur, Pending: cr.Pending, Previous: none, Master: none}); err != nil {
		return secret.Value{}, err
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: cr.Pending, Current: loader(cur, true), Master: none}); err != nil {
		return secret.Value{}, err
	}
	return cr.Pending, nil
}

func TestSingleUserRotation(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	for _, mode := range []string{TLSModeLDAPS, TLSModeStartTLS} {
		t.Run(mode, func(t *testing.T) {
			cur := newUser(t, s, "single")
			if mode == TLSModeStartTLS {
				cur.Port = s.Port
				cur.Set(KeyTLSMode, TLSModeStartTLS)
			}
			r := NewSingleUser(testConfig(s))
			pending, err := rotate(t, r, cur)
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			if err := s.Login(t.Context(), pending.Username, pending.Password); err != nil {
				t.Fatalf("bind with the new password: %v", err)
			}
			if err := s.Login(t.Context(), cur.Username, cur.Password); err == nil {
				t.Fatal("the old password still binds")
			}
			// The server stores a salted hash, never the cleartext.
			for _, stored := range s.UserPassword(t, cur.Username) {
				if !strings.HasPrefix(stored, "{SSHA}") || strings.Contains(stored, pending.Password) {
					t.Fatalf("userPassword is not an {SSHA} hash: %.6s…", stored)
				}
			}
			// A second rotation from the new value works too, with one bind in
			// Set and one in Test.
			before := r.Stats()
			if _, err := rotate(t, r, pending); err != nil {
				t.Fatalf("second rotation: %v", err)
			}
			if got := r.Stats(); got.Logins-before.Logins != 2 || got.FailedLogins-before.FailedLogins != 0 {
				t.Errorf("binds in one rotation: %d (%d failed), want 2 (0 failed)", got.Logins-before.Logins, got.FailedLogins-before.FailedLogins)
			}
		})
	}
}

// TestSetTwice: a retried setSecret finds the pending password working and
// changes nothing.
func TestSetTwice(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	cur := newUser(t, s, "twice")
	r := NewSingleUser(testConfig(s))
	pending := cur.Clone()
	pending.Password = newPassword(t)
	none := loader(secret.Value{}, false)
	req := rotators.SetRequest{Current: cur, Pending: pending, Previous: none, Master: none}
	for i := range 2 {
		if _, err := r.Set(t.Context(), req); err != nil {
			t.Fatalf("set #%d: %v", i+1, err)
		}
	}
	if err := s.Login(t.Context(), pending.Username, pending.Password); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
}

// TestNoFallback: a server whose certificate the rotator does not trust, an
// LDAPS client on the plain port, a StartTLS client on the LDAPS port and a
// secret asking for no TLS all fail, and the password is unchanged.
func TestNoFallback(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	other := dbtest.NewCA(t)
	untrusted := x509.NewCertPool()
	if b, err := os.ReadFile(other.CAFile); err == nil {
		untrusted.AppendCertsFromPEM(b)
	}
	off := false
	cases := []struct {
		name string
		cfg  Config
		edit func(v *secret.Value)
		want error
	}{
		{name: "untrusted CA", cfg: Config{Policy: password.Default(""), RootCAs: untrusted}},
		{name: "ldaps to the plain port", cfg: testConfig(s), edit: func(v *secret.Value) { v.Port = s.Port }},
		{name: "starttls to the ldaps port", cfg: testConfig(s), edit: func(v *secret.Value) { v.Set(KeyTLSMode, TLSModeStartTLS) }},
		{name: "ssl false", cfg: testConfig(s), edit: func(v *secret.Value) { v.SSL = &off }, want: ErrPlaintext},
		{name: "masterarn", cfg: testConfig(s), edit: func(v *secret.Value) {
			v.MasterARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:admin-AbCdEf"
		}, want: ErrAdminUnsupported},
		{name: "unknown tls mode", cfg: testConfig(s), edit: func(v *secret.Value) { v.Set(KeyTLSMode, "none") }, want: ErrPlaintext},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := newUser(t, s, "nofb")
			cur := orig.Clone()
			if tc.edit != nil {
				tc.edit(&cur)
			}
			_, err := rotate(t, NewSingleUser(tc.cfg), cur)
			if err == nil {
				t.Fatal("rotation succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			rotationtest.AssertNoLeak(t, "error", err.Error(), orig.Password)
			if err := s.Login(t.Context(), orig.Username, orig.Password); err != nil {
				t.Fatalf("the original password no longer binds: %v", err)
			}
		})
	}
}

// TestRefusesOtherUser: a pending value naming another DN is refused before
// any bind.
func TestRefusesOtherUser(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	cur := newUser(t, s, "self")
	victim := newUser(t, s, "victim")
	pending := cur.Clone()
	pending.Username = victim.Username
	pending.Password = newPassword(t)
	r := NewSingleUser(testConfig(s))
	none := loader(secret.Value{}, false)
	_, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: pending, Previous: none, Master: none})
	if !errors.Is(err, ErrNotSameUser) {
		t.Fatalf("got %v, want ErrNotSameUser", err)
	}
	if got := r.Stats().Logins; got != 0 {
		t.Errorf("%d binds, want 0", got)
	}
	if err := s.Login(t.Context(), victim.Username, victim.Password); err != nil {
		t.Fatalf("victim's password changed: %v", err)
	}
}

// TestStepDeadline: an expired step context fails the step without a bind.
func TestStepDeadline(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	cur := newUser(t, s, "deadline")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	pending := cur.Clone()
	pending.Password = newPassword(t)
	none := loader(secret.Value{}, false)
	_, err := NewSingleUser(testConfig(s)).Set(ctx, rotators.SetRequest{Current: cur, Pending: pending, Previous: none, Master: none})
	if err == nil {
		t.Fatal("set succeeded with a cancelled context")
	}
	if err := s.Login(t.Context(), cur.Username, cur.Password); err != nil {
		t.Fatalf("the password changed: %v", err)
	}
}
