package ldap

import (
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rotary-secrets/rotary/shared/ascii"
)

// MaxDNLength is the longest DN accepted, in bytes.
const MaxDNLength = 512

// ErrHostileDN is returned for a DN that is not a plain, well-formed DN: it
// is refused before any connection.
var ErrHostileDN = errors.New("ldap: the DN is not a plain distinguished name")

// validAttrType reports whether s is an attribute type: a name (a letter,
// then at most 63 letters, digits and hyphens) or a numeric OID (runs of
// digits joined by single dots, at least two). A loop, not a
// counted-repetition regexp: see package shared/ascii.
func validAttrType(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return ascii.Chars(s, 1, 64, "-")
	}
	dots, digit := 0, false // digit: the byte before is a digit
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '.' && digit:
			dots, digit = dots+1, false
		default:
			return false
		}
	}
	return dots > 0 && digit
}

// plainValue reports whether s is an attribute value of letters, digits,
// space, '.', '_', '@' and '-' that starts with a letter or digit.
func plainValue(s string) bool {
	return s != "" && ascii.IsAlnum(s[0]) && ascii.Chars(s, 1, len(s), " ._@-")
}

// CanonicalDN parses dn (RFC 4514) and returns it rebuilt from its parts with
// every attribute value escaped (ldap.EscapeDN). It refuses, wrapping
// ErrHostileDN, a DN that is empty, longer than MaxDNLength, holds a control
// character, does not parse, or has an attribute value outside letters,
// digits, space, '.', '_', '@' and '-' (no quotes, commas, '*', '+', '=',
// '\', NUL in values) or a value with trailing space.
func CanonicalDN(dn string) (string, error) {
	switch {
	case dn == "":
		return "", fmt.Errorf("%w: it is empty", ErrHostileDN)
	case len(dn) > MaxDNLength:
		return "", fmt.Errorf("%w: it is longer than %d bytes", ErrHostileDN, MaxDNLength)
	}
	for _, r := range dn {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: it holds a control character", ErrHostileDN)
		}
	}
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return "", fmt.Errorf("%w: it does not parse as a DN", ErrHostileDN)
	}
	rdns := make([]string, 0, len(parsed.RDNs))
	for _, rdn := range parsed.RDNs {
		if len(rdn.Attributes) == 0 {
			return "", fmt.Errorf("%w: it has an empty RDN", ErrHostileDN)
		}
		parts := make([]string, 0, len(rdn.Attributes))
		for _, a := range rdn.Attributes {
			if !validAttrType(a.Type) {
				return "", fmt.Errorf("%w: an attribute type is not a name or OID", ErrHostileDN)
			}
			if !plainValue(a.Value) || strings.HasSuffix(a.Value, " ") {
				return "", fmt.Errorf("%w: attribute %s has a value with characters other than letters, digits, space, '.', '_', '@' and '-'", ErrHostileDN, a.Type)
			}
			parts = append(parts, a.Type+"="+goldap.EscapeDN(a.Value))
		}
		rdns = append(rdns, strings.Join(parts, "+"))
	}
	return strings.Join(rdns, ","), nil
}

// sameDN reports whether a and b name the same entry (RFC 4517 case-ignore
// matching of types and values).
func sameDN(a, b string) bool {
	da, err := goldap.ParseDN(a)
	if err != nil {
		return false
	}
	db, err := goldap.ParseDN(b)
	if err != nil {
		return false
	}
	return da.EqualFold(db)
}
