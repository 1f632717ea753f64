package mysql

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql/internal/authhash"
	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.StopSharedMariaDB()
	os.Exit(code)
}

// testConfig trusts the server's test CA.
func testConfig(m *dbtest.MariaDB) Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CAPEM)
	return Config{Passwords: password.Default(password.MySQLExclude), RootCAs: pool}
}

// newPassword returns a random password (never sent to the server in plain).
func newPassword(t testing.TB) string {
	t.Helper()
	pw, err := password.Default(password.MySQLExclude).Generate()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// newTestUser creates user@host with a random password, sent pre-hashed so the
// general log never holds it, and runs each grant (with %s for the account).
func newTestUser(t testing.TB, m *dbtest.MariaDB, user, host string, grants ...string) secret.Value {
	t.Helper()
	pw := newPassword(t)
	m.Exec(t, "CREATE USER "+account(user, host)+" IDENTIFIED BY PASSWORD ?", authhash.Native(pw))
	for _, g := range grants {
		m.Exec(t, fmt.Sprintf(g, account(user, host)))
	}
	t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(user, host)) })
	return secret.Value{Engine: "mariadb", Host: m.Host, Port: m.Port, Username: user, Password: pw}
}

func loader(v secret.Value, ok bool) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) { return v, ok, nil }
}

// versions is what the engine would have stored for a secret.
type versions struct {
	current, previous, master secret.Value
	hasPrevious, hasMaster    bool
}

// rotator is what the tests use of the three strategy types.
type rotator interface {
	rotators.Rotator
	Stats() Stats
}

// strategyOf is the rotationStrategy value r implements.
func strategyOf(r rotators.Rotator) string {
	switch r.(type) {
	case *SingleUser:
		return rotators.SingleUser
	case *MultiUser:
		return rotators.AlternatingUsers
	case *DualPassword:
		return rotators.DualPassword
	}
	return ""
}

// rotate runs the four steps in the engine's order and returns the new
// AWSCURRENT value; the old current becomes previous.
func rotate(t testing.TB, r rotators.Rotator, vs *versions) error {
	t.Helper()
	ctx := context.Background()
	rot := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:us-east-1:111111111111:secret:test-AbCdEf", Token: "token-" + newPassword(t)[:8]}
	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: vs.current, Passwords: password.Local{},
		Previous: loader(vs.previous, vs.hasPrevious), Master: loader(vs.master, vs.hasMaster)})
	if err != nil {
		return err
	}
	pending := cr.Pending
	if _, err := r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: vs.current, Pending: pending,
		Previous: loader(vs.previous, vs.hasPrevious), Master: loader(vs.master, vs.hasMaster)}); err != nil {
		return err
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: pending,
		Current: loader(vs.current, true), Master: loader(vs.master, vs.hasMaster)}); err != nil {
		return err
	}
	// No Finish: a database rotator has no finish work (it is no rotators.Finisher).
	vs.previous, vs.hasPrevious = vs.current, true
	vs.current = pending
	return nil
}

func mustLogin(t testing.TB, m *dbtest.MariaDB, v secret.Value) {
	t.Helper()
	if err := m.Login(context.Background(), v.Username, v.Password); err != nil {
		t.Fatalf("login as %q with the stored password: %v", v.Username, err)
	}
}

func mustBeDenied(t testing.TB, m *dbtest.MariaDB, v secret.Value) {
	t.Helper()
	if err := m.Login(context.Background(), v.Username, v.Password); !dbtest.IsMySQLAccessDenied(err) {
		t.Fatalf("login as %q with an old password: got %v, want access denied", v.Username, err)
	}
}

func TestSingleUserRotation(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewSingleUser(testConfig(m))
	vs := &versions{current: newTestUser(t, m, dbtest.NewMySQLUserName("single"), "%")}
	old := vs.current

	if err := rotate(t, r, vs); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	mustLogin(t, m, vs.current)
	mustBeDenied(t, m, old)
	if got, want := r.Stats(), (Stats{Logins: 2, FailedLogins: 0}); got != want {
		t.Errorf("Stats() = %+v, want %+v (happy path: one login to set, one to test)", got, want)
	}
	if log := m.GeneralLog(t); strings.Contains(log, vs.current.Password) {
		t.Errorf("the general log holds the new password in plaintext")
	}

	t.Run("second rotation", func(t *testing.T) {
		before := vs.current
		if err := rotate(t, r, vs); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		mustLogin(t, m, vs.current)
		mustBeDenied(t, m, before)
	})
}

