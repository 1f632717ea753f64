package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

const masterARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"

func newMulti(t *testing.T, pg *dbtest.Postgres, resolver ...postgres.EndpointResolver) *postgres.MultiUser {
	t.Helper()
	cfg := config(pg)
	if len(resolver) > 0 {
		cfg.Endpoints = resolver[0]
	}
	r, err := postgres.NewMultiUser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pair is an application role with a schema it owns, a master role that may
// manage it, and their secrets.
type pair struct {
	base, clone, schema string
	user, master        secret.Value
}

// newPair creates the roles; the clone and everything owned is dropped when t
// ends.
func newPair(t *testing.T, pg *dbtest.Postgres, prefix string) pair {
	t.Helper()
	p := pair{base: newName(prefix)}
	p.clone = p.base + postgres.CloneSuffix
	p.schema = p.base + "_s"
	masterName, masterPW, pw := newName("master"), newPassword(), newPassword()
	pg.CreateRole(t, masterName, masterPW, "CREATEROLE")
	pg.CreateRole(t, p.base, pw)
	t.Cleanup(func() { pg.DropRole(t, p.clone) })
	pg.Exec(t, "CREATE SCHEMA "+pgx.Identifier{p.schema}.Sanitize()+" AUTHORIZATION "+pgx.Identifier{p.base}.Sanitize())
	p.user = userSecret(pg, p.base, pw)
	p.user.MasterARN = masterARN
	p.master = userSecret(pg, masterName, masterPW)
	return p
}

// asUser runs statements as a user; it fails t on error.
func asUser(t *testing.T, pg *dbtest.Postgres, v secret.Value, sql ...string) {
	t.Helper()
	c := pg.Connect(t, v.Username, v.Password)
	for _, s := range sql {
		if _, err := c.Exec(t.Context(), s); err != nil {
			t.Fatalf("as %s: %s: %v", v.Username, s, err)
		}
	}
	_ = c.Close(context.Background())
}

// TestMultiUserRotations is acceptance 1 for alternating users: the clone is
// created, AWSPREVIOUS keeps working until the next rotation, both users read
// and write each other's tables, tables either creates belong to the original.
func TestMultiUserRotations(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newMulti(t, pg)
	p := newPair(t, pg, "multi")
	d := &direct{rot: r, current: p.user, master: p.master}
	tbl := func(name string) string { return pgx.Identifier{p.schema, name}.Sanitize() }
	asUser(t, pg, p.user, "CREATE TABLE "+tbl("by_base")+" (v text)", "INSERT INTO "+tbl("by_base")+" VALUES ('base')")

	wantUsers := []string{p.clone, p.base, p.clone, p.base}
	var passwords []string
	for i, want := range wantUsers {
		prev := d.current
		var next secret.Value
		stats := loginDelta(r, func() {
			var err error
			if next, err = d.rotate(t); err != nil {
				t.Fatalf("rotation %d: %v", i+1, err)
			}
		})
		passwords = append(passwords, next.Password)
		if next.Username != want {
			t.Fatalf("rotation %d: pending user %q, want %q", i+1, next.Username, want)
		}
		if stats != (postgres.Stats{Logins: 3}) {
			t.Errorf("rotation %d: %+v, want 3 logins (current, master, pending) and none failed", i+1, stats)
		}
		if !pg.CanLogin(t, next.Username, next.Password) {
			t.Fatalf("rotation %d: the new credentials do not log in", i+1)
		}
		if !pg.CanLogin(t, prev.Username, prev.Password) {
			t.Errorf("rotation %d: AWSPREVIOUS (%s) stopped working", i+1, prev.Username)
		}
		if i >= 2 {
			if old := passwords[i-2]; pg.CanLogin(t, next.Username, old) {
				t.Errorf("rotation %d: %s's password from two rotations ago still works", i+1, next.Username)
			}
		}
		// Each user writes to every table, then creates its own.
		own := "by_" + strings.ReplaceAll(next.Username, p.base, "base")
		asUser(t, pg, next,
			"INSERT INTO "+tbl("by_base")+" VALUES ('"+next.Username+"')",
			"CREATE TABLE IF NOT EXISTS "+tbl(own)+" (v text)",
			"INSERT INTO "+tbl(own)+" VALUES ('x')",
			"UPDATE "+tbl(own)+" SET v = 'y'",
		)
		if i > 0 {
			asUser(t, pg, next, "INSERT INTO "+tbl("by_base_clone")+" VALUES ('"+next.Username+"')", "DELETE FROM "+tbl("by_base_clone")+" WHERE v = 'nothing'")
		}
		asUser(t, pg, prev, "SELECT count(*) FROM "+tbl("by_base_clone")+" UNION ALL SELECT count(*) FROM "+tbl("by_base"))
	}

	// Both tables belong to the original role.
	owners := pg.Strings(t, "SELECT tableowner::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", p.schema)
	if len(owners) != 2 || owners[0] != p.base || owners[1] != p.base {
		t.Errorf("table owners %q, want both %q", owners, p.base)
	}
	assertNoSecret(t, "server log", pg.Log(), passwords...)
}

// TestMultiUserHostileNames alternates pairs whose names need quoting.
func TestMultiUserHostileNames(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	for _, prefix := range []string{`m"q'; DROP ROLE x; --`, `back\slash`, "ünï ロール"} {
		t.Run(prefix, func(t *testing.T) {
			r := newMulti(t, pg)
			p := newPair(t, pg, prefix)
			d := &direct{rot: r, current: p.user, master: p.master}
			for i, want := range []string{p.clone, p.base} {
				next, err := d.rotate(t)
				if err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
				if next.Username != want || !pg.CanLogin(t, want, next.Password) {
					t.Fatalf("rotation %d: user %q does not log in with the new password", i+1, want)
				}
			}
		})
	}
}

// TestMultiUserResync: a clone that lost its membership and role setting gets
// them back at the next rotation that sets it; a rotation that would hand the
// original's password to a clone that is not its member is refused.
func TestMultiUserResync(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newMulti(t, pg)
	p := newPair(t, pg, "resync")
	d := &direct{rot: r, current: p.user, master: p.master}
	tbl := pgx.Identifier{p.schema, "t"}.Sanitize()
	asUser(t, pg, p.user, "CREATE TABLE "+tbl+" (v text)")
	if _, err := d.rotate(t); err != nil { // clone
		t.Fatal(err)
	}
	cloneIdent, baseIdent := pgx.Identifier{p.clone}.Sanitize(), pgx.Identifier{p.base}.Sanitize()
	pg.Exec(t, "REVOKE "+baseIdent+" FROM "+cloneIdent, "ALTER ROLE "+cloneIdent+" RESET role")

	// Rotation 2 would set the original's password: refused, nothing changed.
	basePW := d.previous.Password
	if _, err := d.rotate(t); !errors.Is(err, postgres.ErrGuard) {
		t.Fatalf("rotation with an unlinked clone: %v, want ErrGuard", err)
	}
	if !pg.CanLogin(t, p.base, basePW) {
		t.Fatal("refused rotation changed the original's password")
	}

	// Re-grant by hand, rotate to the original, break the clone again: the
	// rotation to the clone repairs it.
	pg.Exec(t, "GRANT "+baseIdent+" TO "+cloneIdent)
	if _, err := d.rotate(t); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "REVOKE "+baseIdent+" FROM "+cloneIdent, "ALTER ROLE "+cloneIdent+" RESET role")
	next, err := d.rotate(t)
	if err != nil {
		t.Fatal(err)
	}
	if next.Username != p.clone {
		t.Fatalf("pending user %q, want the clone", next.Username)
	}
	asUser(t, pg, next, "INSERT INTO "+tbl+" VALUES ('clone again')")
}

