package dbrotator

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// TestScrub: whole secrets, their escaped forms and fragments cut at either
// end leave an error's text; its chain stays.
func TestScrub(t *testing.T) {
	const pw = "Sup3r-Secret-Passw0rd"
	const r = logging.Redacted
	tests := []struct {
		name, msg, want string
	}{
		{name: "whole", msg: "near '" + pw + "' at line 1", want: "near '" + r + "' at line 1"},
		{name: "cut at the end", msg: "near 'IDENTIFIED BY 'Sup3r-Sec...' at line 1", want: "near 'IDENTIFIED BY '" + r + "...' at line 1"},
		{name: "cut at the start, shorter than MinFragment", msg: "near 'w0rd' at line 1", want: "near 'w0rd' at line 1"},
		{name: "suffix", msg: "near 'Passw0rd'", want: "near '" + r + "'"},
		{name: "nothing", msg: "access denied", want: "access denied"},
		{name: "two secrets", msg: `password "pw-Secret-123" and SCRAM-SHA-256$4096:abc for app`, want: `password "` + r + `" and ` + r + ` for app`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secrets := []string{pw, ""}
			if tc.name == "two secrets" {
				secrets = []string{"pw-Secret-123", "SCRAM-SHA-256$4096:abc"}
			}
			orig := errors.New(tc.msg)
			err := Scrub(fmt.Errorf("wrapped: %w", orig), secrets...)
			if got := err.Error(); got != "wrapped: "+tc.want {
				t.Fatalf("Scrub() = %q, want %q", got, "wrapped: "+tc.want)
			}
			if !errors.Is(err, orig) {
				t.Error("Scrub lost the error chain")
			}
		})
	}
	if clean := errors.New("access denied"); Scrub(clean, pw) != clean {
		t.Error("Scrub wrapped an error with nothing to remove")
	}
	if Scrub(nil, pw) != nil {
		t.Error("Scrub(nil) is not nil")
	}
	// An escaped form (a JSON encoder's, a driver's quoting) goes too.
	quoted := `it's-a-"Secret"\path`
	if got := ScrubText(fmt.Sprintf("%q", quoted), []string{quoted}); strings.Contains(got, "Secret") {
		t.Errorf("ScrubText kept a quoted secret: %q", got)
	}
}

// FuzzScrub checks no fragment of MinFragment bytes of a secret survives.
func FuzzScrub(f *testing.F) {
	f.Add("near 'abcdefgh' at line 1", "abcdefgh")
	f.Add("xxabcxx", "abc")
	f.Fuzz(func(t *testing.T, msg, secret string) {
		got := ScrubText(msg, []string{secret})
		if secret == "" {
			if got != msg {
				t.Fatalf("scrub with an empty secret changed the message")
			}
			return
		}
		n := min(MinFragment, len(secret))
		for i := 0; i+n <= len(got); i++ {
			if strings.Contains(secret, got[i:i+n]) && !strings.Contains(logging.Redacted, got[i:i+n]) {
				t.Fatalf("ScrubText(%q, %q) = %q keeps a fragment %q", msg, secret, got, got[i:i+n])
			}
		}
	})
}
