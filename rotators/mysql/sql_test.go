package mysql

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/rotators/mysql/internal/authhash"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    server
		dual    bool
		maxUser int
	}{
		{in: "8.0.36", want: server{Major: 8, Minor: 0, Patch: 36}, dual: true, maxUser: 32},
		{in: "8.0.13-log", want: server{Major: 8, Minor: 0, Patch: 13}, dual: false, maxUser: 32},
		{in: "8.0.14", want: server{Major: 8, Minor: 0, Patch: 14}, dual: true, maxUser: 32},
		{in: "8.4.0", want: server{Major: 8, Minor: 4}, dual: true, maxUser: 32},
		{in: "5.7.44-log", want: server{Major: 5, Minor: 7, Patch: 44}, maxUser: 32},
		{in: "5.6.51", want: server{Major: 5, Minor: 6, Patch: 51}, maxUser: 16},
		{in: "8.0.mysql_aurora.3.05.2", want: server{Major: 8}, dual: false, maxUser: 32},
		{in: "10.11.19-MariaDB-0+deb12u1-log", want: server{MariaDB: true, Major: 10, Minor: 11, Patch: 19}, maxUser: 80},
		{in: "5.5.5-10.6.4-MariaDB", want: server{MariaDB: true, Major: 10, Minor: 6, Patch: 4}, maxUser: 80},
		{in: "11.4.2-MariaDB", want: server{MariaDB: true, Major: 11, Minor: 4, Patch: 2}, maxUser: 80},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseVersion(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("parseVersion() mismatch (-want +got):\n%s", diff)
			}
			if got.dualPassword() != tc.dual {
				t.Errorf("dualPassword() = %v, want %v", got.dualPassword(), tc.dual)
			}
			if got.maxUserLen() != tc.maxUser {
				t.Errorf("maxUserLen() = %d, want %d", got.maxUserLen(), tc.maxUser)
			}
		})
	}
	for _, bad := range []string{"", "MariaDB", "x.y.z"} {
		if _, err := parseVersion(bad); err == nil {
			t.Errorf("parseVersion(%q) succeeded", bad)
		}
	}
}

var (
	mysql8  = server{Major: 8, Minor: 0, Patch: 36}
	mysql57 = server{Major: 5, Minor: 7, Patch: 44}
	mariadb = server{MariaDB: true, Major: 10, Minor: 11, Patch: 6}
)