// The RDS API implementation satisfies the resolver interface (test-only
// import: the package itself never imports the AWS SDK).
var _ postgres.EndpointResolver = (*rdsx.Endpoints)(nil)

type resolverCall struct{ masterARN, token, instance, cluster string }

// TestMultiUserLegacyClone: a clone made under AWS's model that owns tables is
// not switched to act as the original (it would lose them); the error says how
// to migrate, and after REASSIGN OWNED the rotation works.
func TestMultiUserLegacyClone(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	r := newMulti(t, pg)
	p := newPair(t, pg, "legacy")
	clonePW := newPassword()
	cloneIdent, baseIdent := pgx.Identifier{p.clone}.Sanitize(), pgx.Identifier{p.base}.Sanitize()
	pg.CreateRole(t, p.clone, clonePW)
	pg.Exec(t, "GRANT "+baseIdent+" TO "+cloneIdent)
	legacy := p.user.Clone()
	legacy.Username, legacy.Password = p.clone, clonePW
	asUser(t, pg, legacy, "CREATE TABLE "+pgx.Identifier{p.schema, "by_legacy_clone"}.Sanitize()+" (v text)")

	d := &direct{rot: r, current: p.user, master: p.master}
	_, err := d.rotate(t)
	if err == nil || !strings.Contains(err.Error(), "REASSIGN OWNED BY") {
		t.Fatalf("rotate: %v, want the REASSIGN OWNED advice", err)
	}
	if !pg.CanLogin(t, p.clone, clonePW) {
		t.Fatal("the refused rotation changed the clone's password")
	}
	pg.Exec(t, "REASSIGN OWNED BY "+cloneIdent+" TO "+baseIdent)
	next, err := d.rotate(t)
	if err != nil {
		t.Fatalf("rotate after REASSIGN OWNED: %v", err)
	}
	asUser(t, pg, next, "INSERT INTO "+pgx.Identifier{p.schema, "by_legacy_clone"}.Sanitize()+" VALUES ('ok')")
	asUser(t, pg, p.user, "INSERT INTO "+pgx.Identifier{p.schema, "by_legacy_clone"}.Sanitize()+" VALUES ('ok')")
}

