package mysql

import (
	"context"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// mysqlAdapter is the conformance kit's adapter for a MySQL/MariaDB strategy:
// a fresh account (and, for alternating users, a master account) on the
// shared throwaway server, reached with verified TLS.
func mysqlAdapter(strategy string) rotatortest.Adapter {
	a := rotatortest.Adapter{Name: "mysql-" + strategy, IdentifierKeys: []string{secret.KeyUsername}}
	switch strategy {
	case rotators.SingleUser:
		a.SingleUser = true
	case rotators.AlternatingUsers, rotators.DualPassword:
		a.KeepsPrevious = true
	}
	a.New = func(t testing.TB) *rotatortest.Target {
		m := dbtest.SharedMariaDB(t)
		var r rotator
		switch strategy {
		case rotators.SingleUser:
			r = NewSingleUser(testConfig(m))
		case rotators.AlternatingUsers:
			r = NewMultiUser(testConfig(m))
		default:
			r = NewDualPassword(testConfig(m))
		}
		reg := &rotators.Registry{}
		reg.Register(r, strategyOf(r), Engines...)
		v := newTestUser(t, m, dbtest.NewMySQLUserName("kit"), "%", "GRANT SELECT ON mysql.db TO %s")
		v.Set(secret.KeyStrategy, strategy)
		user, clone := v.Username, v.Username+CloneSuffix
		tg := &rotatortest.Target{
			Rotators: reg,
			Value:    v,
			Login: func(ctx context.Context, v secret.Value) error {
				return m.Login(ctx, v.Username, v.Password)
			},
			Credentials: func(context.Context) ([]string, error) {
				var out []string
				for _, u := range []string{user, clone} {
					if m.UserExists(t, u, "%") {
						out = append(out, u)
					}
				}
				return out, nil
			},
			Stats: func() rotatortest.Stats {
				s := r.Stats()
				return rotatortest.Stats{Logins: s.Logins, FailedLogins: s.FailedLogins}
			},
		}
		if strategy == rotators.AlternatingUsers {
			t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(clone, "%")) })
			master := createMaster(t, m)
			tg.Master = &master
		}
		return tg
	}
	return a
}

// TestConformance runs the conformance kit for every MySQL strategy the
// server supports (MariaDB has no dual passwords).
func TestConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	m := dbtest.SharedMariaDB(t)
	var version string
	if err := m.RootDB(t).QueryRowContext(t.Context(), "SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{rotators.SingleUser, rotators.AlternatingUsers, rotators.DualPassword} {
		a := mysqlAdapter(s)
		t.Run(a.Name, func(t *testing.T) {
			if s == rotators.DualPassword && strings.Contains(version, "MariaDB") {
				t.Skipf("the test server (%s) has no dual passwords; TestDualPasswordRefusedOnMariaDB covers the refusal", version)
			}
			rotatortest.Run(t, a)
		})
	}
}
