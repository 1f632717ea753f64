package ldap

import (
	"context"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// TestConformance runs the conformance kit for the single-user strategy: a
// fresh user on the shared throwaway slapd, reached over verified LDAPS. The
// hostile cases put each hostile identifier in the username key (the DN).
func TestConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           "ldap-single-user",
		SingleUser:     true,
		IdentifierKeys: []string{secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			s := dbtest.SharedSlapd(t)
			r := NewSingleUser(testConfig(s))
			reg := &rotators.Registry{}
			reg.Register(r, rotators.SingleUser, Engines...)
			v := newUser(t, s, "kit")
			return slapdTarget(t, s, r, reg, v)
		},
	})
}

// slapdTarget is the kit's target for r (registered in reg) rotating v, a
// user of s: a login is an LDAPS bind, the user's only "account" is its DN.
func slapdTarget(t testing.TB, s *dbtest.Slapd, r *Rotator, reg *rotators.Registry, v secret.Value) *rotatortest.Target {
	dn := v.Username
	return &rotatortest.Target{
		Rotators: reg,
		Value:    v,
		Login: func(ctx context.Context, v secret.Value) error {
			return s.Login(ctx, v.Username, v.Password)
		},
		Credentials: func(context.Context) ([]string, error) {
			if s.Exists(t, dn) {
				return []string{dn}, nil
			}
			return nil, nil
		},
		Stats: func() rotatortest.Stats {
			st := r.Stats()
			return rotatortest.Stats{Logins: st.Logins, FailedLogins: st.FailedLogins}
		},
	}
}
