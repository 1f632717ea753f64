package mysql

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// Name limits, in characters.
const (
	// MaxUserLenMariaDB is MariaDB's user-name limit.
	MaxUserLenMariaDB = 80
	// MaxUserLenMySQL is the user-name limit of MySQL 5.7 and later.
	MaxUserLenMySQL = 32
	// MaxUserLenMySQL56 is the user-name limit of MySQL before 5.7.
	MaxUserLenMySQL56 = 16
	// MaxHostLen is the longest account host part any supported server takes.
	MaxHostLen = 255
	// CloneSuffix is appended to the user name for the alternate user.
	CloneSuffix = "_clone"
)

// KeyAccountHost is Rotary's secret key for the host part of the MySQL
// account ('user'@'host') that alternating-users rotation manages. When it is
// absent, the master looks the host up in mysql.user and uses it if the user
// has exactly one account, '%' otherwise (AWS's templates always use '%'; see
// aws-samples/aws-secrets-manager-rotation-lambdas issue 101).
const KeyAccountHost = "accountHost"

// ErrUnsafeName is wrapped by errors about a user or host name this package
// refuses to put in SQL.
var ErrUnsafeName = errors.New("unsafe account name")

// checkName reports whether s can be quoted as a MySQL identifier and stored
// as an account name part: valid UTF-8, no control characters, nothing outside
// the Basic Multilingual Plane (the grant tables are utf8mb3), at most max
// characters.
func checkName(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrUnsafeName, what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrUnsafeName, what)
	}
	n := 0
	for _, r := range s {
		n++
		switch {
		case r == 0 || unicode.IsControl(r):
			return fmt.Errorf("%w: %s contains a control character", ErrUnsafeName, what)
		case r > 0xFFFF:
			return fmt.Errorf("%w: %s contains a character outside the Basic Multilingual Plane, which MySQL account names cannot hold", ErrUnsafeName, what)
		}
	}
	if n > max {
		return fmt.Errorf("%w: %s is %d characters, more than the server's limit of %d", ErrUnsafeName, what, n, max)
	}
	return nil
}

// checkUser validates a user name against the largest limit of any supported
// server; the server's own limit is checked once it is known.
func checkUser(s string) error {
	if err := checkName("user name", s, MaxUserLenMariaDB); err != nil {
		return &secret.KeyError{Key: secret.KeyUsername, Problem: "is not usable: " + err.Error()}
	}
	return nil
}

// quoteIdent quotes s as a MySQL identifier: backticks, with backticks
// doubled. Backslashes have no meaning inside backticks, whatever the
// sql_mode, so this is the only escape needed. s must have passed checkName.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// account returns the quoted account name `user`@`host`.
func account(user, host string) string {
	return quoteIdent(user) + "@" + quoteIdent(host)
}

// quoteHash quotes a password hash as a SQL string. Hashes this package makes
// use only [A-Za-z0-9./*$+], so no escaping is ever needed; anything else is
// refused rather than escaped.
func quoteHash(h string) (string, error) {
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("./*$+", c)) {
			return "", errors.New("password hash contains a character that would need escaping")
		}
	}
	return "'" + h + "'", nil
}

// altUser returns the other user of an alternating pair: name without
// _clone, or name with _clone.
func altUser(name string) string {
	if base, ok := strings.CutSuffix(name, CloneSuffix); ok && base != "" {
		return base
	}
	return name + CloneSuffix
}

// baseUser returns the original user of the pair name belongs to.
func baseUser(name string) string {
	if base, ok := strings.CutSuffix(name, CloneSuffix); ok && base != "" {
		return base
	}
	return name
}

// engineUserLimit is the user-name limit implied by a secret's engine key,
// used before the server is known.
func engineUserLimit(engine string) int {
	if strings.EqualFold(engine, "mariadb") {
		return MaxUserLenMariaDB
	}
	return MaxUserLenMySQL
}
