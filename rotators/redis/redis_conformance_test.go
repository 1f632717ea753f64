package redis

import (
	"context"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// TestConformance runs the conformance kit on the single-user rotator against
// a throwaway redis-server with an ACL file, over verified TLS. The
// "accounts" are the passwords the user holds (their SHA-256 hashes, as ACL
// GETUSER lists them): every one must be held by a stored version, so a
// rotation never leaves a password behind that no version holds. The
// AWSPREVIOUS password keeps working at rest (KeepsPrevious).
func TestConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           "redis-single",
		KeepsPrevious:  true,
		IdentifierKeys: []string{secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			r := New(testConfig(t, srv))
			reg := &rotators.Registry{}
			reg.Register(r, rotators.SingleUser, Engines...)
			v := newTestUser(t, srv, "kit")
			user := v.Username
			return &rotatortest.Target{
				Rotators: reg,
				Value:    v,
				Login: func(ctx context.Context, v secret.Value) error {
					return srv.Login(ctx, v.Username, v.Password)
				},
				Credentials: func(context.Context) ([]string, error) {
					return srv.PasswordHashes(t, user), nil
				},
				Holds: func(_ context.Context, account string, v secret.Value) (bool, error) {
					return v.Username == user && hashOf(v.Password) == account, nil
				},
				Stats: func() rotatortest.Stats {
					s := r.Stats()
					return rotatortest.Stats{Logins: s.Logins, FailedLogins: s.FailedLogins}
				},
			}
		},
	})
}
