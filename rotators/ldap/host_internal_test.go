package ldap

import (
	"regexp"
	"strings"
	"testing"
)

// hostPattern is the expression validHost replaced; it must accept exactly
// what the pattern matched.
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^[0-9A-Fa-f:]+$`)

func checkHost(t *testing.T, s string) {
	t.Helper()
	if got, want := validHost(s), hostPattern.MatchString(s); got != want {
		t.Errorf("validHost(%q) = %t, the pattern says %t", s, got, want)
	}
}

func TestValidHostMatchesPattern(t *testing.T) {
	for _, s := range []string{"", "a", "-", "a-", "-a", "ldap.example.com", "ldap..x", "::1", "fe80::1", "FE80::1", "g::1",
		"1.2.3.4", "a_b", "a b", "é", "a\x00", strings.Repeat("a", 253), strings.Repeat("a", 254), ":", "abc:"} {
		checkHost(t, s)
	}
}

func FuzzValidHostMatchesPattern(f *testing.F) {
	for _, s := range []string{"ldap.example.com", "::1", "a-", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(checkHost)
}
