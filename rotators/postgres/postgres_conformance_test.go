package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// pgAdapter is the conformance kit's adapter for a PostgreSQL strategy: a
// fresh role (and, for alternating users, a master role) on the shared
// throwaway server, reached with TLS verify-full.
func pgAdapter(alternating bool) rotatortest.Adapter {
	a := rotatortest.Adapter{Name: "postgres-single", SingleUser: true, IdentifierKeys: []string{secret.KeyUsername}}
	if alternating {
		a.Name, a.SingleUser, a.KeepsPrevious = "postgres-alternating", false, true
	}
	a.New = func(t testing.TB) *rotatortest.Target {
		pg := dbtest.SharedPostgres(t)
		f := newFleet(t, pg)
		user, pw := newName("kit"), newPassword()
		pg.CreateRole(t, user, pw)
		tg := &rotatortest.Target{
			Rotators: f.reg,
			Value:    userSecret(pg, user, pw),
			Login: func(ctx context.Context, v secret.Value) error {
				c, err := pg.TryConnect(ctx, v.Username, v.Password)
				if err != nil {
					return err
				}
				return c.Close(context.Background())
			},
			Credentials: func(context.Context) ([]string, error) {
				return pg.Strings(t, "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)", []string{user, user + postgres.CloneSuffix}), nil
			},
			Stats: func() rotatortest.Stats {
				s := f.stats()
				return rotatortest.Stats{Logins: s.Logins, FailedLogins: s.FailedLogins}
			},
		}
		if alternating {
			t.Cleanup(func() { pg.DropRole(t, user+postgres.CloneSuffix) })
			master, mpw := newName("kit_master"), newPassword()
			pg.CreateRole(t, master, mpw, "CREATEROLE")
			pg.Exec(t, "GRANT "+pgx.Identifier{user}.Sanitize()+" TO "+pgx.Identifier{master}.Sanitize()+" WITH ADMIN OPTION")
			m := userSecret(pg, master, mpw)
			tg.Master = &m
		}
		return tg
	}
	return a
}

// TestConformance runs the conformance kit for both PostgreSQL strategies.
func TestConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	for _, alternating := range []bool{false, true} {
		a := pgAdapter(alternating)
		t.Run(a.Name, func(t *testing.T) { rotatortest.Run(t, a) })
	}
}
