package scram

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// TestRFC7677Vector checks the key derivation against the exchange in RFC 7677
// section 3 (user "user", password "pencil").
func TestRFC7677Vector(t *testing.T) {
	salt := b64(t, "W22ZaJ0SNY7soEsUEjb6gQ==")
	k, err := deriveKeys("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	clientSig := hmacSHA256(k.stored, authMessage)
	proof := make([]byte, len(clientSig))
	for i := range proof {
		proof[i] = k.client[i] ^ clientSig[i]
	}
	if got, want := base64.StdEncoding.EncodeToString(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="; got != want {
		t.Errorf("ClientProof = %s, want %s", got, want)
	}
	if got, want := base64.StdEncoding.EncodeToString(hmacSHA256(k.server, authMessage)), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; got != want {
		t.Errorf("ServerSignature = %s, want %s", got, want)
	}
}

// TestPostgreSQLVector checks against a verifier PostgreSQL 15 made for
// "pencil" (CREATE ROLE ... PASSWORD 'pencil').
func TestPostgreSQLVector(t *testing.T) {
	const fromServer = "SCRAM-SHA-256$4096:dFF7nFU3eN31n4N1vPzPVw==$t6fiJTr1DkWKEF+/wPA0wDdFV2kK5ad575QUufUEBys=:vEtJLeM3zZyujfF8fd7zhHU33Le3UsocmdzOQN1wi3g="
	v, err := Parse(fromServer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := New("pencil", v.Salt, v.Iterations)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != fromServer {
		t.Errorf("New = %s, want %s", got, fromServer)
	}
	if !v.Matches("pencil") || v.Matches("pencil2") {
		t.Error("Matches disagrees with the server's verifier")
	}
}

func TestGenerate(t *testing.T) {
	a, err := Generate("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate("secret-password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two verifiers of one password are equal: salt is not random")
	}
	for _, s := range []string{a, b} {
		if strings.Contains(s, "secret-password") {
			t.Error("verifier contains the password")
		}
		v, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(Generate()) = %v", err)
		}
		if v.Iterations != DefaultIterations || len(v.Salt) != SaltLen || !v.Matches("secret-password") {
			t.Errorf("generated verifier %+v does not match its password", v)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name     string
		password string
		salt     []byte
		iter     int
		wantPass bool // error is ErrPassword
	}{
		{name: "empty password", password: "", salt: []byte("s"), iter: 1, wantPass: true},
		{name: "non-ASCII password", password: "pässword", salt: []byte("s"), iter: 1, wantPass: true},
		{name: "NUL in password", password: "a\x00b", salt: []byte("s"), iter: 1, wantPass: true},
		{name: "empty salt", password: "pw-1234", iter: 1},
		{name: "zero iterations", password: "pw-1234", salt: []byte("s"), iter: 0},
		{name: "too many iterations", password: "pw-1234", salt: []byte("s"), iter: MaxIterations + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.password, tt.salt, tt.iter)
			if err == nil {
				t.Fatal("New succeeded, want error")
			}
			if got := errors.Is(err, ErrPassword); got != tt.wantPass {
				t.Errorf("errors.Is(err, ErrPassword) = %v, want %v", got, tt.wantPass)
			}
			if tt.password != "" && strings.Contains(err.Error(), tt.password) {
				t.Error("error contains the password")
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := "SCRAM-SHA-256$4096:dFF7nFU3eN31n4N1vPzPVw==$t6fiJTr1DkWKEF+/wPA0wDdFV2kK5ad575QUufUEBys=:vEtJLeM3zZyujfF8fd7zhHU33Le3UsocmdzOQN1wi3g="
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"md5", "md5" + strings.Repeat("0", 32)},
		{"plaintext", "pencil"},
		{"no keys", "SCRAM-SHA-256$4096:dFF7nFU3eN31n4N1vPzPVw=="},
		{"negative iterations", strings.Replace(good, "$4096:", "$-1:", 1)},
		{"plus iterations", strings.Replace(good, "$4096:", "$+4096:", 1)},
		{"leading zero", strings.Replace(good, "$4096:", "$04096:", 1)},
		{"huge iterations", strings.Replace(good, "$4096:", "$999999999999:", 1)},
		{"bad base64", strings.Replace(good, "dFF7", "d!F7", 1)},
		{"short key", strings.Replace(good, ":vEtJ", ":AAAA", 1)[:len(good)-8]},
		{"extra field", good + ":x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.in); !errors.Is(err, ErrFormat) {
				t.Errorf("Parse = %v, want ErrFormat", err)
			}
		})
	}
}

// FuzzVerifier checks that Parse never panics, that every verifier New builds
// parses back to the same keys, and that it is safe inside a SQL literal.
func FuzzVerifier(f *testing.F) {
	f.Add("pencil", []byte("salt"), 1, "SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB")
	f.Add("p'\"\\;--", []byte{0, 1, 2}, 2, "")
	f.Fuzz(func(t *testing.T, password string, salt []byte, iter int, raw string) {
		if v, err := Parse(raw); err == nil {
			if v2, err := Parse(v.String()); err != nil || v2.Iterations != v.Iterations ||
				!bytes.Equal(v2.Salt, v.Salt) || !hmac.Equal(v2.StoredKey, v.StoredKey) {
				t.Fatalf("Parse(String()) does not round-trip: %v", err)
			}
		}
		iter = 1 + (iter&0x7fffffff)%8 // keep PBKDF2 cheap
		v, err := New(password, salt, iter)
		if err != nil {
			return
		}
		s := v.String()
		if strings.ContainsAny(s, "'\\\x00") {
			t.Fatalf("verifier %q is not safe in a SQL literal", s)
		}
		p, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(New().String()) = %v", err)
		}
		if p.Iterations != iter || !bytes.Equal(p.Salt, salt) || len(p.StoredKey) != sha256.Size {
			t.Fatalf("round trip changed the verifier")
		}
		if !p.Matches(password) {
			t.Fatalf("verifier does not match its password")
		}
	})
}
