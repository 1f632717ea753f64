package redis

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

func masterOf(srv *dbtest.Redis) secret.Value {
	return secret.Value{Engine: Engine, Host: srv.Host, Port: srv.Port, Username: dbtest.RedisAdmin, Password: srv.AdminPassword()}
}

// TestMultiConformance runs the conformance kit on the alternating-users
// rotator: accounts are the user and its clone, each held by a stored version.
func TestMultiConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           "redis-multi",
		KeepsPrevious:  true,
		IdentifierKeys: []string{secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			r := NewMultiUser(testConfig(t, srv))
			reg := &rotators.Registry{}
			reg.Register(r, rotators.AlternatingUsers, Engines...)
			v := newTestUser(t, srv, "kitm")
			v.Set(secret.KeyStrategy, rotators.AlternatingUsers)
			user := v.Username
			master := masterOf(srv)
			return &rotatortest.Target{
				Rotators: reg,
				Value:    v,
				Master:   &master,
				Login: func(ctx context.Context, v secret.Value) error {
					return srv.Login(ctx, v.Username, v.Password)
				},
				Credentials: func(context.Context) ([]string, error) {
					var out []string
					for _, u := range srv.Users(t) {
						if u == user || u == user+CloneSuffix {
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
		},
	})
}

// TestCloneCopiesRules: the clone gets the original's keys, channels,
// commands and selectors, and one password.
func TestCloneCopiesRules(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := NewMultiUser(testConfig(t, srv))
	cur := newTestUser(t, srv, "rules")
	srv.Admin(t, "ACL", "SETUSER", cur.Username, "&news:*", "+get", "(~sel:* +set)")
	cr, err := r.Create(t.Context(), rotators.CreateRequest{Current: cur})
	if err != nil {
		t.Fatal(err)
	}
	master := masterOf(srv)
	req := rotators.SetRequest{Current: cur, Pending: cr.Pending, Previous: load(secret.Value{}, false), Master: load(master, true)}
	for range 2 {
		if _, err := r.Set(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	c := New(testConfig(t, srv))
	cl, err := c.login(t.Context(), endpoint{host: srv.Host, port: srv.Port, user: dbtest.RedisAdmin, tls: true}, master.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	users, err := aclRules(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(users[cur.Username], users[cr.Pending.Username]) {
		t.Fatalf("clone rules %q differ from the original's %q", users[cr.Pending.Username], users[cur.Username])
	}
	if n := srv.Passwords(t, cr.Pending.Username); n != 1 {
		t.Fatalf("clone holds %d passwords", n)
	}
	if err := srv.Login(t.Context(), cur.Username, cur.Password); err != nil {
		t.Fatal("the original stopped logging in")
	}
}

// TestMultiRefusals: a master naming another server, an existing alternate
// user that is not a clone, and a pending user that is not the alternate are
// refused and change nothing.
func TestMultiRefusals(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := NewMultiUser(testConfig(t, srv))
	cur := newTestUser(t, srv, "refuse")
	cr, err := r.Create(t.Context(), rotators.CreateRequest{Current: cur})
	if err != nil {
		t.Fatal(err)
	}
	master := masterOf(srv)
	set := func(p, m secret.Value) error {
		_, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: p, Previous: load(secret.Value{}, false), Master: load(m, true)})
		return err
	}
	elsewhere := master.Clone()
	elsewhere.Port = srv.PlainPort
	if err := set(cr.Pending, elsewhere); !errors.Is(err, ErrEndpointMismatch) {
		t.Fatalf("master elsewhere: %v, want ErrEndpointMismatch", err)
	}
	nohost := master.Clone()
	nohost.Host = ""
	if err := set(cr.Pending, nohost); !errors.Is(err, ErrNoMaster) {
		t.Fatalf("master without host: %v, want ErrNoMaster", err)
	}
	other := cr.Pending.Clone()
	other.Username = dbtest.RedisAdmin
	if err := set(other, master); !errors.Is(err, ErrNotAlternate) {
		t.Fatalf("pending not the alternate: %v, want ErrNotAlternate", err)
	}
	srv.Admin(t, "ACL", "SETUSER", cr.Pending.Username, "on", ">squatter-password-123", "~*", "+@all")
	if err := set(cr.Pending, master); !errors.Is(err, ErrNotAClone) {
		t.Fatalf("existing non-clone: %v, want ErrNotAClone", err)
	}
	if err := srv.Login(t.Context(), cr.Pending.Username, "squatter-password-123"); err != nil {
		t.Fatal("the refused rotation changed the existing user")
	}
}

// TestMultiCreateDropsRecords: a secret that was rotated as a single user
// carries its password records; alternating users drop them, so a later
// switch back finds no stale record.
func TestMultiCreateDropsRecords(t *testing.T) {
	cur := secret.Value{Engine: Engine, Host: "127.0.0.1", Username: "app", Password: "pw"}
	cur.Set(KeyReplacesSHA256, hashOf("older"))
	cur.Set(KeyRetiresSHA256, hashOf("oldest"))
	cr, err := NewMultiUser(Config{Passwords: password.Default("")}).Create(t.Context(), rotators.CreateRequest{Current: cur})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{KeyReplacesSHA256, KeyRetiresSHA256} {
		if _, ok := cr.Pending.Get(k); ok {
			t.Errorf("pending keeps %s", k)
		}
	}
}