func TestSingleUserEachStepTwice(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewSingleUser(testConfig(m))
	cur := newTestUser(t, m, dbtest.NewMySQLUserName("twice"), "%")
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: "arn", Token: "tok"}
	none := loader(secret.Value{}, false)

	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}, Previous: none, Master: none})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}, Previous: none, Master: none}); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	pending := cr.Pending
	for i := range 2 {
		if _, err := r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: cur, Pending: pending, Previous: none, Master: none}); err != nil {
			t.Fatalf("Set #%d: %v", i+1, err)
		}
		mustLogin(t, m, pending)
	}
	for i := range 2 {
		if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: pending, Current: loader(cur, true), Master: none}); err != nil {
			t.Fatalf("Test #%d: %v", i+1, err)
		}
	}
	mustLogin(t, m, pending)
	mustBeDenied(t, m, cur)
}

// TestSingleUserDroppedConnection cuts the connection right after the
// password statement reaches the server: the server applies it, the rotator
// never hears back. The retried setSecret must notice the pending password
// already works and finish the rotation.
func TestSingleUserDroppedConnection(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	proxy := dbtest.NewFaultProxy(t, m.Addr())
	r := NewSingleUser(testConfig(m))
	cur := newTestUser(t, m, dbtest.NewMySQLUserName("drop"), "%")
	// The proxy sees plaintext only.
	off := false
	cur.SSL = &off
	host, port := splitAddr(t, proxy.Addr)
	cur.Host, cur.Port = host, port
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: "arn", Token: "tok"}
	none := loader(secret.Value{}, false)
	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}, Previous: none, Master: none})
	if err != nil {
		t.Fatal(err)
	}
	pending := cr.Pending
	proxy.DropAfter("SET PASSWORD")
	set := rotators.SetRequest{Rotation: rot, Current: cur, Pending: pending, Previous: none, Master: none}
	if _, err := r.Set(ctx, set); err == nil {
		t.Fatal("Set succeeded although the connection was dropped")
	} else if strings.Contains(err.Error(), pending.Password) || strings.Contains(err.Error(), cur.Password) {
		t.Fatal("the error holds a password")
	}
	if proxy.Fired() != 1 {
		t.Fatalf("proxy fired %d times, want 1", proxy.Fired())
	}
	// The statement was applied.
	mustLogin(t, m, pending)
	if _, err := r.Set(ctx, set); err != nil {
		t.Fatalf("retried Set: %v", err)
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: pending, Current: loader(cur, true), Master: none}); err != nil {
		t.Fatalf("Test after retry: %v", err)
	}
	mustLogin(t, m, pending)
	mustBeDenied(t, m, cur)
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscanf(addr[i+1:], "%d", &port); err != nil {
		t.Fatalf("bad address %q", addr)
	}
	return addr[:i], port
}

