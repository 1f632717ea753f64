package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/shared/secret"
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

func TestScrub(t *testing.T) {
	v := secret.Value{Username: "app", Password: "pw-Secret-123"}
	orig := errors.New(`failed: password "pw-Secret-123" and SCRAM-SHA-256$4096:abc for app`)
	err := scrub(fmt.Errorf("wrapped: %w", orig), []string{"SCRAM-SHA-256$4096:abc", ""}, v)
	if got, want := err.Error(), `wrapped: failed: password "[redacted]" and [redacted] for app`; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
	if !errors.Is(err, orig) {
		t.Error("scrub lost the error chain")
	}
	if clean := errors.New("nothing secret"); scrub(clean, nil, v) != clean {
		t.Error("scrub wrapped an error with nothing to remove")
	}
	if scrub(nil, nil, v) != nil {
		t.Error("scrub(nil) is not nil")
	}
}
