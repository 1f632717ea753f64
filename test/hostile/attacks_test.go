package hostile

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest/fakemysql"
	"github.com/rotary-secrets/rotary/test/dbtest/fakepg"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// tenant is one member's database user and the secret that holds it.
type tenant struct {
	user, password string
}

// newUser creates a database user on target with a fresh password, planted.
func newUser(t *testing.T, target rig.Target, planted *secrets, prefix string, master bool) tenant {
	t.Helper()
	u := tenant{user: prefix + "_" + rig.RandomHex(4), password: rig.NewPassword()}
	planted.add(u.password)
	if err := target.CreateUser(t.Context(), u.user, u.password, master); err != nil {
		t.Fatal(err)
	}
	return u
}

// alternating returns target's secret for u with masterarn set.
func alternating(target rig.Target, u tenant, masterARN string) secret.Value {
	v := target.Secret(u.user, u.password)
	v.MasterARN = masterARN
	v.Set(secret.KeyStrategy, rotators.AlternatingUsers)
	return v
}

// pgRoleExists reports whether a PostgreSQL role exists.
func pgRoleExists(t *testing.T, pg rig.Postgres, name string) bool {
	t.Helper()
	return len(pg.DB.Strings(t, "SELECT rolname::text FROM pg_roles WHERE rolname = $1", name)) > 0
}

// pgRoleState is everything about a role an attack could change: password
// verifier, attributes, memberships, settings.
func pgRoleState(t *testing.T, pg rig.Postgres, name string) string {
	t.Helper()
	return strings.Join(pg.DB.Strings(t, `SELECT concat_ws(' | ', coalesce(a.rolpassword, ''), a.rolsuper, a.rolinherit, a.rolcreaterole, a.rolcreatedb,
			a.rolcanlogin, a.rolbypassrls,
			(SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid),
			(SELECT string_agg(c, ',' ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setrole = a.oid))
		FROM pg_authid a WHERE a.rolname = $1`, name), "\n")
}

// mariaAccount is SHOW CREATE USER (with the password hash) and SHOW GRANTS
// of user@host as root, or "" if the account does not exist.
func mariaAccount(t *testing.T, m rig.MariaDB, user, host string) string {
	t.Helper()
	if !m.DB.UserExists(t, user, host) {
		return ""
	}
	db := m.DB.RootDB(t)
	var create string
	if err := db.QueryRowContext(t.Context(), "SHOW CREATE USER "+mariaQuote(user)+"@"+mariaQuote(host)).Scan(&create); err != nil {
		t.Fatalf("SHOW CREATE USER %s@%s: %v", user, host, err)
	}
	return create + "\n" + strings.Join(m.DB.ShowGrants(t, user, host), "\n")
}

func mariaQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestCrossAccountMaster is attack 1 (confused deputy): a secret of member A
// names, as its masterarn, a master secret of member B or of the central
// account. The function must refuse before reading it: no call at all in B,
// no read of the central account's secrets, no clone user created on the
// database the foreign master manages, the current credential still working.
func TestCrossAccountMaster(t *testing.T) {
	pg, maria := servers(t)
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", bundle(t, pg.CAFile(), maria.CAFile())))

	for _, c := range []struct {
		name          string
		target        rig.Target
		masterAccount string
	}{
		{"postgres master in B", pg, memberB},
		{"postgres master in the central account", pg, central},
		{"mariadb master in B", maria, memberB},
		{"mariadb master in the central account", maria, central},
	} {
		t.Run(c.name, func(t *testing.T) {
			planted := &secrets{}
			victim := newUser(t, c.target, planted, "master", true)
			masterARN := createSecret(t, w, c.masterAccount, "victim/"+victim.user, c.target.Secret(victim.user, victim.password))
			app := newUser(t, c.target, planted, "app", false)
			arn := createSecret(t, w, memberA, "hostile/"+app.user, alternating(c.target, app, masterARN))
			s := &rig.Secret{Case: rig.Case{Name: "hostile/" + app.user, Account: memberA, Target: c.target, Strategy: rotators.AlternatingUsers}, ARN: arn, User: app.user}

			w.AWS.ResetCalls()
			refused(t, w, s, fn, planted, "masterarn", "account")
			if c.masterAccount == memberB {
				neverRead(t, w, memberB)
			}
			centralNeverRead(t, w)
			clone := app.user + rig.CloneSuffix
			switch tg := c.target.(type) {
			case rig.Postgres:
				if pgRoleExists(t, tg, clone) {
					t.Errorf("role %s was created on the database by the foreign master", clone)
				}
			case rig.MariaDB:
				if tg.DB.UserExists(t, clone, "%") {
					t.Errorf("user %s was created on the database by the foreign master", clone)
				}
			}
			if err := c.target.Login(t.Context(), app.user, app.password); err != nil {
				t.Errorf("the current credential no longer works: %v", err)
			}
			if err := c.target.Login(t.Context(), victim.user, victim.password); err != nil {
				t.Errorf("the foreign master's credential no longer works: %v", err)
			}
		})
	}
}

