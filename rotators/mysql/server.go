package mysql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/rotators/mysql/internal/authhash"
)

// Authentication plugins whose stored form this package can compute.
const (
	pluginNative      = "mysql_native_password"
	pluginCachingSHA2 = "caching_sha2_password"
	pluginEd25519     = "ed25519" // MariaDB
)

// ErrUnsupportedPlugin is returned for a MariaDB account whose authentication
// plugin has no password this package can set (unix_socket, gssapi, pam).
var ErrUnsupportedPlugin = errors.New("the account's authentication plugin has no password Rotary can rotate")

// ErrDualPasswordUnsupported is returned by the dual-password rotator when
// the server lacks RETAIN CURRENT PASSWORD (MariaDB, MySQL before 8.0.14).
var ErrDualPasswordUnsupported = errors.New("dual-password rotation needs MySQL 8.0.14 or later (RETAIN CURRENT PASSWORD); this server does not support it")

// server is what the statements depend on, read once per connection.
type server struct {
	MariaDB             bool
	Major, Minor, Patch int
}

// parseVersion reads SELECT VERSION(): "8.0.36", "5.7.44-log",
// "10.11.6-MariaDB-0+deb12u1-log", "5.5.5-10.6.4-MariaDB" (old replication
// prefix), "8.0.mysql_aurora.3.05.2".
func parseVersion(v string) (server, error) {
	var s server
	s.MariaDB = strings.Contains(strings.ToLower(v), "mariadb")
	if s.MariaDB {
		v = strings.TrimPrefix(v, "5.5.5-")
	}
	parts := strings.SplitN(v, ".", 4)
	nums := []*int{&s.Major, &s.Minor, &s.Patch}
	for i, dst := range nums {
		if i >= len(parts) {
			break
		}
		digits := parts[i]
		if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			digits = digits[:j]
		}
		if digits == "" {
			if i == 0 {
				return s, fmt.Errorf("unrecognised server version %q", v)
			}
			break
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return s, fmt.Errorf("unrecognised server version %q", v)
		}
		*dst = n
	}
	if s.Major == 0 {
		return s, fmt.Errorf("unrecognised server version %q", v)
	}
	return s, nil
}

func (s server) atLeast(major, minor, patch int) bool {
	if s.Major != major {
		return s.Major > major
	}
	if s.Minor != minor {
		return s.Minor > minor
	}
	return s.Patch >= patch
}

// String names the server for errors.
func (s server) String() string {
	flavour := "MySQL"
	if s.MariaDB {
		flavour = "MariaDB"
	}
	return fmt.Sprintf("%s %d.%d.%d", flavour, s.Major, s.Minor, s.Patch)
}

// maxUserLen is the server's user-name limit in characters.
func (s server) maxUserLen() int {
	switch {
	case s.MariaDB:
		return MaxUserLenMariaDB
	case s.atLeast(5, 7, 0):
		return MaxUserLenMySQL
	}
	return MaxUserLenMySQL56
}

// dualPassword reports whether the server has RETAIN CURRENT PASSWORD.
func (s server) dualPassword() bool { return !s.MariaDB && s.atLeast(8, 0, 14) }

// defaultPlugin is the plugin a new account gets when none is known.
func (s server) defaultPlugin() string {
	if !s.MariaDB && s.Major >= 8 {
		return pluginCachingSHA2
	}
	return pluginNative
}

// credential is a password in the form a statement sends it: a hash when the
// plugin has a stored form this package computes, else the plaintext as a
// bound parameter (never inside the SQL text).
type credential struct {
	plugin string // "" on MariaDB (native, IDENTIFIED BY PASSWORD)
	hash   string // quoted hash literal, or "" for plaintext
	plain  string // set only when hash is ""
}

// hashFor prepares pw for plugin on s.
func hashFor(s server, plugin, pw string) (credential, error) {
	if s.MariaDB {
		// MariaDB's IDENTIFIED BY PASSWORD / VIA … USING and SET PASSWORD =
		// '…' take the stored form.
		switch plugin {
		case "", pluginNative:
			q, err := quoteHash(authhash.Native(pw))
			return credential{hash: q}, err
		case pluginEd25519:
			q, err := quoteHash(authhash.Ed25519(pw))
			return credential{plugin: plugin, hash: q}, err
		}
		return credential{}, fmt.Errorf("%w (MariaDB plugin %q)", ErrUnsupportedPlugin, plugin)
	}
	switch plugin {
	case pluginNative:
		q, err := quoteHash(authhash.Native(pw))
		return credential{plugin: plugin, hash: q}, err
	case pluginCachingSHA2:
		h, err := authhash.NewCachingSHA2(pw)
		if err != nil {
			return credential{}, err
		}
		q, err := quoteHash(h)
		return credential{plugin: plugin, hash: q}, err
	}
	return credential{plugin: plugin, plain: pw}, nil
}