type fixedResolver struct {
	host string
	port int
	got  []resolverCall
}

func (f *fixedResolver) ResolveEndpoint(_ context.Context, masterARN, token, instance, cluster string) (string, int, error) {
	f.got = append(f.got, resolverCall{masterARN, token, instance, cluster})
	return f.host, f.port, nil
}

// TestMultiUserRDSManagedMaster: a master secret with only username and
// password logs in at the endpoint the resolver gives for it, which must be
// the user secret's server; without a resolver, or when the resolver finds no
// endpoint (not RDS-managed), it is refused.
func TestMultiUserRDSManagedMaster(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name         string
		resolver     *fixedResolver
		masterPort   int  // the master secret's "port" (0: none)
		masterIsUser bool // the master secret names the original user: refused before RDS is asked
		wantErr      error
	}{
		{name: "no resolver", wantErr: postgres.ErrMasterEndpoint},
		{name: "resolver agrees", resolver: &fixedResolver{host: pg.Host, port: pg.Port}},
		{name: "resolver agrees, host in another case", resolver: &fixedResolver{host: "LOCALHOST", port: pg.Port}},
		{name: "master not RDS-managed", resolver: &fixedResolver{}, wantErr: postgres.ErrMasterEndpoint},
		{name: "resolver disagrees", resolver: &fixedResolver{host: "db.example.internal", port: pg.Port}, wantErr: postgres.ErrEndpointMismatch},
		// A master secret without host that names another port than its
		// RDS database's contradicts RDS: refused, not silently corrected.
		{name: "master names another port than RDS", resolver: &fixedResolver{host: pg.Host, port: pg.Port}, masterPort: pg.Port + 1, wantErr: postgres.ErrEndpointMismatch},
		{name: "master is the original user", resolver: &fixedResolver{host: pg.Host, port: pg.Port}, masterIsUser: true, wantErr: postgres.ErrGuard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *postgres.MultiUser
			if tt.resolver != nil {
				r = newMulti(t, pg, tt.resolver)
			} else {
				r = newMulti(t, pg)
			}
			p := newPair(t, pg, "rds")
			p.user.DBInstanceIdentifier = "db-instance-1"
			if tt.name == "resolver agrees, host in another case" {
				p.user.Host = "localhost"
			}
			managed := secret.Value{Username: p.master.Username, Password: p.master.Password, Port: tt.masterPort}
			if tt.masterIsUser {
				managed.Username = p.base
			}
			d := &direct{rot: r, current: p.user, master: managed}
			next, err := d.rotate(t)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("rotate: %v, want %v", err, tt.wantErr)
			}
			if got := pg.CanLogin(t, next.Username, next.Password); got != (tt.wantErr == nil) {
				t.Errorf("pending logs in = %v", got)
			}
			if tt.masterIsUser {
				if len(tt.resolver.got) != 0 {
					t.Errorf("resolver asked %+v for a master the guard refuses, want no call", tt.resolver.got)
				}
			} else if tt.resolver != nil {
				// token: the rotation's ClientRequestToken (direct's 32 hex digits).
				want := resolverCall{masterARN: masterARN, instance: "db-instance-1"}
				if len(tt.resolver.got) == 1 && len(tt.resolver.got[0].token) == 32 {
					want.token = tt.resolver.got[0].token
				}
				if len(tt.resolver.got) != 1 || tt.resolver.got[0] != want {
					t.Errorf("resolver asked %+v, want one %+v", tt.resolver.got, want)
				}
			}
			if err != nil {
				assertNoSecret(t, "error", err.Error(), managed.Password, next.Password, p.user.Password)
			}
		})
	}
}

