package ldap

import (
	"errors"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestCanonicalDN(t *testing.T) {
	ok := []struct{ in, want string }{
		{"uid=app,ou=people,dc=example,dc=com", "uid=app,ou=people,dc=example,dc=com"},
		{"uid=app, ou=people , dc=example", "uid=app,ou=people,dc=example"},
		{"cn=App Server 1,ou=svc,dc=example", `cn=App Server 1,ou=svc,dc=example`},
		{"uid=a.b_c@d-e,dc=x", "uid=a.b_c@d-e,dc=x"},
		{"cn=a+sn=b,dc=x", "cn=a+sn=b,dc=x"},
		{"2.5.4.3=app,dc=x", "2.5.4.3=app,dc=x"},
	}
	for _, tc := range ok {
		t.Run(tc.in, func(t *testing.T) {
			got, err := CanonicalDN(tc.in)
			if err != nil {
				t.Fatalf("CanonicalDN(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("CanonicalDN(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	hostile := []string{
		"",
		"app",
		`uid=kit'quote,dc=x`,
		`uid=kit"dquote,dc=x`,
		"uid=kit\x00nul,dc=x",
		"uid=kit\nline,dc=x",
		"uid=kit; DROP,dc=x",
		"uid=*,dc=x",
		"uid=a*,dc=x",
		`uid=a\2cb,dc=x`,        // an escaped comma inside a value
		`uid=a\,ou=admins,dc=x`, // the same, escaped by hand
		`uid=a\00,dc=x`,         // an escaped NUL
		`uid=#0400,dc=x`,        // a BER-encoded value
		"uid=a=b,dc=x",
		"uid=(admin),dc=x",
		"uid=trail\\ ,dc=x",
		"uid=a,,dc=x",
		"../../kit",
		"uid=" + strings.Repeat("k", 600),
		"1uid=a,dc=x",
	}
	for _, h := range hostile {
		t.Run("hostile", func(t *testing.T) {
			if got, err := CanonicalDN(h); !errors.Is(err, ErrHostileDN) {
				t.Fatalf("CanonicalDN(%q) = %q, %v; want ErrHostileDN", h, got, err)
			}
		})
	}
}

// FuzzCanonicalDN: whatever CanonicalDN accepts parses back to the same DN,
// holds no control character and fits MaxDNLength.
func FuzzCanonicalDN(f *testing.F) {
	for _, s := range []string{"uid=app,ou=people,dc=example", `uid=a\,b,dc=x`, "cn=a+sn=b,dc=x", "uid=*", "uid=a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CanonicalDN(in)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\x00\n\r*\"'\\") {
			t.Fatalf("CanonicalDN(%q) = %q holds a special character", in, got)
		}
		a, err1 := goldap.ParseDN(in)
		b, err2 := goldap.ParseDN(got)
		if err1 != nil || err2 != nil || !a.EqualFold(b) {
			t.Fatalf("CanonicalDN(%q) = %q names another entry", in, got)
		}
		if again, err := CanonicalDN(got); err != nil || again != got {
			t.Fatalf("CanonicalDN is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}