// TestMasterWithoutHost is attack 2: a master secret without host (not
// RDS-managed) and a user secret naming the attacker's server. The attacker
// knows the user's own password (it wrote the user secret), so its fake lets
// that user in — the "current credentials must log in" guard passes — and then
// asks the master for its password in cleartext: with "ssl": false, and over
// TLS verified for the attacker's own name. The master credential must never
// be sent there: the rotation is refused and the fake sees no master login.
// The same holds for an RDS-managed master (tagged, resolved through the RDS
// API to the real server) when the user secret names another server.
func TestMasterWithoutHost(t *testing.T) {
	pg, maria := servers(t)
	mustListen(t, attackerHost)
	ca, tlsConf := attackerCA(t)
	w := world(t)
	// The attacker's certificate chains to a CA the function trusts, as a
	// public CA's certificate for the attacker's own domain would.
	fn := startCentral(t, w, centralConfig("rotary-central", bundle(t, pg.CAFile(), maria.CAFile(), ca.CAFile)))

	for _, c := range []struct {
		name   string
		target rig.Target
		tls    bool
		rds    bool // the master is RDS-managed: its tag names the real server
	}{
		{"postgres ssl false", pg, false, false},
		{"postgres TLS for the attacker's name", pg, true, false},
		{"mysql ssl false", maria, false, false},
		{"mysql TLS for the attacker's name", maria, true, false},
		{"postgres RDS-managed master", pg, true, true},
		{"mysql RDS-managed master", maria, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			planted := &secrets{}
			master := newUser(t, c.target, planted, "master", true)
			// RDS-managed shape, but no RDS tag: only username and password.
			masterARN := createSecret(t, w, memberA, "db/master-"+master.user, secret.Value{Username: master.user, Password: master.password})
			if c.rds {
				host, port := hostPort(t, c.target)
				db := w.AWS.AddDBInstance(localaws.DBInstance{Account: memberA, Region: rig.Region, Identifier: "db-" + rig.RandomHex(3), Engine: c.target.Engine(), Address: host, Port: port})
				if err := w.AWS.PlantSystemTag(masterARN, rdsx.TagRDSPrimaryInstance, db); err != nil {
					t.Fatal(err)
				}
			}
			app := newUser(t, c.target, planted, "app", false)

			var conf = tlsConf
			if !c.tls {
				conf = nil
			}
			v := alternating(c.target, app, masterARN)
			var logins func() []string
			var cleartexts func() []string
			switch c.target.(type) {
			case rig.Postgres:
				f := startFakePG(t, conf, false, map[string]string{app.user: app.password})
				v.Host, v.Port = f.Host, f.Port
				logins, cleartexts = f.Users, f.Passwords
			default:
				f := startFakeMySQL(t, conf, map[string]string{app.user: app.password})
				v.Engine = "mysql"
				v.Host, v.Port = f.Host, f.Port
				logins = func() []string { return myUsers(f.Logins()) }
				cleartexts = f.Passwords
			}
			if !c.tls {
				off := false
				v.SSL = &off
			}
			arn := createSecret(t, w, memberA, "hostile/"+app.user, v)
			s := &rig.Secret{Case: rig.Case{Name: "hostile/" + app.user, Account: memberA, Target: c.target, Strategy: rotators.AlternatingUsers}, ARN: arn, User: app.user}

			w.AWS.ResetCalls()
			want := "host"
			if c.rds {
				want = "master" // the master's resolved endpoint is not the user secret's
			}
			refused(t, w, s, fn, planted, want)
			for _, u := range logins() {
				if u == master.user {
					t.Errorf("the master user %s logged in at the attacker's server", master.user)
				}
			}
			for _, pw := range cleartexts() {
				if pw == master.password {
					t.Error("the attacker's server received the master password")
				}
			}
			neverRead(t, w, memberB)
			centralNeverRead(t, w)
			if err := c.target.Login(t.Context(), master.user, master.password); err != nil {
				t.Errorf("the master credential no longer works: %v", err)
			}
		})
	}
}