// normalisedGrants is SHOW GRANTS of user@host with the grantee renamed to
// as and the password hash removed, sorted.
func normalisedGrants(t testing.TB, m *dbtest.MariaDB, user, host, as string) []string {
	t.Helper()
	var out []string
	for _, g := range m.ShowGrants(t, user, host) {
		g = strings.ReplaceAll(g, " TO "+account(user, host), " TO "+account(as, host))
		g = strings.ReplaceAll(g, " FOR "+account(user, host), " FOR "+account(as, host))
		if i := strings.Index(g, " IDENTIFIED BY PASSWORD '"); i >= 0 {
			j := strings.IndexByte(g[i+len(" IDENTIFIED BY PASSWORD '"):], '\'')
			g = g[:i] + g[i+len(" IDENTIFIED BY PASSWORD '")+j+1:]
		}
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

func createMaster(t testing.TB, m *dbtest.MariaDB) secret.Value {
	t.Helper()
	master := newTestUser(t, m, dbtest.NewMySQLUserName("master"), "%", "GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION")
	// A self-managed master secret names its server; RDS-managed ones (see
	// rdsMaster) hold only username and password.
	return secret.Value{Username: master.Username, Password: master.Password, Host: m.Host, Port: m.Port}
}

func TestMultiUserRotation(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewMultiUser(testConfig(m))
	user := dbtest.NewMySQLUserName("app")
	m.Exec(t, "CREATE DATABASE IF NOT EXISTS `rotary test`")
	m.Exec(t, "CREATE TABLE IF NOT EXISTS `rotary test`.`t``1` (id int, secret_col int)")
	cur := newTestUser(t, m, user, "%",
		"GRANT SELECT, INSERT ON `rotary test`.* TO %s",
		"GRANT UPDATE (id) ON `rotary test`.`t``1` TO %s",
		"ALTER USER %s REQUIRE SSL")
	cur.MasterARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:master-AbCdEf"
	vs := &versions{current: cur, master: createMaster(t, m), hasMaster: true}
	clone := user + CloneSuffix
	t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(clone, "%")) })

	sameGrants := func(t *testing.T) {
		t.Helper()
		got := normalisedGrants(t, m, clone, "%", user)
		want := normalisedGrants(t, m, user, "%", user)
		if !slices.Equal(got, want) {
			t.Fatalf("clone grants differ from the original's:\n got %q\nwant %q", got, want)
		}
	}

	t.Run("first rotation creates the clone", func(t *testing.T) {
		if err := rotate(t, r, vs); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if vs.current.Username != clone {
			t.Fatalf("current user = %q, want %q", vs.current.Username, clone)
		}
		if got, want := r.Stats(), (Stats{Logins: 3}); got != want {
			t.Errorf("Stats() = %+v, want %+v (current, master, pending in testSecret; none failed)", got, want)
		}
		mustLogin(t, m, vs.current)
		mustLogin(t, m, vs.previous) // AWSPREVIOUS keeps working until the next rotation
		sameGrants(t)
	})
	t.Run("second rotation returns to the original", func(t *testing.T) {
		if err := rotate(t, r, vs); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		if vs.current.Username != user {
			t.Fatalf("current user = %q, want %q", vs.current.Username, user)
		}
		mustLogin(t, m, vs.current)
		mustLogin(t, m, vs.previous)
	})
	t.Run("grant added and revoked between rotations", func(t *testing.T) {
		m.Exec(t, "GRANT DELETE ON `rotary test`.* TO "+account(user, "%"))
		m.Exec(t, "REVOKE INSERT ON `rotary test`.* FROM "+account(user, "%"))
		m.Exec(t, "REVOKE UPDATE (id) ON `rotary test`.`t``1` FROM "+account(user, "%"))
		m.Exec(t, "GRANT SELECT (secret_col) ON `rotary test`.`t``1` TO "+account(user, "%")+" WITH GRANT OPTION")
		role := dbtest.NewMySQLUserName("role")
		m.Exec(t, "CREATE ROLE "+quoteIdent(role))
		t.Cleanup(func() { m.Exec(t, "DROP ROLE IF EXISTS "+quoteIdent(role)) })
		m.Exec(t, "GRANT SELECT ON mysql.db TO "+quoteIdent(role))
		m.Exec(t, "GRANT "+quoteIdent(role)+" TO "+account(vs.master.Username, "%")+" WITH ADMIN OPTION")
		m.Exec(t, "GRANT "+quoteIdent(role)+" TO "+account(user, "%"))
		m.Exec(t, "SET DEFAULT ROLE "+quoteIdent(role)+" FOR "+account(user, "%"))
		if err := rotate(t, r, vs); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		mustLogin(t, m, vs.current)
		mustLogin(t, m, vs.previous)
		sameGrants(t)
	})
	t.Run("REQUIRE options follow the original", func(t *testing.T) {
		// Current is the clone here; the next rotation goes to the original.
		if got := requireOf(t, m, clone, "%"); got != "SSL" {
			t.Fatalf("clone REQUIRE = %q, want SSL copied from the original", got)
		}
		m.Exec(t, "ALTER USER "+account(user, "%")+" REQUIRE NONE")
		if err := rotate(t, r, vs); err != nil { // to the original
			t.Fatalf("rotate: %v", err)
		}
		// REQUIRE X509/ISSUER/SUBJECT are copied the same way (see
		// TestParseCreateUser); this test has no client certificate to
		// log in with them.
		m.Exec(t, "ALTER USER "+account(user, "%")+" REQUIRE SSL")
		if err := rotate(t, r, vs); err != nil { // to the clone
			t.Fatalf("rotate: %v", err)
		}
		if got := requireOf(t, m, clone, "%"); got != "SSL" {
			t.Fatalf("clone REQUIRE = %q, want SSL", got)
		}
		if err := rotate(t, r, vs); err != nil { // to the original
			t.Fatalf("rotate: %v", err)
		}
		m.Exec(t, "ALTER USER "+account(user, "%")+" REQUIRE NONE")
		if err := rotate(t, r, vs); err != nil { // to the clone, again
			t.Fatalf("rotate: %v", err)
		}
		if got := requireOf(t, m, clone, "%"); got != "NONE" && got != "" {
			t.Fatalf("clone REQUIRE = %q, want none like the original", got)
		}
		m.Exec(t, "ALTER USER "+account(user, "%")+" REQUIRE SSL")
	})
	t.Run("general log has no plaintext", func(t *testing.T) {
		log := m.GeneralLog(t)
		for _, v := range []secret.Value{vs.current, vs.previous} {
			if strings.Contains(log, v.Password) {
				t.Fatalf("the general log holds a rotated password in plaintext")
			}
		}
	})
}

