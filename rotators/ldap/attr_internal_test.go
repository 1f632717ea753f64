package ldap

import (
	"regexp"
	"strings"
	"testing"
)

// The expressions validAttrType and plainValue replaced; each must accept
// exactly what its pattern matched.
var (
	attrTypePattern = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(?:\.[0-9]+)+)$`)
	plainPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._@-]*$`)
)

func checkAttr(t *testing.T, s string) {
	t.Helper()
	if got, want := validAttrType(s), attrTypePattern.MatchString(s); got != want {
		t.Errorf("validAttrType(%q) = %t, the pattern says %t", s, got, want)
	}
	if got, want := plainValue(s), plainPattern.MatchString(s); got != want {
		t.Errorf("plainValue(%q) = %t, the pattern says %t", s, got, want)
	}
}

func TestAttrChecksMatchPatterns(t *testing.T) {
	for _, s := range []string{"", "a", "A", "1", "-", "uid", "cn-x", "a-", "2.5.4.3", "2.5", "2", "2.", ".2", "2..5", "2.5.",
		"1uid", "a.b", "a_b", "a b", "a b ", " a", "a@b.c-d_e", "é", "a\x00", "a,b", "a=b", "a*",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "a" + strings.Repeat("1", 63), "a" + strings.Repeat("1", 64)} {
		checkAttr(t, s)
	}
}

func FuzzAttrChecksMatchPatterns(f *testing.F) {
	for _, s := range []string{"uid", "2.5.4.3", "cn-x", "App Server 1", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(checkAttr)
}
