package ascii_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/shared/ascii"
)

// The checks must accept exactly what these patterns match.
var (
	charsPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
	upperPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

func check(t *testing.T, s string) {
	t.Helper()
	if got, want := ascii.Chars(s, 1, 128, "_.-"), charsPattern.MatchString(s); got != want {
		t.Errorf("Chars(%q) = %t, the pattern says %t", s, got, want)
	}
	if got, want := ascii.UpperAlnum(s, 16, 128), upperPattern.MatchString(s); got != want {
		t.Errorf("UpperAlnum(%q) = %t, the pattern says %t", s, got, want)
	}
}

func TestMatchesPatterns(t *testing.T) {
	for _, s := range []string{"", "a", "a.b-c_d", "a b", "é", "a\x00", "a\n", "AKIAIOSFODNN7EXAMPLE", "akiaiosfodnn7example",
		strings.Repeat("A", 15), strings.Repeat("A", 16), strings.Repeat("A", 128), strings.Repeat("A", 129), "x/y"} {
		check(t, s)
	}
}

func FuzzMatchesPatterns(f *testing.F) {
	for _, s := range []string{"key-id.1", "AKIAIOSFODNN7EXAMPLE", "a b", "é"} {
		f.Add(s)
	}
	f.Fuzz(check)
}