func TestMultiUserAccountHost(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewMultiUser(testConfig(m))
	tests := []struct {
		name string
		host string // the account's host part
		key  bool   // whether the secret names it
	}{
		{name: "from the proving login", host: "127.0.0.1"},
		{name: "pattern from the proving login", host: "127.0.%"},
		{name: "pattern from key", host: "127.0.%", key: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user := dbtest.NewMySQLUserName("hosted")
			cur := newTestUser(t, m, user, tc.host, "GRANT SELECT ON mysql.db TO %s")
			cur.MasterARN = "arn:master"
			if tc.key {
				cur.Set(KeyAccountHost, tc.host)
			}
			vs := &versions{current: cur, master: createMaster(t, m), hasMaster: true}
			t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(user+CloneSuffix, tc.host)) })
			if err := rotate(t, r, vs); err != nil {
				t.Fatalf("rotate: %v", err)
			}
			if !m.UserExists(t, user+CloneSuffix, tc.host) {
				t.Fatalf("clone not created on host %q", tc.host)
			}
			if m.UserExists(t, user+CloneSuffix, "%") && tc.host != "%" {
				t.Fatalf("clone created on '%%' instead of %q", tc.host)
			}
			if got, want := normalisedGrants(t, m, user+CloneSuffix, tc.host, user), normalisedGrants(t, m, user, tc.host, user); !slices.Equal(got, want) {
				t.Fatalf("clone grants = %q, want %q", got, want)
			}
		})
	}
}

// authString returns the stored hash of user@host.
func authString(t testing.TB, m *dbtest.MariaDB, user, host string) string {
	t.Helper()
	var hash string
	if err := m.RootDB(t).QueryRowContext(t.Context(), "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = ?", user, host).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	return hash
}

// TestAccountHostMustBeProven: the holder of 'app'@'%' writes accountHost
// naming another account of the same user ('app'@'10.0.%', or a host name
// that needs quoting). The master must not reset or clone it: the accounts
// the master changes are those of the host CURRENT_USER() reports after the
// current credentials log in.
func TestAccountHostMustBeProven(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	for _, victimHost := range []string{"10.0.%", "x`'%\"y"} {
		for _, r := range []rotator{NewMultiUser(testConfig(m)), NewSingleUser(testConfig(m))} {
			t.Run(strategyOf(r)+" "+victimHost, func(t *testing.T) {
				user := dbtest.NewMySQLUserName("held")
				held := newTestUser(t, m, user, "%", "GRANT SELECT ON mysql.db TO %s")
				newTestUser(t, m, user, victimHost, "GRANT ALL PRIVILEGES ON *.* TO %s")
				victimHash := authString(t, m, user, victimHost)
				t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(user+CloneSuffix, victimHost)) })
				cur := held
				cur.MasterARN = "arn:master"
				cur.Set(KeyAccountHost, victimHost)
				vs := &versions{current: cur, master: createMaster(t, m), hasMaster: true}
				err := rotate(t, r, vs)
				if !errors.Is(err, ErrGuard) {
					t.Fatalf("rotate() = %v, want ErrGuard", err)
				}
				if got := authString(t, m, user, victimHost); got != victimHash {
					t.Fatal("the other host's account got a new password")
				}
				if m.UserExists(t, user+CloneSuffix, victimHost) {
					t.Fatal("the other host's account was cloned")
				}
				mustLogin(t, m, held) // refused before anything changed
			})
		}
	}
}

