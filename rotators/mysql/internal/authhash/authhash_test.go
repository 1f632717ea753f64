package authhash

import (
	"strings"
	"testing"
)

func TestNative(t *testing.T) {
	// Published values of PASSWORD('…') on MySQL 5.7 / MariaDB.
	tests := []struct {
		name, password, want string
	}{
		{name: "password", password: "password", want: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"},
		{name: "x", password: "x", want: "*B69027D44F6E5EDC07F1AEAD1477967B16F28227"},
		{name: "y", password: "y", want: "*7446F64EFCFB1294A6DE20CAE7E49C2377A9AA25"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Native(tc.password)
			if got != tc.want {
				t.Fatalf("Native() = %s, want %s", got, tc.want)
			}
			if !IsNative(got) {
				t.Fatalf("IsNative(Native()) = false")
			}
		})
	}
}

// TestSHA256Crypt uses the test vectors of Drepper's SHA-crypt specification
// (https://www.akkadia.org/drepper/SHA-crypt.txt). The specification truncates
// salts to 16 bytes, so the salts here are given already truncated.
func TestSHA256Crypt(t *testing.T) {
	tests := []struct {
		name, key, salt string
		rounds          int
		want            string
	}{
		{"default rounds", "Hello world!", "saltstring", 5000, "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
		{"10000 rounds", "Hello world!", "saltstringsaltst", 10000, "3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
		{"long salt", "This is just a test", "toolongsaltstrin", 5000, "Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
		{"long key", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "anotherlongsalts", 1400, "Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
		{"short salt", "we have a short salt string but not a short password", "short", 77777, "JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
		{"minimum rounds", "the minimum number is still observed", "roundstoolow", 1000, "yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SHA256Crypt([]byte(tc.key), []byte(tc.salt), tc.rounds)
			if got != tc.want {
				t.Fatalf("SHA256Crypt() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestCachingSHA2(t *testing.T) {
	salt := []byte("saltstringsaltstring")
	got, err := CachingSHA2("Hello world!", salt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "$A$005$saltstringsaltstring") || len(got) != 70 {
		t.Fatalf("CachingSHA2() = %q, want $A$005$ + 20-byte salt + 43-byte digest", got)
	}
	if want := "$A$005$saltstringsaltstring" + SHA256Crypt([]byte("Hello world!"), salt, 5000); got != want {
		t.Fatalf("CachingSHA2() = %q, want %q", got, want)
	}

	fresh, err := NewCachingSHA2("secret one")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, password, stored string
		want                   bool
		wantErr                bool
	}{
		{name: "right password", password: "secret one", stored: fresh, want: true},
		{name: "wrong password", password: "secret two", stored: fresh},
		{name: "native hash", password: "x", stored: Native("x"), wantErr: true},
		{name: "truncated", password: "secret one", stored: fresh[:60], wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyCachingSHA2(tc.password, tc.stored)
			if (err != nil) != tc.wantErr {
				t.Fatalf("VerifyCachingSHA2() error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("VerifyCachingSHA2() = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("salt checks", func(t *testing.T) {
		for _, bad := range []string{"short", "saltstring$altstring", "saltstring\x00altstring"} {
			if _, err := CachingSHA2("p", []byte(bad)); err == nil {
				t.Errorf("CachingSHA2(salt %q) succeeded, want error", bad)
			}
		}
	})
}

func FuzzNative(f *testing.F) {
	f.Add("password")
	f.Add("")
	f.Add("\x00'\\`")
	f.Fuzz(func(t *testing.T, pw string) {
		h := Native(pw)
		if !IsNative(h) {
			t.Fatalf("Native(%q) = %q is not a native hash", pw, h)
		}
		if Native(pw) != h || Native(pw+"x") == h {
			t.Fatalf("Native is not a deterministic function of the password")
		}
	})
}

func FuzzCachingSHA2(f *testing.F) {
	f.Add("Hello world!", []byte("saltstringsaltstring"))
	f.Add("", []byte("'\\\"'\\\"'\\\"'\\\"'\\\"'\\\"!!"))
	f.Fuzz(func(t *testing.T, pw string, salt []byte) {
		h, err := CachingSHA2(pw, salt)
		if err != nil {
			return
		}
		ok, err := VerifyCachingSHA2(pw, h)
		if err != nil || !ok {
			t.Fatalf("VerifyCachingSHA2(CachingSHA2()) = %v, %v", ok, err)
		}
		if ok, _ := VerifyCachingSHA2(pw+"x", h); ok {
			t.Fatalf("a different password verified")
		}
	})
}

// TestEd25519 uses values MariaDB 10.11 stored for
// CREATE USER … IDENTIFIED VIA ed25519 USING PASSWORD('…').
func TestEd25519(t *testing.T) {
	tests := []struct{ password, want string }{
		{"edpw", "LIEvGDGjHTmKyz3peLRjPqahOct5n6/BQCNm1bOvot4"},
		{"edpw2", "KgXMXcPajp4kwmqEMJb+uCJ4FhOKwdTd7XNvvy7D9Jc"},
	}
	for _, tc := range tests {
		t.Run(tc.password, func(t *testing.T) {
			if got := Ed25519(tc.password); got != tc.want {
				t.Fatalf("Ed25519() = %s, want %s", got, tc.want)
			}
		})
	}
}