// statement is SQL text plus bound arguments (the driver interpolates them
// client-side, escaping for the session's sql_mode).
type statement struct {
	query string
	args  []any
	// hidden are values in query or args to scrub from errors: the password
	// hash (a driver error may quote the SQL text) and any bound plaintext.
	hidden []string
}

// identified is the IDENTIFIED clause for c.
func (c credential) identified(s server) statement {
	var st statement
	switch {
	case s.MariaDB && c.plugin != "":
		st = statement{query: "IDENTIFIED VIA " + c.plugin + " USING " + c.hash}
	case s.MariaDB:
		st = statement{query: "IDENTIFIED BY PASSWORD " + c.hash}
	case c.hash != "":
		st = statement{query: "IDENTIFIED WITH " + c.plugin + " AS " + c.hash}
	case c.plugin != "":
		st = statement{query: "IDENTIFIED WITH " + c.plugin + " BY ?", args: []any{c.plain}}
	default:
		st = statement{query: "IDENTIFIED BY ?", args: []any{c.plain}}
	}
	st.hidden = c.hidden()
	return st
}

func (c credential) hidden() []string {
	var out []string
	if h := strings.Trim(c.hash, "'"); h != "" {
		out = append(out, h)
	}
	if c.plain != "" {
		out = append(out, c.plain)
	}
	return out
}

// setOwnPassword changes the connected user's own password, pre-hashed.
// On MySQL 5.7.6+ the pre-hashed ALTER USER needs the CREATE USER privilege;
// ownPasswordPlain is the fallback for accounts without it.
func setOwnPassword(s server, c credential) statement {
	if s.MariaDB || !s.atLeast(5, 7, 6) {
		// SET PASSWORD without FOR needs no privilege; a literal is taken as
		// the stored form for the account's plugin (MariaDB, MySQL < 5.7.6).
		return statement{query: "SET PASSWORD = " + c.hash, hidden: c.hidden()}
	}
	id := c.identified(s)
	return statement{query: "ALTER USER CURRENT_USER() " + id.query, args: id.args, hidden: id.hidden}
}

// ownPasswordPlain is the only statement MySQL 5.7.6+ lets an account
// without CREATE USER use to change its own password: the plaintext, bound as
// a parameter. From 8.0.13 it names the password it logged in with, for
// accounts with PASSWORD REQUIRE CURRENT.
func ownPasswordPlain(s server, pw, loginPassword string) statement {
	if s.atLeast(8, 0, 13) {
		return statement{query: "ALTER USER USER() IDENTIFIED BY ? REPLACE ?", args: []any{pw, loginPassword}, hidden: []string{pw, loginPassword}}
	}
	return statement{query: "ALTER USER USER() IDENTIFIED BY ?", args: []any{pw}, hidden: []string{pw}}
}

// isPrivilegeError reports whether err is the server refusing a statement
// for lack of privilege.
func isPrivilegeError(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1044, 1142, 1227, 1370: // DB access denied, table access denied, specific privilege needed, routine access denied
		return true
	}
	return false
}

// alterPassword changes acct's password (as a user with CREATE USER).
func alterPassword(s server, acct string, c credential) statement {
	id := c.identified(s)
	return statement{query: "ALTER USER " + acct + " " + id.query, args: id.args, hidden: id.hidden}
}

// createUser creates acct with c unless it exists.
func createUser(s server, acct string, c credential) statement {
	id := c.identified(s)
	return statement{query: "CREATE USER IF NOT EXISTS " + acct + " " + id.query, args: id.args, hidden: id.hidden}
}

// dualPasswordStatements are the statements of a dual-password setSecret on
// MySQL 8.0.14+: discard the secondary password left by the previous rotation,
// then make pw the primary and keep the current one as secondary. The grammar
// has no pre-hashed form with RETAIN CURRENT PASSWORD, so pw is a bound
// parameter, never part of the SQL text.
func dualPasswordStatements(s server, acct, pw string) ([]statement, error) {
	if !s.dualPassword() {
		return nil, fmt.Errorf("%w (server is %s)", ErrDualPasswordUnsupported, s)
	}
	return []statement{
		{query: "ALTER USER " + acct + " DISCARD OLD PASSWORD"},
		{query: "ALTER USER " + acct + " IDENTIFIED BY ? RETAIN CURRENT PASSWORD", args: []any{pw}, hidden: []string{pw}},
	}, nil
}