func TestMultiUserGuards(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewMultiUser(testConfig(m))
	master := createMaster(t, m)
	user := newTestUser(t, m, dbtest.NewMySQLUserName("guard"), "%")
	user.MasterARN = "arn:master"
	tests := []struct {
		name   string
		master secret.Value
		hasM   bool
		want   error
	}{
		{name: "master rotating itself", master: secret.Value{Username: user.Username, Password: "x"}, hasM: true, want: ErrGuard},
		{name: "master on another host", master: secret.Value{Username: master.Username, Password: master.Password, Host: "db.example.com", Port: m.Port}, hasM: true, want: ErrEndpointMismatch},
		{name: "master on another port", master: secret.Value{Username: master.Username, Password: master.Password, Host: m.Host, Port: m.Port + 1}, hasM: true, want: ErrEndpointMismatch},
		{name: "master without host, no resolver", master: secret.Value{Username: master.Username, Password: master.Password}, hasM: true, want: ErrMasterEndpoint},
		{name: "no master secret", hasM: false, want: secret.ErrInvalid},
		{name: "master of another engine", master: secret.Value{Engine: "postgres", Username: master.Username, Password: master.Password}, hasM: true, want: secret.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Stats()
			vs := &versions{current: user, master: tc.master, hasMaster: tc.hasM}
			err := rotate(t, r, vs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("rotate() = %v, want %v", err, tc.want)
			}
			if r.Stats() != before {
				t.Fatalf("a connection was attempted before the guard refused")
			}
			if m.UserExists(t, user.Username+CloneSuffix, "%") {
				t.Fatalf("clone created despite the refusal")
			}
			mustLogin(t, m, user)
		})
	}
}

func TestHostileUserNames(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewSingleUser(testConfig(m))
	// A decoy that naive quoting of the hostile names could hit instead.
	decoy := newTestUser(t, m, "a", "%")
	tests := []struct {
		name    string
		user    string
		wantErr bool
	}{
		{name: "single quote", user: "o'brien"},
		{name: "backtick", user: "a`b"},
		{name: "percent", user: "a%"},
		{name: "at sign", user: "a'@'%"},
		{name: "backslash", user: `a\'`},
		{name: "unicode", user: "żółw-日本"},
		{name: "sql injection", user: "a`@`%` IDENTIFIED BY PASSWORD 'x'; --"},
		{name: "80 characters", user: strings.Repeat("é", 80)},
		{name: "81 characters", user: strings.Repeat("u", 81), wantErr: true},
		{name: "emoji", user: "smile😀", wantErr: true},
		{name: "control character", user: "a\nb", wantErr: true},
		{name: "NUL", user: "a\x00b", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr {
				v := secret.Value{Engine: "mariadb", Host: m.Host, Port: m.Port, Username: tc.user, Password: "p"}
				before := r.Stats()
				err := rotate(t, r, &versions{current: v})
				var ke *secret.KeyError
				if !errors.As(err, &ke) || ke.Key != secret.KeyUsername {
					t.Fatalf("rotate() = %v, want a KeyError for username", err)
				}
				if r.Stats() != before {
					t.Fatalf("a connection was attempted for a refused name")
				}
				return
			}
			vs := &versions{current: newTestUser(t, m, tc.user, "%")}
			old := vs.current
			if err := rotate(t, r, vs); err != nil {
				t.Fatalf("rotate: %v", err)
			}
			mustLogin(t, m, vs.current)
			mustBeDenied(t, m, old)
			mustLogin(t, m, decoy)
		})
	}
}