// TestMultiUserGuards: each confused-deputy guard refuses before the master
// user changes anything.
func TestMultiUserGuards(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name       string
		change     func(p *pair, pending *secret.Value)
		superuser  bool
		wantErr    error
		wantKeyErr string
	}{
		{name: "pending is not the alternate", change: func(p *pair, pending *secret.Value) { pending.Username = p.master.Username }, wantErr: postgres.ErrGuard},
		{name: "pending on another port", change: func(p *pair, pending *secret.Value) { pending.Port++ }, wantErr: postgres.ErrGuard},
		{name: "master on another server", change: func(p *pair, _ *secret.Value) { p.master.Host = pg.AltHost }, wantErr: postgres.ErrEndpointMismatch},
		{name: "master on another port", change: func(p *pair, _ *secret.Value) { p.master.Port++ }, wantErr: postgres.ErrEndpointMismatch},
		{name: "current credentials refused", change: func(p *pair, _ *secret.Value) { p.user.Password = "wrong-" + randomHex(4) }, wantErr: postgres.ErrGuard},
		{name: "master is the original", change: func(p *pair, _ *secret.Value) { p.master.Username = p.base }, wantErr: postgres.ErrGuard},
		{name: "original is a superuser", superuser: true, wantErr: postgres.ErrGuard},
		{name: "no masterarn", change: func(p *pair, pending *secret.Value) { p.user.MasterARN = ""; pending.MasterARN = "" }, wantKeyErr: secret.KeyMasterARN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newMulti(t, pg)
			p := newPair(t, pg, "guard")
			if tt.superuser {
				pg.Exec(t, "ALTER ROLE "+pgx.Identifier{p.base}.Sanitize()+" SUPERUSER")
			}
			pending := p.user.Clone()
			pending.Username, pending.Password = p.clone, "Pending-"+randomHex(8)
			if tt.change != nil {
				tt.change(&p, &pending)
			}
			_, err := r.Set(t.Context(), rotators.SetRequest{Current: p.user, Pending: pending, Previous: fixed(secret.Value{}), Master: fixed(p.master)})
			if tt.wantKeyErr != "" {
				var keyErr *secret.KeyError
				if !errors.As(err, &keyErr) || keyErr.Key != tt.wantKeyErr {
					t.Fatalf("Set: %v, want KeyError for %s", err, tt.wantKeyErr)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Set: %v, want %v", err, tt.wantErr)
			}
			if exists := pg.Strings(t, "SELECT rolname::text FROM pg_roles WHERE rolname = $1", p.clone); len(exists) > 0 {
				t.Error("the clone was created despite the refusal")
			}
			assertNoSecret(t, "error", err.Error(), pending.Password, p.master.Password)
		})
	}
}

