package saas

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzDetail: whatever a provider answers, the error detail holds no secret
// of four bytes or more (secrets that could be spelled by the redaction
// marker itself are out of scope), is at most maxDetail bytes plus the
// ellipsis, and is one line of valid UTF-8.
func FuzzDetail(f *testing.F) {
	f.Add([]byte(`{"errors":[{"message":"bad key SG.abc.def"}]}`), "SG.abc.def", "token123")
	f.Add([]byte("line\nCANARY\r\nCANARY"), "CANARY", "ab\ncd")
	f.Add([]byte(strings.Repeat("é", 400)), "éééé", "xxxx")
	f.Fuzz(func(t *testing.T, body []byte, s1, s2 string) {
		secrets := []string{s1, s2}
		got := detail(body, secrets)
		for _, s := range secrets {
			if len(s) < 4 || strings.ContainsAny(s, "[]") || strings.Contains(Redacted, s) {
				continue
			}
			if strings.Contains(got, s) {
				t.Fatalf("detail(%q) = %q holds secret %q", body, got, s)
			}
		}
		if len(got) > maxDetail+len("…") || strings.ContainsAny(got, "\r\n") || !utf8Valid(got) {
			t.Fatalf("detail = %q: too long, multi-line or invalid UTF-8", got)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// FuzzRetryAfter: any header value parses to a wait that is never negative.
func FuzzRetryAfter(f *testing.F) {
	for _, v := range []string{"3", "-1", "Fri, 27 Nov 2026 12:00:05 GMT", "99999999999999999999", "", "1.5"} {
		f.Add(v, v)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := &Client{Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, retryAfter, reset string) {
		for _, date := range []string{"", "Fri, 27 Nov 2026 11:00:00 GMT", "not a date"} {
			h := http.Header{}
			h.Set("Retry-After", retryAfter)
			h.Set("X-Rate-Limit-Reset", reset)
			if date != "" {
				h.Set("Date", date)
			}
			if d, ok := c.retryAfter(h); ok && d < 0 {
				t.Fatalf("retryAfter(%q, %q, Date %q) = %v", retryAfter, reset, date, d)
			}
		}
	})
}

// FuzzSameSecret: a shown secret matches a held one only when it is the same
// string, or Okta's masked form "<start>......<end>" whose visible parts (16
// characters at least, fewer than the whole) are the held secret's start and
// end.
func FuzzSameSecret(f *testing.F) {
	f.Add("abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghij......uvwxyz0123456789")
	f.Add("abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789")
	f.Add("short", "sh......rt")
	f.Fuzz(func(t *testing.T, held, shown string) {
		if !sameSecret(shown, held) {
			return
		}
		if shown == held && held != "" {
			return
		}
		start, end, ok := strings.Cut(shown, "......")
		if !ok || len(start)+len(end) < 16 || len(start)+len(end) >= len(held) ||
			!strings.HasPrefix(held, start) || !strings.HasSuffix(held, end) {
			t.Fatalf("sameSecret(%q, %q) = true", shown, held)
		}
	})
}

// FuzzPathOf: the path never holds the query or the host.
func FuzzPathOf(f *testing.F) {
	f.Add("https://api.sendgrid.com/v3/api_keys?limit=100")
	f.Add("http://127.0.0.1:80")
	f.Fuzz(func(t *testing.T, raw string) {
		p := pathOf(raw)
		if strings.ContainsAny(p, "?#") {
			t.Fatalf("pathOf(%q) = %q keeps a query", raw, p)
		}
	})
}