func TestMalformedSecretsFailBeforeConnecting(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	good := secret.Value{Engine: "mariadb", Host: m.Host, Port: m.Port, Username: "u", Password: "p", MasterARN: "arn:m"}
	tests := []struct {
		name    string
		r       rotator
		mutate  func(v *secret.Value)
		wantKey string
	}{
		{name: "no host", r: NewSingleUser(testConfig(m)), mutate: func(v *secret.Value) { v.Host = "" }, wantKey: secret.KeyHost},
		{name: "no username", r: NewSingleUser(testConfig(m)), mutate: func(v *secret.Value) { v.Username = "" }, wantKey: secret.KeyUsername},
		{name: "no password", r: NewSingleUser(testConfig(m)), mutate: func(v *secret.Value) { v.Password = "" }, wantKey: secret.KeyPassword},
		{name: "host with slash", r: NewSingleUser(testConfig(m)), mutate: func(v *secret.Value) { v.Host = "a/b" }, wantKey: secret.KeyHost},
		{name: "multi without masterarn", r: NewMultiUser(testConfig(m)), mutate: func(v *secret.Value) { v.MasterARN = "" }, wantKey: secret.KeyMasterARN},
		{name: "clone name too long for mysql", r: NewMultiUser(testConfig(m)), mutate: func(v *secret.Value) { v.Engine = "mysql"; v.Username = strings.Repeat("u", 27) }, wantKey: secret.KeyUsername},
		{name: "bad account host", r: NewMultiUser(testConfig(m)), mutate: func(v *secret.Value) { v.Set(KeyAccountHost, "a\x00") }, wantKey: KeyAccountHost},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := good.Clone()
			tc.mutate(&v)
			err := rotate(t, tc.r, &versions{current: v, master: good, hasMaster: true})
			var ke *secret.KeyError
			if !errors.As(err, &ke) || ke.Key != tc.wantKey {
				t.Fatalf("rotate() = %v, want a KeyError for %q", err, tc.wantKey)
			}
			if got := tc.r.Stats(); got.Logins != 0 {
				t.Fatalf("%d connection attempts, want none", got.Logins)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	wrong := dbtest.NewCA(t)
	wrongPEM, err := os.ReadFile(wrong.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	wrongPool := x509.NewCertPool()
	wrongPool.AppendCertsFromPEM(wrongPEM)
	on, off := true, false
	tests := []struct {
		name    string
		pool    *x509.CertPool
		ssl     *bool
		wantErr error
	}{
		{name: "generated CA, ssl absent", pool: testConfig(m).RootCAs},
		{name: "generated CA, ssl true", pool: testConfig(m).RootCAs, ssl: &on},
		{name: "wrong CA, ssl absent", pool: wrongPool, wantErr: ErrTLS},
		{name: "wrong CA, ssl true", pool: wrongPool, ssl: &on, wantErr: ErrTLS},
		{name: "system roots", pool: nil, wantErr: ErrTLS},
		{name: "wrong CA, ssl false", pool: wrongPool, ssl: &off},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(m)
			cfg.RootCAs = tc.pool
			r := NewSingleUser(cfg)
			v := newTestUser(t, m, dbtest.NewMySQLUserName("tls"), "%")
			v.SSL = tc.ssl
			vs := &versions{current: v}
			err := rotate(t, r, vs)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("rotate: %v", err)
				}
				mustLogin(t, m, vs.current)
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("rotate() = %v, want %v", err, tc.wantErr)
			}
			if got := r.Stats(); got.Logins != 1 {
				t.Fatalf("%d connection attempts, want exactly 1 (no fallback, no retry with other passwords)", got.Logins)
			}
			mustLogin(t, m, v) // unchanged
		})
	}
}

func TestDualPasswordRefusedOnMariaDB(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewDualPassword(testConfig(m))
	tests := []struct {
		name   string
		engine string
		logins int64
	}{
		{name: "engine mysql, server MariaDB", engine: "mysql", logins: 1},
		{name: "engine mariadb", engine: "mariadb", logins: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Stats()
			v := newTestUser(t, m, dbtest.NewMySQLUserName("dual"), "%")
			v.Engine = tc.engine
			err := rotate(t, r, &versions{current: v})
			if !errors.Is(err, ErrDualPasswordUnsupported) {
				t.Fatalf("rotate() = %v, want ErrDualPasswordUnsupported", err)
			}
			if got := r.Stats().Logins - before.Logins; got != tc.logins {
				t.Fatalf("%d logins, want %d", got, tc.logins)
			}
			mustLogin(t, m, v)
		})
	}
}

// requireOf returns the REQUIRE clause of user@host ("" for none).
func requireOf(t testing.TB, m *dbtest.MariaDB, user, host string) string {
	t.Helper()
	var line string
	if err := m.RootDB(t).QueryRowContext(t.Context(), "SHOW CREATE USER "+account(user, host)).Scan(&line); err != nil {
		t.Fatalf("SHOW CREATE USER: %v", err)
	}
	o, err := parseCreateUser(line)
	if err != nil {
		t.Fatal(err)
	}
	return o.Require
}

func TestMultiUserMissingAccountFailsWithoutChange(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewMultiUser(testConfig(m))
	cur := newTestUser(t, m, dbtest.NewMySQLUserName("nohost"), "%")
	cur.MasterARN = "arn:master"
	cur.Set(KeyAccountHost, "a@b")
	vs := &versions{current: cur, master: createMaster(t, m), hasMaster: true}
	err := rotate(t, r, vs)
	if err == nil {
		t.Fatal("rotate() succeeded for an account that cannot exist")
	}
	if m.UserExists(t, cur.Username+CloneSuffix, "a@b") || m.UserExists(t, cur.Username+CloneSuffix, "%") {
		t.Fatal("a clone was created")
	}
	mustLogin(t, m, cur)
}