// myUsers are the user names of logins.
func myUsers(ls []fakemysql.Login) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.User)
	}
	return out
}

// TestMySQLAccountHost is attack 3: the holder of 'app'@'%' (or
// 'app_clone'@'%') writes accountHost "10.0.%" into its own secret, naming a
// more privileged account 'app'@'10.0.%' it does not hold the password of.
// The master must not clone that account to a password the attacker reads,
// nor reset its password.
func TestMySQLAccountHost(t *testing.T) {
	_, maria := servers(t)
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", bundle(t, maria.CAFile())))
	const privileged = "10.0.%"

	for _, c := range []struct {
		name  string
		clone bool // the attacker holds app_clone@'%': the pending user is app (reset)
	}{
		{"clone app@10.0.%", false},
		{"reset app@10.0.%", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			planted := &secrets{}
			master := newUser(t, maria, planted, "master", true)
			masterARN := createSecret(t, w, memberA, "db/master-"+master.user, maria.Secret(master.user, master.password))
			base := "app_" + rig.RandomHex(4)
			held := tenant{user: base, password: rig.NewPassword()}
			if c.clone {
				held.user = base + rig.CloneSuffix
			}
			planted.add(held.password)
			if err := maria.CreateUser(t.Context(), held.user, held.password, false); err != nil {
				t.Fatal(err)
			}
			victimPassword := rig.NewPassword()
			planted.add(victimPassword)
			maria.DB.Exec(t, "CREATE USER "+mariaQuote(base)+"@"+mariaQuote(privileged)+" IDENTIFIED BY "+mariaQuote(victimPassword))
			maria.DB.Exec(t, "GRANT ALL PRIVILEGES ON *.* TO "+mariaQuote(base)+"@"+mariaQuote(privileged)+" WITH GRANT OPTION")
			before := mariaAccount(t, maria, base, privileged)
			cloneBefore := mariaAccount(t, maria, base+rig.CloneSuffix, privileged)

			v := alternating(maria, held, masterARN)
			v.Set("accountHost", privileged)
			arn := createSecret(t, w, memberA, "hostile/"+held.user, v)
			s := &rig.Secret{Case: rig.Case{Name: "hostile/" + held.user, Account: memberA, Target: maria, Strategy: rotators.AlternatingUsers}, ARN: arn, User: held.user}

			w.AWS.ResetCalls()
			refused(t, w, s, fn, planted, "accountHost")
			if after := mariaAccount(t, maria, base, privileged); after != before {
				t.Errorf("'%s'@'%s' changed:\nbefore: %s\nafter:  %s", base, privileged, before, after)
			}
			if after := mariaAccount(t, maria, base+rig.CloneSuffix, privileged); after != cloneBefore {
				t.Errorf("'%s'@'%s' was created or changed: %s", base+rig.CloneSuffix, privileged, after)
			}
			if err := maria.Login(t.Context(), held.user, held.password); err != nil {
				t.Errorf("the current credential no longer works: %v", err)
			}
		})
	}
}

