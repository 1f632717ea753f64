package ldap

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

const testMasterARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ldap-admin-AbCdEf"

// masterOf is the master secret of s: its rootdn over LDAPS.
func masterOf(s *dbtest.Slapd) secret.Value {
	return secret.Value{Engine: Engine, Host: s.Host, Port: s.LDAPSPort, Username: s.RootDN, Password: s.RootPW}
}

// newAdminUser is a fresh user whose secret names the master.
func newAdminUser(t testing.TB, s *dbtest.Slapd) secret.Value {
	t.Helper()
	v := newUser(t, s, "adm")
	v.MasterARN = testMasterARN
	v.Set(secret.KeyStrategy, AdminPassword)
	return v
}

// rotateAdmin runs Create, Set and Test with master as the master secret.
func rotateAdmin(t testing.TB, r *Rotator, cur secret.Value, master secret.Value, hasMaster bool) (secret.Value, error) {
	t.Helper()
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:us-east-1:111111111111:secret:user-AbCdEf", Token: rotationtest.NewToken()}
	none, m := loader(secret.Value{}, false), loader(master, hasMaster)
	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}, Previous: none, Master: m})
	if err != nil {
		return secret.Value{}, err
	}
	if _, err := r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: cur, Pending: cr.Pending, Previous: none, Master: m}); err != nil {
		return secret.Value{}, err
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: cr.Pending, Current: loader(cur, true), Master: m}); err != nil {
		return secret.Value{}, err
	}
	return cr.Pending, nil
}

func TestAdminRotation(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	cur := newAdminUser(t, s)
	r := NewAdmin(testConfig(s))
	pending, err := rotateAdmin(t, r, cur, masterOf(s), true)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if err := s.Login(t.Context(), pending.Username, pending.Password); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if err := s.Login(t.Context(), cur.Username, cur.Password); err == nil {
		t.Fatal("the old password still binds")
	}
	stored := s.UserPassword(t, cur.Username)
	if len(stored) != 1 || !strings.HasPrefix(stored[0], "{SSHA}") || strings.Contains(stored[0], pending.Password) {
		t.Fatalf("userPassword is not one {SSHA} hash (%d values)", len(stored))
	}
	// Set again (a retried setSecret): the pending password binds, nothing changes.
	none := loader(secret.Value{}, false)
	if _, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: pending, Previous: none, Master: loader(masterOf(s), true)}); err != nil {
		t.Fatalf("second set: %v", err)
	}
	if again := s.UserPassword(t, cur.Username); len(again) != 1 || again[0] != stored[0] {
		t.Fatal("a retried setSecret changed userPassword")
	}
}

// TestAdminRefusals: the master password goes only to the master's own
// server, never for an entry whose password the secret does not hold, never
// to change the master itself; each refusal changes nothing.
func TestAdminRefusals(t *testing.T) {
	s := dbtest.SharedSlapd(t)
	cases := []struct {
		name      string
		edit      func(user, master *secret.Value)
		hasMaster bool
		want      error
		binds     bool // the refusal comes after user binds (ownership check)
	}{
		{name: "master on another port", hasMaster: true, want: ErrEndpointMismatch,
			edit: func(_, m *secret.Value) { m.Port = s.Port; m.Set(KeyTLSMode, TLSModeStartTLS) }},
		{name: "user on another host", hasMaster: true, want: ErrEndpointMismatch,
			edit: func(u, _ *secret.Value) { u.Host = "localhost" }},
		{name: "master without host", hasMaster: true, want: secret.ErrInvalid,
			edit: func(_, m *secret.Value) { m.Host = "" }},
		{name: "no master secret", want: ErrNoMaster},
		{name: "no masterarn", hasMaster: true, want: ErrNoMaster,
			edit: func(u, _ *secret.Value) { u.MasterARN = "" }},
		{name: "user is the master", hasMaster: true, want: ErrMasterIsUser,
			edit: func(u, m *secret.Value) { m.Username = u.Username; m.Password = u.Password }},
		{name: "someone else's entry", hasMaster: true, want: ErrNotOwner, binds: true,
			edit: func(u, _ *secret.Value) { u.Password = "not-the-victims-password-" + rotationtest.NewToken()[:8] }},
		{name: "hostile master DN", hasMaster: true, want: ErrHostileDN,
			edit: func(_, m *secret.Value) { m.Username = "cn=admin*,dc=rotary,dc=test" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := newAdminUser(t, s)
			user, master := orig.Clone(), masterOf(s)
			if tc.edit != nil {
				tc.edit(&user, &master)
			}
			r := NewAdmin(testConfig(s))
			_, err := rotateAdmin(t, r, user, master, tc.hasMaster)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			rotationtest.AssertNoLeak(t, "error", err.Error(), orig.Password, s.RootPW)
			if !tc.binds && r.Stats().Logins != 0 {
				t.Errorf("%d binds before the refusal, want 0", r.Stats().Logins)
			}
			if err := s.Login(t.Context(), orig.Username, orig.Password); err != nil {
				t.Fatalf("the user's password changed: %v", err)
			}
		})
	}
}

// TestAdminConformance runs the conformance kit for the admin-driven
// strategy with the server's rootdn as the master.
func TestAdminConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           "ldap-admin-password",
		SingleUser:     true,
		IdentifierKeys: []string{secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			s := dbtest.SharedSlapd(t)
			r := NewAdmin(testConfig(s))
			reg := &rotators.Registry{}
			reg.Register(r, AdminPassword, Engines...)
			v := newUser(t, s, "kitadm")
			v.Set(secret.KeyStrategy, AdminPassword)
			master := masterOf(s)
			tg := slapdTarget(t, s, r, reg, v)
			tg.Master = &master
			return tg
		},
	})
}