// createAndSet runs createSecret and setSecret only.
func createAndSet(t testing.TB, r rotators.Rotator, vs *versions) error {
	t.Helper()
	ctx := context.Background()
	rot := rotators.Rotation{SecretARN: "arn", Token: "tok"}
	cr, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: vs.current, Passwords: password.Local{},
		Previous: loader(vs.previous, vs.hasPrevious), Master: loader(vs.master, vs.hasMaster)})
	if err != nil {
		return err
	}
	_, err = r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: vs.current, Pending: cr.Pending,
		Previous: loader(vs.previous, vs.hasPrevious), Master: loader(vs.master, vs.hasMaster)})
	return err
}

// ensureEd25519 installs MariaDB's ed25519 authentication plugin on m.
func ensureEd25519(t testing.TB, m *dbtest.MariaDB) {
	t.Helper()
	var n int
	if err := m.RootDB(t).QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		m.Exec(t, "INSTALL SONAME 'auth_ed25519'")
	}
}

func TestEd25519Accounts(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	ensureEd25519(t, m)
	newEdUser := func(t *testing.T, user string, grants ...string) secret.Value {
		t.Helper()
		pw := newPassword(t)
		m.Exec(t, "CREATE USER "+account(user, "%")+" IDENTIFIED VIA ed25519 USING ?", authhash.Ed25519(pw))
		for _, g := range grants {
			m.Exec(t, fmt.Sprintf(g, account(user, "%")))
		}
		t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(user, "%")) })
		return secret.Value{Engine: "mariadb", Host: m.Host, Port: m.Port, Username: user, Password: pw}
	}
	t.Run("single user", func(t *testing.T) {
		r := NewSingleUser(testConfig(m))
		vs := &versions{current: newEdUser(t, dbtest.NewMySQLUserName("ed"))}
		old := vs.current
		if err := rotate(t, r, vs); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		mustLogin(t, m, vs.current)
		mustBeDenied(t, m, old)
		if got := pluginOf(t, m, vs.current.Username, "%"); got != pluginEd25519 {
			t.Fatalf("plugin after rotation = %q, want ed25519 kept", got)
		}
		rotationtest.AssertNoLeak(t, "MariaDB general log", m.GeneralLog(t), vs.current.Password)
	})
	t.Run("alternating users", func(t *testing.T) {
		r := NewMultiUser(testConfig(m))
		user := dbtest.NewMySQLUserName("edm")
		cur := newEdUser(t, user, "GRANT SELECT ON mysql.db TO %s")
		cur.MasterARN = "arn:master"
		t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(user+CloneSuffix, "%")) })
		vs := &versions{current: cur, master: createMaster(t, m), hasMaster: true}
		for range 2 {
			if err := rotate(t, r, vs); err != nil {
				t.Fatalf("rotate: %v", err)
			}
			mustLogin(t, m, vs.current)
			mustLogin(t, m, vs.previous)
		}
		if got := pluginOf(t, m, user+CloneSuffix, "%"); got != pluginEd25519 {
			t.Fatalf("clone plugin = %q, want ed25519 like the original", got)
		}
		rotationtest.AssertNoLeak(t, "MariaDB general log", m.GeneralLog(t), vs.current.Password, vs.previous.Password)
	})
}

// pluginOf returns the authentication plugin of user@host.
func pluginOf(t testing.TB, m *dbtest.MariaDB, user, host string) string {
	t.Helper()
	var line string
	if err := m.RootDB(t).QueryRowContext(t.Context(), "SHOW CREATE USER "+account(user, host)).Scan(&line); err != nil {
		t.Fatalf("SHOW CREATE USER: %v", err)
	}
	o, err := parseCreateUser(line)
	if err != nil {
		t.Fatal(err)
	}
	return o.Plugin
}

