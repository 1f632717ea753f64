package dbrotator

import (
	"strings"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// MinFragment is the shortest piece of a secret Scrub removes on its own:
// servers truncate the SQL they quote in errors (MySQL's "near '*6D5BC4…' at
// line 1"), so a secret can appear cut at either end. A secret shorter than
// this is removed wherever it appears whole.
const MinFragment = 5

// Scrub returns err with every secret removed from its text: each whole
// secret, also in the escaped forms drivers and JSON encoders produce
// (logging.ScrubValues), and every fragment of one at least MinFragment bytes
// long, each replaced by logging.Redacted. errors.Is and errors.As still
// reach err's chain. It returns nil for nil, and err itself when its text
// holds nothing to remove. Both database engines pass every driver error
// through it before it leaves the package.
func Scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := ScrubText(msg, secrets)
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

// scrubbed is an error whose text had secret values removed.
type scrubbed struct {
	msg string
	err error
}

// Error returns the scrubbed text.
func (e *scrubbed) Error() string { return e.msg }

// Unwrap returns the original error, for errors.Is and errors.As.
func (e *scrubbed) Unwrap() error { return e.err }

// ScrubText is Scrub for a string.
func ScrubText(msg string, secrets []string) string {
	msg = logging.ScrubValues(msg, secrets)
	type frag struct {
		s     string
		min   int
		start map[string]bool // every substring of length min
	}
	var frags []frag
	for _, s := range secrets {
		if s == "" {
			continue
		}
		f := frag{s: s, min: min(MinFragment, len(s)), start: map[string]bool{}}
		for i := 0; i+f.min <= len(s); i++ {
			f.start[s[i:i+f.min]] = true
		}
		frags = append(frags, f)
	}
	if len(frags) == 0 {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		best := 0
		for _, f := range frags {
			if i+f.min > len(msg) || !f.start[msg[i:i+f.min]] {
				continue
			}
			n := f.min
			for n < len(f.s) && i+n < len(msg) && strings.Contains(f.s, msg[i:i+n+1]) {
				n++
			}
			best = max(best, n)
		}
		if best > 0 {
			b.WriteString(logging.Redacted)
			i += best
			continue
		}
		b.WriteByte(msg[i])
		i++
	}
	return b.String()
}
