package awsx

import (
	"regexp"
	"strings"
	"testing"
)

// The patterns the validators replaced; the validators must accept exactly
// what they matched.
var (
	secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@!-]{1,519}$`)
	roleNamePattern   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	externalIDPattern = regexp.MustCompile(`^[\w+=,.@:/-]+$`) // and 2-1224 long
	orgIDPattern      = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
)

func checkValidators(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name string
		got  bool
		re   *regexp.Regexp
	}{
		{"validSecretName", validSecretName(s), secretNamePattern},
		{"validRoleName", validRoleName(s), roleNamePattern},
		{"validExternalID", validExternalID(s), externalIDPattern},
		{"validOrgID", validOrgID(s), orgIDPattern},
	} {
		want := c.re.MatchString(s)
		if c.re == externalIDPattern {
			want = want && len(s) >= 2 && len(s) <= 1224
		}
		if c.got != want {
			t.Errorf("%s(%q) = %t, the pattern %s says %t", c.name, s, c.got, c.re, want)
		}
	}
}

func TestValidatorsMatchTheirPatterns(t *testing.T) {
	for _, s := range []string{
		"", "a", "ab", "o-", "o-abcdefghi", "o-abcdefghij", "o-ABCDEFGHIJ", "o-abcdefghij\n", "o-" + strings.Repeat("a", 32),
		"o-" + strings.Repeat("a", 33), "rotary-member", "rotary member", "role/x", "a:b", "prod/db-AbCdEf", "x!y", "é",
		"a\x00", "a\n", strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 519), strings.Repeat("a", 520),
		strings.Repeat("b", 1224), strings.Repeat("b", 1225), "_+=,.@-", "/_+=.@!-", "_+=,.@:/-", "A-Z_0-9",
	} {
		checkValidators(t, s)
	}
}

func FuzzValidatorsMatchTheirPatterns(f *testing.F) {
	for _, s := range []string{"rotary-member", "o-abcdefghij", "prod/db-AbCdEf", "a:b/c", "x!y", "é"} {
		f.Add(s)
	}
	f.Fuzz(checkValidators)
}