// TestDriverErrorsScrubbed makes the server echo SQL text holding a hash and
// a bound password in its error; the error the rotator returns must hold
// neither, while errors.As still reaches the driver's error.
func TestDriverErrorsScrubbed(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewSingleUser(testConfig(m))
	e := endpoint{host: m.Host, port: m.Port, tls: true}
	s, err := r.connect(t.Context(), e, "root", m.RootPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	pw := "Plaintext-" + newPassword(t)
	c, err := hashFor(s.srv, "", pw)
	if err != nil {
		t.Fatal(err)
	}
	st := alterPassword(s.srv, account("nobody", "%"), c)
	st.query = "ALTER USERX " + st.query[len("ALTER USER "):] + " ?"
	st.args = append(st.args, pw)
	st.hidden = append(st.hidden, pw)
	err = s.exec(t.Context(), "bad statement", st)
	if err == nil {
		t.Fatal("exec of a malformed statement succeeded")
	}
	rotationtest.AssertNoLeak(t, "error", err.Error(), pw, authhash.Native(pw))
	var me *mysqldriver.MySQLError
	if !errors.As(err, &me) || me.Number != 1064 {
		t.Fatalf("errors.As(MySQLError) = %v, want syntax error 1064", err)
	}
	if !strings.Contains(err.Error(), logging.Redacted) {
		t.Fatalf("error %q: the server did not echo the statement, so this test proves nothing", err)
	}

	// A long bound password: the server quotes it cut (MariaDB stops at 80
	// characters), and no fragment of it may remain.
	long := "Plaintext-" + newPassword(t) + newPassword(t) + newPassword(t) + newPassword(t)
	err = s.exec(t.Context(), "bad statement", statement{query: "SELECT 'x' FROMX ?", args: []any{long}, hidden: []string{long}})
	var raw *mysqldriver.MySQLError
	if !errors.As(err, &raw) || !strings.Contains(raw.Message, long[:20]) || strings.Contains(raw.Message, long) {
		t.Fatalf("the server did not echo the password cut (%v), so this test proves nothing", err)
	}
	for i := 0; i+5 <= len(long); i++ {
		if strings.Contains(err.Error(), long[i:i+5]) {
			t.Fatalf("error %q holds a fragment of the password", err)
		}
	}
}

func TestMultiUserHostileNames(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewMultiUser(testConfig(m))
	master := createMaster(t, m)
	tests := []struct {
		name string
		user string
	}{
		{name: "quotes and backticks", user: "o'b`r\"x"},
		{name: "at and percent", user: "a@b%"},
		{name: "unicode", user: "żółw-日本"},
		{name: "74 characters plus _clone makes 80", user: strings.Repeat("ü", 74)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := newTestUser(t, m, tc.user, "%", "GRANT SELECT ON mysql.db TO %s")
			cur.MasterARN = "arn:master"
			clone := tc.user + CloneSuffix
			t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(clone, "%")) })
			vs := &versions{current: cur, master: master, hasMaster: true}
			for range 2 {
				if err := rotate(t, r, vs); err != nil {
					t.Fatalf("rotate: %v", err)
				}
				mustLogin(t, m, vs.current)
				mustLogin(t, m, vs.previous)
			}
			if got, want := normalisedGrants(t, m, clone, "%", tc.user), normalisedGrants(t, m, tc.user, "%", tc.user); !slices.Equal(got, want) {
				t.Fatalf("clone grants = %q, want %q", got, want)
			}
		})
	}
	t.Run("clone name over the server's limit", func(t *testing.T) {
		user := strings.Repeat("v", 75) // 81 with _clone
		cur := newTestUser(t, m, user, "%")
		cur.MasterARN = "arn:master"
		err := rotate(t, r, &versions{current: cur, master: master, hasMaster: true})
		var ke *secret.KeyError
		if !errors.As(err, &ke) || ke.Key != secret.KeyUsername {
			t.Fatalf("rotate() = %v, want a KeyError for username", err)
		}
		mustLogin(t, m, cur)
	})
}

// TestMultiUserNeedsCurrentCredentials: a secret whose current password does
// not log in (someone wrote a secret naming an account they do not own) must
// not make the master clone that account.
func TestMultiUserNeedsCurrentCredentials(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewMultiUser(testConfig(m))
	victim := newTestUser(t, m, dbtest.NewMySQLUserName("victim"), "%", "GRANT SELECT ON mysql.* TO %s")
	forged := victim
	forged.Password = newPassword(t)
	forged.MasterARN = "arn:master"
	err := rotate(t, r, &versions{current: forged, master: createMaster(t, m), hasMaster: true})
	if !errors.Is(err, ErrGuard) {
		t.Fatalf("rotate() = %v, want ErrGuard", err)
	}
	if m.UserExists(t, victim.Username+CloneSuffix, "%") {
		t.Fatal("the master cloned an account the secret does not own")
	}
	mustLogin(t, m, victim)
}