// TestStatements pins the SQL each flavour gets. Debian ships MariaDB only, so
// these are the tests of what MySQL receives.
func TestStatements(t *testing.T) {
	acct := account("app", "%")
	const pw = "pending-Pa55word"
	native := "'" + authhash.Native(pw) + "'"
	tests := []struct {
		name      string
		build     func(t *testing.T) statement
		want      string // exact SQL, or a prefix when wantShaAS
		wantSHA   bool   // ends in a caching_sha2 AS literal for pw
		wantPlain bool   // pw is a bound argument
	}{
		{name: "MariaDB own password", build: func(t *testing.T) statement {
			return setOwnPassword(mariadb, mustHash(t, mariadb, "", pw))
		}, want: "SET PASSWORD = " + native},
		{name: "MariaDB alter", build: func(t *testing.T) statement {
			return alterPassword(mariadb, acct, mustHash(t, mariadb, "", pw))
		}, want: "ALTER USER `app`@`%` IDENTIFIED BY PASSWORD " + native},
		{name: "MariaDB create", build: func(t *testing.T) statement {
			return createUser(mariadb, acct, mustHash(t, mariadb, "", pw))
		}, want: "CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED BY PASSWORD " + native},
		{name: "MariaDB ed25519 own password", build: func(t *testing.T) statement {
			return setOwnPassword(mariadb, mustHash(t, mariadb, pluginEd25519, pw))
		}, want: "SET PASSWORD = '" + authhash.Ed25519(pw) + "'"},
		{name: "MariaDB ed25519 create", build: func(t *testing.T) statement {
			return createUser(mariadb, acct, mustHash(t, mariadb, pluginEd25519, pw))
		}, want: "CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED VIA ed25519 USING '" + authhash.Ed25519(pw) + "'"},
		{name: "MySQL 5.7 native own password", build: func(t *testing.T) statement {
			return setOwnPassword(mysql57, mustHash(t, mysql57, pluginNative, pw))
		}, want: "ALTER USER CURRENT_USER() IDENTIFIED WITH mysql_native_password AS " + native},
		{name: "MySQL 8 caching_sha2 own password", build: func(t *testing.T) statement {
			return setOwnPassword(mysql8, mustHash(t, mysql8, pluginCachingSHA2, pw))
		}, want: "ALTER USER CURRENT_USER() IDENTIFIED WITH caching_sha2_password AS '$A$005$", wantSHA: true},
		{name: "MySQL 8 caching_sha2 create", build: func(t *testing.T) statement {
			return createUser(mysql8, acct, mustHash(t, mysql8, pluginCachingSHA2, pw))
		}, want: "CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED WITH caching_sha2_password AS '$A$005$", wantSHA: true},
		{name: "MySQL 8 other plugin sends a bound parameter", build: func(t *testing.T) statement {
			return alterPassword(mysql8, acct, mustHash(t, mysql8, "sha256_password", pw))
		}, want: "ALTER USER `app`@`%` IDENTIFIED WITH sha256_password BY ?", wantPlain: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.build(t)
			if strings.Contains(st.query, pw) {
				t.Fatalf("the SQL text holds the plaintext password: %q", st.query)
			}
			switch {
			case tc.wantSHA:
				if !strings.HasPrefix(st.query, tc.want) || !strings.HasSuffix(st.query, "'") {
					t.Fatalf("query = %q, want prefix %q", st.query, tc.want)
				}
				h := st.query[len(tc.want)-len("$A$005$") : len(st.query)-1]
				if ok, err := authhash.VerifyCachingSHA2(pw, h); err != nil || !ok {
					t.Fatalf("the AS literal is not the password's caching_sha2 hash (%v)", err)
				}
			default:
				if st.query != tc.want {
					t.Fatalf("query = %q, want %q", st.query, tc.want)
				}
			}
			if tc.wantPlain != (len(st.args) == 1 && st.args[0] == pw) {
				t.Fatalf("args = %d values, want plaintext bound: %v", len(st.args), tc.wantPlain)
			}
		})
	}
}

func TestUnsupportedMariaDBPlugin(t *testing.T) {
	for _, p := range []string{"unix_socket", "gssapi", "pam"} {
		if _, err := hashFor(mariadb, p, "pw"); !errors.Is(err, ErrUnsupportedPlugin) {
			t.Errorf("hashFor(%s) = %v, want ErrUnsupportedPlugin", p, err)
		}
	}
}