// TestAlternateNames checks the _clone naming and its 63-byte limit, at
// Create, before any connection.
func TestAlternateNames(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "app", want: "app_clone"},
		{in: "app_clone", want: "app"},
		{in: "_clone", want: "_clone_clone"},
		{in: "", wantErr: true},
		{in: strings.Repeat("a", 57), want: strings.Repeat("a", 57) + "_clone"},
		{in: strings.Repeat("a", 58), wantErr: true},
		{in: strings.Repeat("é", 29), wantErr: true}, // 58 bytes
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := postgres.Alternate(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Alternate(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	t.Run("create refuses a name too long to clone", func(t *testing.T) {
		pg := dbtest.SharedPostgres(t)
		r := newMulti(t, pg)
		v := userSecret(pg, strings.Repeat("z", 58), "pw-123456")
		v.MasterARN = masterARN
		_, err := r.Create(t.Context(), rotators.CreateRequest{Current: v, Passwords: password.Local{}})
		var keyErr *secret.KeyError
		if !errors.As(err, &keyErr) || keyErr.Key != secret.KeyUsername {
			t.Fatalf("Create: %v, want a KeyError for username", err)
		}
		if r.Stats().Logins != 0 {
			t.Error("Create logged in")
		}
	})
}

// FuzzAlternate: the alternate of the alternate is the name itself, and never
// longer than PostgreSQL keeps.
func FuzzAlternate(f *testing.F) {
	for _, s := range []string{"app", "app_clone", "_clone", "", "x_clone_clone", strings.Repeat("a", 57)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		alt, err := postgres.Alternate(name)
		if err != nil {
			return
		}
		if len(alt) > postgres.MaxNameLen && len(alt) > len(name) {
			t.Fatalf("Alternate(%q) = %q is longer than %d bytes", name, alt, postgres.MaxNameLen)
		}
		if base, ok := strings.CutSuffix(name, postgres.CloneSuffix); ok && base != "" {
			if alt != base {
				t.Fatalf("Alternate(%q) = %q, want %q", name, alt, base)
			}
			return
		}
		back, err := postgres.Alternate(alt)
		if err != nil || back != name {
			t.Fatalf("Alternate(Alternate(%q)) = %q, %v", name, back, err)
		}
	})
}

