// Package ascii checks short identifiers from secrets (names, IDs, hosts)
// byte by byte. It exists because a compiled regular expression with a
// counted repetition ({1,519}, {0,251}, …) is expanded at package init: the
// patterns it replaces held hundreds of KiB of heap and grew the start-up
// stack of every Lambda function that linked them, all of it in the
// function's peak RSS (test/bench README). It must stay a leaf: no imports
// beyond the standard library, nothing but pure functions.
package ascii

import "strings"

// Chars reports whether s is min to max bytes long, each an ASCII letter, an
// ASCII digit or one of the bytes of extra.
func Chars(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !IsAlnum(c) && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// UpperAlnum reports whether s is min to max bytes long, each an ASCII
// upper-case letter or digit.
func UpperAlnum(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// IsAlnum reports whether c is an ASCII letter or digit.
func IsAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
