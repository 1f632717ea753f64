package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// FuzzCheckUsername: an accepted name fits PostgreSQL's limit, survives
// identifier quoting unchanged (no NUL for Sanitize to drop) and is UTF-8.
func FuzzCheckUsername(f *testing.F) {
	for _, s := range []string{"app", `a"b`, "x\x00y", strings.Repeat("é", 32), "bad\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkUsername("username", name) != nil {
			return
		}
		if len(name) == 0 || len(name) > MaxNameLen || !utf8.ValidString(name) {
			t.Fatalf("accepted %q", name)
		}
		quoted := pgx.Identifier{name}.Sanitize()
		inner := strings.ReplaceAll(quoted[1:len(quoted)-1], `""`, `"`)
		if inner != name {
			t.Fatalf("quoting changed %q to %q", name, inner)
		}
	})
}

// TestDriverErrorsScrubbed: the server quotes a password, whole or cut, in
// a syntax error; the error scrub returns holds none of it (nor a fragment
// of MinFragment bytes), while errors.As still reaches the driver's error.
func TestDriverErrorsScrubbed(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	conn := pg.Super(t)
	v := secret.Value{Username: "app", Password: "Pw-7f3a9c2e41b8d6-Tail"}
	for name, echoed := range map[string]string{"whole": v.Password, "fragment": v.Password[2:14]} {
		t.Run(name, func(t *testing.T) {
			// Two adjacent string literals: PostgreSQL's error quotes the second.
			_, err := conn.Exec(t.Context(), "SELECT 'x' '"+echoed+"'")
			if err == nil || !strings.Contains(err.Error(), echoed) {
				t.Fatalf("the server did not echo the literal (%v), so this test proves nothing", err)
			}
			err = scrub(fmt.Errorf("set: %w", err), nil, v)
			for i := 0; i+5 <= len(v.Password); i++ {
				if strings.Contains(err.Error(), v.Password[i:i+5]) {
					t.Fatalf("error %q holds a fragment of the password", err)
				}
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42601" {
				t.Fatalf("errors.As(PgError) = %v, want syntax error 42601", err)
			}
		})
	}
}

// TestCheckSecretHost: a host the driver would read as something else than
// one server (a unix-socket directory, several hosts, whitespace) is refused,
// naming the key, before any connection.
func TestCheckSecretHost(t *testing.T) {
	for _, host := range []string{"/var/run/postgresql", "/tmp", "db.example\n", "db example", "a/b"} {
		v := secret.Value{Engine: "postgres", Host: host, Username: "app", Password: "pw-0123456789"}
		var ke *secret.KeyError
		if err := checkSecret(v); !errors.As(err, &ke) || ke.Key != secret.KeyHost {
			t.Errorf("host %q: %v, want a KeyError naming host", host, err)
		}
	}
	if err := checkSecret(secret.Value{Engine: "postgres", Host: "db.example", Username: "app", Password: "pw-0123456789"}); err != nil {
		t.Errorf("a plain host name: %v", err)
	}
}