// TestMultiUserCloneTakeover: a pre-existing "_clone" role that is not
// exactly a clone of the original (an attribute the original lacks, a
// membership the original lacks, members of its own, ADMIN OPTION, another
// connection limit, objects it owns, privileges granted to it) is refused
// with ErrCloneMismatch and left untouched; an exact one is adopted.
func TestMultiUserCloneTakeover(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name   string
		mutate func(base, clone, intruder string) []string // statements run as superuser
		ok     bool
	}{
		{name: "exact clone", ok: true},
		{name: "same extra attribute as the original", ok: true, mutate: func(b, c, _ string) []string {
			return []string{"ALTER ROLE " + b + " CREATEDB", "ALTER ROLE " + c + " CREATEDB"}
		}},
		{name: "CREATEROLE", mutate: func(_, c, _ string) []string { return []string{"ALTER ROLE " + c + " CREATEROLE"} }},
		{name: "CREATEDB", mutate: func(_, c, _ string) []string { return []string{"ALTER ROLE " + c + " CREATEDB"} }},
		{name: "REPLICATION", mutate: func(_, c, _ string) []string { return []string{"ALTER ROLE " + c + " REPLICATION"} }},
		{name: "BYPASSRLS", mutate: func(_, c, _ string) []string { return []string{"ALTER ROLE " + c + " BYPASSRLS"} }},
		{name: "membership the original has too", ok: true, mutate: func(b, c, _ string) []string {
			return []string{"GRANT pg_read_all_data TO " + b, "GRANT pg_read_all_data TO " + c}
		}},
		{name: "admin option the original lacks", mutate: func(b, c, _ string) []string {
			return []string{"GRANT pg_read_all_data TO " + b, "GRANT pg_read_all_data TO " + c + " WITH ADMIN OPTION"}
		}},
		{name: "membership the original lacks", mutate: func(_, c, _ string) []string { return []string{"GRANT pg_read_all_data TO " + c} }},
		{name: "a member of its own", mutate: func(_, c, i string) []string { return []string{"GRANT " + c + " TO " + i} }},
		{name: "admin option on the original", mutate: func(b, c, _ string) []string { return []string{"GRANT " + b + " TO " + c + " WITH ADMIN OPTION"} }},
		{name: "connection limit", mutate: func(_, c, _ string) []string { return []string{"ALTER ROLE " + c + " CONNECTION LIMIT 3"} }},
		{name: "owns a schema", mutate: func(_, c, i string) []string { return []string{"CREATE SCHEMA " + i + " AUTHORIZATION " + c} }},
		{name: "privilege granted to it", mutate: func(_, c, i string) []string {
			return []string{"CREATE TABLE public." + i + " (v text)", "ALTER TABLE public." + i + " OWNER TO " + i, "GRANT SELECT ON public." + i + " TO " + c}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newMulti(t, pg)
			p := newPair(t, pg, "takeover")
			intruder := newName("intruder")
			pg.CreateRole(t, intruder, newPassword())
			clonePW := newPassword()
			pg.CreateRole(t, p.clone, clonePW)
			b, c, i := pgx.Identifier{p.base}.Sanitize(), pgx.Identifier{p.clone}.Sanitize(), pgx.Identifier{intruder}.Sanitize()
			pg.Exec(t, "GRANT "+b+" TO "+c)
			if tt.mutate != nil {
				pg.Exec(t, tt.mutate(b, c, i)...)
			}
			d := &direct{rot: r, current: p.user, master: p.master}
			next, err := d.rotate(t)
			if tt.ok {
				if err != nil {
					t.Fatalf("rotate: %v", err)
				}
				if !pg.CanLogin(t, p.clone, next.Password) {
					t.Error("the adopted clone does not log in with the new password")
				}
				return
			}
			if !errors.Is(err, postgres.ErrCloneMismatch) {
				t.Fatalf("rotate: %v, want ErrCloneMismatch", err)
			}
			t.Logf("error: %v", err)
			if !pg.CanLogin(t, p.clone, clonePW) {
				t.Error("the refused rotation changed the clone's password")
			}
			if s := pg.Strings(t, "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)", p.clone); len(s) > 0 {
				t.Errorf("the refused rotation gave the clone settings %q", s)
			}
			assertNoSecret(t, "error", err.Error(), next.Password, clonePW, p.master.Password)
		})
	}

	// The rotation that would set the original's password refuses too when
	// the clone has been tampered with since the last rotation.
	t.Run("tampered before the original's rotation", func(t *testing.T) {
		r := newMulti(t, pg)
		p := newPair(t, pg, "tamper")
		intruder := newName("intruder")
		pg.CreateRole(t, intruder, newPassword())
		d := &direct{rot: r, current: p.user, master: p.master}
		if _, err := d.rotate(t); err != nil {
			t.Fatal(err)
		}
		basePW := d.previous.Password
		pg.Exec(t, "GRANT "+pgx.Identifier{p.clone}.Sanitize()+" TO "+pgx.Identifier{intruder}.Sanitize())
		if _, err := d.rotate(t); !errors.Is(err, postgres.ErrCloneMismatch) {
			t.Fatalf("rotate: %v, want ErrCloneMismatch", err)
		}
		if !pg.CanLogin(t, p.base, basePW) {
			t.Error("the refused rotation changed the original's password")
		}
	})
}