// TestCloneTakeover is attack 4: a PostgreSQL role "<user>_clone" that
// exists with more than a clone has (CREATEROLE, membership in a role the
// original lacks) and a password the attacker does not know. The holder of
// <user> rotates its alternating-users secret: the rotation must refuse to
// set that role's password and leave it exactly as it was.
func TestCloneTakeover(t *testing.T) {
	pg, _ := servers(t)
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", bundle(t, pg.CAFile())))
	planted := &secrets{}
	master := newUser(t, pg, planted, "master", true)
	masterARN := createSecret(t, w, memberA, "db/master-"+master.user, pg.Secret(master.user, master.password))
	app := newUser(t, pg, planted, "app", false)
	clone := app.user + rig.CloneSuffix
	cloneDB := pgx.Identifier{clone}.Sanitize()
	payroll := "payroll_" + rig.RandomHex(4)
	victimPassword := rig.NewPassword()
	planted.add(victimPassword)
	pg.DB.Exec(t,
		"SET log_statement = 'none'",
		"CREATE ROLE "+pgx.Identifier{payroll}.Sanitize()+" NOLOGIN",
		"CREATE ROLE "+cloneDB+" LOGIN CREATEROLE PASSWORD "+quotePG(victimPassword),
		"GRANT "+pgx.Identifier{payroll}.Sanitize()+" TO "+cloneDB,
		"GRANT "+pgx.Identifier{app.user}.Sanitize()+" TO "+cloneDB, // it even looks like a clone
	)
	before := pgRoleState(t, pg, clone)
	arn := createSecret(t, w, memberA, "hostile/"+app.user, alternating(pg, app, masterARN))
	s := &rig.Secret{Case: rig.Case{Name: "hostile/" + app.user, Account: memberA, Target: pg, Strategy: rotators.AlternatingUsers}, ARN: arn, User: app.user}

	w.AWS.ResetCalls()
	refused(t, w, s, fn, planted, clone)
	if after := pgRoleState(t, pg, clone); after != before {
		t.Errorf("role %s changed:\nbefore: %s\nafter:  %s", clone, before, after)
	}
	if err := pg.Login(t.Context(), clone, victimPassword); err != nil {
		t.Errorf("the clone's owner can no longer log in: %v", err)
	}
	if err := pg.Login(t.Context(), app.user, app.password); err != nil {
		t.Errorf("the current credential no longer works: %v", err)
	}
	neverRead(t, w, memberB)
	centralNeverRead(t, w)
}

func quotePG(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestHostileEngineNotADimension is attack 6: the secret's own engine string
// (any length, any text) must never become a metric dimension: neither a long
// one nor a short one that looks harmless.
func TestHostileEngineNotADimension(t *testing.T) {
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", ""))
	for _, c := range []struct {
		name, pad string
	}{
		{"long", strings.Repeat("x", 300)},
		{"short", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			planted := &secrets{}
			marker := "HostileDim" + rig.RandomHex(4)
			pw := rig.NewPassword()
			planted.add(pw)
			name := "hostile/engine-" + c.name
			arn := createSecret(t, w, memberA, name, secret.Value{Engine: marker + c.pad, Host: "127.0.0.1", Port: 1, Username: "u", Password: pw})
			s := &rig.Secret{Case: rig.Case{Name: name, Account: memberA}, ARN: arn}

			w.AWS.ResetCalls()
			from := len(fn.Logs())
			refused(t, w, s, fn, planted, "engine")
			logs := fn.Logs()[from:]
			dims := emfDimensions(logs)
			if len(dims["Engine"]) == 0 {
				t.Fatalf("no EMF record with an Engine dimension in the logs:\n%s", logs)
			}
			for dim, values := range dims {
				for _, v := range values {
					if strings.Contains(strings.ToLower(v), strings.ToLower(marker)) {
						t.Errorf("EMF dimension %s holds the secret's engine string (%d characters)", dim, len(v))
					} else if len(v) > 40 {
						t.Errorf("EMF dimension %s is %d characters long: dimensions must come from a closed set", dim, len(v))
					}
				}
			}
			neverRead(t, w, memberB)
		})
	}
}

// startFakePG starts the attacker's PostgreSQL server on attackerHost: the
// users it knows log in with their own password through SCRAM-SHA-256 (so the
// "current credentials must log in" guard passes, and a client that refuses
// cleartext still logs in); everyone else, the master user it hopes to see,
// is asked for the password in cleartext, which it records. With stall, a
// known user's session is accepted and then never gets an answer to any
// statement (a hostile or broken target holding a rotation).
func startFakePG(t *testing.T, tlsConf *tls.Config, stall bool, users map[string]string) *fakepg.Server {
	t.Helper()
	return fakepg.Start(t, fakepg.Options{Host: attackerHost, TLS: tlsConf, Stall: stall, Users: users, Auth: fakepg.Cleartext})
}

// startFakeMySQL starts the attacker's MySQL server on attackerHost: a known
// user's own password passes caching_sha2_password's fast path (the client
// proves it with a scramble), so the "current credentials must log in" guard
// passes. Anyone else, the master user, is asked for full authentication,
// which a client answers with the password in cleartext over TLS, or
// RSA-encrypted with a public key the server itself hands out; either way the
// fake records it and refuses the login.
func startFakeMySQL(t *testing.T, tlsConf *tls.Config, users map[string]string) *fakemysql.Server {
	t.Helper()
	return fakemysql.Start(t, fakemysql.Config{Host: attackerHost, TLS: tlsConf, Users: users, Auth: fakemysql.AuthCachingSHA2Full, Deny: true})
}