func mustHash(t *testing.T, s server, plugin, pw string) credential {
	t.Helper()
	c, err := hashFor(s, plugin, pw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOwnPasswordPlain(t *testing.T) {
	tests := []struct {
		name string
		srv  server
		want statement
	}{
		{name: "MySQL 8.0.13+ names the login password", srv: mysql8,
			want: statement{query: "ALTER USER USER() IDENTIFIED BY ? REPLACE ?", args: []any{"new", "old"}, hidden: []string{"new", "old"}}},
		{name: "MySQL 5.7", srv: mysql57,
			want: statement{query: "ALTER USER USER() IDENTIFIED BY ?", args: []any{"new"}, hidden: []string{"new"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ownPasswordPlain(tc.srv, "new", "old")
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(statement{})); diff != "" {
				t.Fatalf("ownPasswordPlain() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	mysql56 := server{Major: 5, Minor: 6, Patch: 51}
	if got := setOwnPassword(mysql56, mustHash(t, mysql56, pluginNative, "pw")); got.query != "SET PASSWORD = '"+authhash.Native("pw")+"'" {
		t.Fatalf("MySQL 5.6 own password = %q", got.query)
	}
}

func TestDualPasswordStatements(t *testing.T) {
	const pw = "new-Pa55word"
	got, err := dualPasswordStatements(mysql8, account("app", "10.0.%"), pw)
	if err != nil {
		t.Fatal(err)
	}
	want := []statement{
		{query: "ALTER USER `app`@`10.0.%` DISCARD OLD PASSWORD"},
		{query: "ALTER USER `app`@`10.0.%` IDENTIFIED BY ? RETAIN CURRENT PASSWORD", args: []any{pw}, hidden: []string{pw}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(statement{})); diff != "" {
		t.Fatalf("dualPasswordStatements() mismatch (-want +got):\n%s", diff)
	}
	self, err := dualPasswordStatements(mysql8, "CURRENT_USER()", pw)
	if err != nil || self[1].query != "ALTER USER CURRENT_USER() IDENTIFIED BY ? RETAIN CURRENT PASSWORD" {
		t.Fatalf("own account: %v %v", self, err)
	}
	for _, s := range []server{mariadb, mysql57, {Major: 8, Minor: 0, Patch: 13}} {
		if _, err := dualPasswordStatements(s, "x", pw); !errors.Is(err, ErrDualPasswordUnsupported) {
			t.Errorf("%s: err = %v, want ErrDualPasswordUnsupported", s, err)
		}
	}
}

func TestStoredMatches(t *testing.T) {
	sha, err := authhash.NewCachingSHA2("pw-one")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    userOptions
		pw   string
		want bool
	}{
		{name: "native match", o: userOptions{Hash: authhash.Native("pw-one")}, pw: "pw-one", want: true},
		{name: "native mismatch", o: userOptions{Hash: authhash.Native("pw-one")}, pw: "pw-two"},
		{name: "caching_sha2 match", o: userOptions{Hash: sha}, pw: "pw-one", want: true},
		{name: "caching_sha2 mismatch", o: userOptions{Hash: sha}, pw: "pw-two"},
		{name: "no hash", o: userOptions{}, pw: "pw-one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := storedMatches(tc.o, tc.pw); got != tc.want {
				t.Fatalf("storedMatches() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseCreateUser(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want userOptions
	}{
		{name: "MariaDB plain",
			in:   "CREATE USER `a``b'c`@`%` IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227'",
			want: userOptions{Hash: "*B69027D44F6E5EDC07F1AEAD1477967B16F28227"}},
		{name: "MariaDB REQUIRE SSL",
			in:   "CREATE USER `u2`@`10.0.%` IDENTIFIED BY PASSWORD '*7446F64EFCFB1294A6DE20CAE7E49C2377A9AA25' REQUIRE SSL",
			want: userOptions{Hash: "*7446F64EFCFB1294A6DE20CAE7E49C2377A9AA25", Require: "SSL"}},
		{name: "MariaDB issuer and subject",
			in:   "CREATE USER `u2`@`10.0.%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE ISSUER '/C=a''b' SUBJECT 'x' PASSWORD EXPIRE NEVER",
			want: userOptions{Hash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", Require: "ISSUER '/C=a''b' SUBJECT 'x'"}},
		{name: "MySQL 8",
			in:   "CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$saltsaltsaltsaltsaltdigestdigestdigestdigestdigestdigestdiges' REQUIRE X509 PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT",
			want: userOptions{Plugin: "caching_sha2_password", Hash: "$A$005$saltsaltsaltsaltsaltdigestdigestdigestdigestdigestdigestdiges", Require: "X509"}},
		{name: "MariaDB ed25519",
			in:   "CREATE USER `ed`@`%` IDENTIFIED VIA ed25519 USING 'KgXMXcPajp4kwmqEMJb+uCJ4FhOKwdTd7XNvvy7D9Jc' REQUIRE SSL",
			want: userOptions{Plugin: "ed25519", Hash: "KgXMXcPajp4kwmqEMJb+uCJ4FhOKwdTd7XNvvy7D9Jc", Require: "SSL"}},
		{name: "MySQL 5.7 REQUIRE NONE",
			in:   "CREATE USER 'app'@'%' IDENTIFIED WITH 'mysql_native_password' AS '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK",
			want: userOptions{Plugin: "mysql_native_password", Hash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19", Require: "NONE"}},
		{name: "escaped salt",
			in:   `CREATE USER ` + "`a`@`%`" + ` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$a\'b\\c' REQUIRE NONE`,
			want: userOptions{Plugin: "caching_sha2_password", Hash: `$A$005$a'b\c`, Require: "NONE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCreateUser(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("parseCreateUser() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseGrant(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want grant
	}{
		{name: "usage with password", in: "GRANT USAGE ON *.* TO `a``b'c`@`%` IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227' REQUIRE SSL",
			want: grant{Privileges: []string{"USAGE"}, Object: "*.*"}},
		{name: "grant option, quoted db", in: "GRANT SELECT ON `my``db`.* TO `a``b'c`@`%` WITH GRANT OPTION",
			want: grant{Privileges: []string{"SELECT"}, Object: "`my``db`.*", GrantOption: true}},
		{name: "column privileges", in: "GRANT SELECT, INSERT (`user`, `host`) ON `mysql`.`user` TO `a`@`%`",
			want: grant{Privileges: []string{"SELECT", "INSERT (`user`, `host`)"}, Object: "`mysql`.`user`"}},
		{name: "role", in: "GRANT `r1`,`r 2` TO `u2`@`10.0.%` WITH ADMIN OPTION",
			want: grant{Privileges: []string{"`r1`", "`r 2`"}, GrantOption: true}},
		{name: "hostile names", in: "GRANT SELECT ON `x TO y`.`ON` TO `a TO b`@`%`",
			want: grant{Privileges: []string{"SELECT"}, Object: "`x TO y`.`ON`"}},
		{name: "procedure", in: "GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`%`",
			want: grant{Privileges: []string{"EXECUTE"}, Object: "PROCEDURE `db`.`p`"}},
		{name: "proxy", in: "GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION",
			want: grant{Privileges: []string{"PROXY"}, Object: "``@`%`", GrantOption: true}},
		{name: "MySQL 8 dynamic", in: "GRANT APPLICATION_PASSWORD_ADMIN,BACKUP_ADMIN ON *.* TO `app`@`%`",
			want: grant{Privileges: []string{"APPLICATION_PASSWORD_ADMIN", "BACKUP_ADMIN"}, Object: "*.*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGrant(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("parseGrant() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "REVOKE x", "GRANT SELECT ON *.*", "GRANT SELECT ON `open TO `a`@`%`"} {
		if _, err := parseGrant(bad); err == nil {
			t.Errorf("parseGrant(%q) succeeded", bad)
		}
	}
}

func TestSyncGrants(t *testing.T) {
	clone := account("app_clone", "%")
	tests := []struct {
		name        string
		src, dst    []string
		wantQueries []string
	}{
		{name: "fresh clone",
			src: []string{"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*X'", "GRANT SELECT, INSERT ON `db`.* TO `app`@`%`", "GRANT `r1` TO `app`@`%`"},
			dst: []string{"GRANT USAGE ON *.* TO `app_clone`@`%` IDENTIFIED BY PASSWORD '*Y'"},
			wantQueries: []string{
				"GRANT `r1` TO `app_clone`@`%`",
				"GRANT SELECT, INSERT ON `db`.* TO `app_clone`@`%`",
			}},
		{name: "in sync", src: []string{"GRANT SELECT ON `db`.* TO `app`@`%`"}, dst: []string{"GRANT SELECT ON `db`.* TO `app_clone`@`%`"}},
		{name: "added and revoked",
			src: []string{"GRANT SELECT, DELETE ON `db`.* TO `app`@`%`"},
			dst: []string{"GRANT SELECT, INSERT ON `db`.* TO `app_clone`@`%`", "GRANT ALL PRIVILEGES ON `other`.* TO `app_clone`@`%` WITH GRANT OPTION", "GRANT `r1` TO `app_clone`@`%`"},
			wantQueries: []string{
				"REVOKE `r1` FROM `app_clone`@`%`",
				"REVOKE INSERT ON `db`.* FROM `app_clone`@`%`",
				"REVOKE ALL PRIVILEGES ON `other`.* FROM `app_clone`@`%`",
				"REVOKE GRANT OPTION ON `other`.* FROM `app_clone`@`%`",
				"GRANT DELETE ON `db`.* TO `app_clone`@`%`",
			}},
		{name: "default role set",
			src: []string{"GRANT `r1` TO `app`@`%`", "SET DEFAULT ROLE `r1` FOR `app`@`%`"},
			dst: []string{"GRANT USAGE ON *.* TO `app_clone`@`%`"},
			wantQueries: []string{
				"GRANT `r1` TO `app_clone`@`%`",
				"SET DEFAULT ROLE `r1` FOR `app_clone`@`%`",
			}},
		{name: "default role removed",
			src: []string{"GRANT USAGE ON *.* TO `app`@`%`"},
			dst: []string{"GRANT `r1` TO `app_clone`@`%`", "SET DEFAULT ROLE `r1` FOR `app_clone`@`%`"},
			wantQueries: []string{
				"REVOKE `r1` FROM `app_clone`@`%`",
				"SET DEFAULT ROLE NONE FOR `app_clone`@`%`",
			}},
		{name: "grant option only",
			src:         []string{"GRANT SELECT ON `db`.* TO `app`@`%` WITH GRANT OPTION"},
			dst:         []string{"GRANT SELECT ON `db`.* TO `app_clone`@`%`"},
			wantQueries: []string{"GRANT USAGE ON `db`.* TO `app_clone`@`%` WITH GRANT OPTION"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := syncGrants(tc.src, tc.dst, clone)
			if err != nil {
				t.Fatal(err)
			}
			var queries []string
			for _, st := range got {
				queries = append(queries, st.query)
			}
			if diff := cmp.Diff(tc.wantQueries, queries); diff != "" {
				t.Fatalf("syncGrants() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAltUser(t *testing.T) {
	tests := []struct{ in, alt, base string }{
		{"app", "app_clone", "app"},
		{"app_clone", "app", "app"},
		{"_clone", "_clone_clone", "_clone"},
		{"a_clone_clone", "a_clone", "a_clone"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := altUser(tc.in); got != tc.alt {
				t.Errorf("altUser() = %q, want %q", got, tc.alt)
			}
			if got := baseUser(tc.in); got != tc.base {
				t.Errorf("baseUser() = %q, want %q", got, tc.base)
			}
		})
	}
}

// FuzzQuoteIdent checks that every name checkName accepts quotes to one
// backtick identifier that reads back as the name, and that an account made
// of two such names splits back at the right '@'.
func FuzzQuoteIdent(f *testing.F) {
	for _, s := range []string{"app", "a`b", "o'brien", "a'@'%", "x` OR 1=1 --", "żółw", "``", "@"} {
		f.Add(s, "%")
	}
	f.Fuzz(func(t *testing.T, user, host string) {
		if checkName("user", user, MaxUserLenMariaDB) != nil || checkName("host", host, MaxHostLen) != nil {
			return
		}
		q := quoteIdent(user)
		toks, err := tokens(q)
		if err != nil || len(toks) > 1 {
			t.Fatalf("quoteIdent(%q) = %q does not read back as one token (%v)", user, q, err)
		}
		if len(toks) == 1 && unquote(toks[0]) != user {
			t.Fatalf("unquote(quoteIdent(%q)) = %q", user, unquote(toks[0]))
		}
		acct := account(user, host)
		end, err := quotedEnd(acct, 0)
		if err != nil || acct[end] != '@' || unquote(acct[:end]) != user || unquote(acct[end+1:]) != host {
			t.Fatalf("account(%q, %q) = %q does not split back", user, host, acct)
		}
	})
}

// FuzzCheckName checks the validation never accepts what MySQL cannot store.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"app", "a\x00b", "smile😀", strings.Repeat("é", 81), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := checkName("user", s, MaxUserLenMariaDB); err != nil {
			if !errors.Is(err, ErrUnsafeName) {
				t.Fatalf("error does not wrap ErrUnsafeName: %v", err)
			}
			if s != "" && strings.Contains(err.Error(), s) {
				t.Fatalf("error quotes the name")
			}
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxUserLenMariaDB || strings.ContainsRune(s, 0) {
			t.Fatalf("checkName accepted %q", s)
		}
		for _, r := range s {
			if r > 0xFFFF || r < 0x20 {
				t.Fatalf("checkName accepted %q", s)
			}
		}
	})
}

// FuzzParseGrant checks the SHOW GRANTS parser never panics and that a
// privilege list it returns can be put back into a GRANT.
func FuzzParseGrant(f *testing.F) {
	for _, s := range []string{
		"GRANT SELECT, INSERT (`user`) ON `mysql`.`user` TO `a``b'c`@`%`",
		"GRANT `r1` TO `u`@`%` WITH ADMIN OPTION",
		"GRANT USAGE ON *.* TO `a`@`%` IDENTIFIED BY PASSWORD '*X' REQUIRE ISSUER 'a''b'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGrant(s)
		if err != nil {
			return
		}
		stmts, err := syncGrants([]string{s}, nil, "`x`@`%`")
		if err != nil {
			t.Fatalf("syncGrants of a parsed line failed: %v", err)
		}
		for _, st := range stmts {
			// Quoted parts of the server's output are copied whole, so every
			// statement built from them has balanced quotes.
			if _, err := tokens(st.query); err != nil {
				t.Fatalf("statement %q from %q: %v", st.query, s, err)
			}
		}
		_ = g
	})
}

// FuzzParseCreateUser checks the SHOW CREATE USER parser never panics and
// that the REQUIRE clause it returns, which is copied into ALTER USER, has
// balanced quotes.
func FuzzParseCreateUser(f *testing.F) {
	for _, s := range []string{
		"CREATE USER `u2`@`10.0.%` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE ISSUER '/C=a''b' SUBJECT 'x' PASSWORD EXPIRE NEVER",
		"CREATE USER `app`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$a\\'b' REQUIRE NONE PASSWORD REQUIRE CURRENT DEFAULT",
		"CREATE USER `ed`@`%` IDENTIFIED VIA ed25519 USING 'x' REQUIRE SSL",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := parseCreateUser(s)
		if err != nil {
			return
		}
		if _, err := tokens("ALTER USER `x`@`%` REQUIRE " + o.Require); err != nil {
			t.Fatalf("REQUIRE clause %q from %q: %v", o.Require, s, err)
		}
	})
}

func TestQuoteHash(t *testing.T) {
	for _, bad := range []string{"a'b", `a\b`, "a b", "é"} {
		if _, err := quoteHash(bad); err == nil {
			t.Errorf("quoteHash(%q) succeeded", bad)
		}
	}
	h, err := authhash.NewCachingSHA2("x")
	if err != nil {
		t.Fatal(err)
	}
	if q, err := quoteHash(h); err != nil || q != "'"+h+"'" {
		t.Fatalf("quoteHash(caching_sha2) = %q, %v", q, err)
	}
}
