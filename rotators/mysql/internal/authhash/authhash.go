package authhash

import (
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // mysql_native_password is defined with SHA-1.
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"filippo.io/edwards25519"
)

// Native returns the mysql_native_password hash MySQL and MariaDB store:
// '*' followed by the upper-case hex of SHA1(SHA1(password)). It is what
// PASSWORD('…') returns on MariaDB and MySQL 5.7.
func Native(password string) string {
	first := sha1.Sum([]byte(password))
	second := sha1.Sum(first[:])
	return "*" + strings.ToUpper(hex.EncodeToString(second[:]))
}

// IsNative reports whether s has the form of a Native hash.
func IsNative(s string) bool {
	if len(s) != 41 || s[0] != '*' {
		return false
	}
	for _, c := range s[1:] {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// CachingSHA2 parameters, as MySQL 8's caching_sha2_password writes them.
const (
	// CachingSHA2SaltLen is the length of the salt in bytes.
	CachingSHA2SaltLen = 20
	// CachingSHA2Iterations is the number of SHA-256 crypt rounds MySQL uses by
	// default ("005" = 5 × 1000).
	CachingSHA2Iterations = 5000
	cachingSHA2Prefix     = "$A$005$"
	digestLen             = 43
)

// saltAlphabet is where generated salts come from: printable, and free of the
// characters that need escaping in SQL (backslash and quotes) and of '$', which
// separates the fields of the hash.
const saltAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrFormat is returned for a stored hash that does not have the expected form.
var ErrFormat = errors.New("authhash: not a caching_sha2_password hash")

// NewCachingSHA2 returns a caching_sha2_password authentication string for
// password with a fresh random salt: "$A$005$" + 20-byte salt + 43-character
// SHA-256 crypt digest, the form IDENTIFIED WITH caching_sha2_password AS '…'
// accepts. The salt uses only characters that are safe inside a SQL string.
func NewCachingSHA2(password string) (string, error) {
	salt := make([]byte, CachingSHA2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("authhash: read random: %w", err)
	}
	for i, b := range salt {
		// 256 is a multiple of 64, so this is uniform.
		salt[i] = saltAlphabet[int(b)%len(saltAlphabet)]
	}
	return CachingSHA2(password, salt)
}

// CachingSHA2 returns the caching_sha2_password authentication string for
// password and salt (exactly 20 bytes, none of them 0 or '$').
func CachingSHA2(password string, salt []byte) (string, error) {
	if len(salt) != CachingSHA2SaltLen {
		return "", fmt.Errorf("authhash: salt must be %d bytes, got %d", CachingSHA2SaltLen, len(salt))
	}
	for _, b := range salt {
		if b == 0 || b == '$' {
			return "", errors.New("authhash: salt must not contain NUL or '$'")
		}
	}
	return cachingSHA2Prefix + string(salt) + SHA256Crypt([]byte(password), salt, CachingSHA2Iterations), nil
}

// VerifyCachingSHA2 reports whether stored (a "$A$005$…" string) is the hash of
// password. The comparison is constant-time.
func VerifyCachingSHA2(password, stored string) (bool, error) {
	if len(stored) != len(cachingSHA2Prefix)+CachingSHA2SaltLen+digestLen || !strings.HasPrefix(stored, cachingSHA2Prefix) {
		return false, ErrFormat
	}
	salt := []byte(stored[len(cachingSHA2Prefix) : len(cachingSHA2Prefix)+CachingSHA2SaltLen])
	got, err := CachingSHA2(password, salt)
	if err != nil {
		return false, ErrFormat
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1, nil
}

// SHA256Crypt is the digest part of Ulrich Drepper's SHA-256 crypt ("$5$"),
// 43 characters of crypt's base-64 alphabet. Unlike glibc's crypt it uses the
// whole salt (MySQL passes 20 bytes, crypt truncates to 16) and takes rounds as
// given.
func SHA256Crypt(key, salt []byte, rounds int) string {
	b := sha256.New()
	b.Write(key)
	b.Write(salt)
	b.Write(key)
	sumB := b.Sum(nil)

	a := sha256.New()
	a.Write(key)
	a.Write(salt)
	cnt := len(key)
	for ; cnt > 32; cnt -= 32 {
		a.Write(sumB)
	}
	a.Write(sumB[:cnt])
	for cnt = len(key); cnt > 0; cnt >>= 1 {
		if cnt&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(key)
		}
	}
	sumA := a.Sum(nil)

	dp := sha256.New()
	for range len(key) {
		dp.Write(key)
	}
	p := repeat(dp.Sum(nil), len(key))

	ds := sha256.New()
	for range 16 + int(sumA[0]) {
		ds.Write(salt)
	}
	s := repeat(ds.Sum(nil), len(salt))

	c := sumA
	h := sha256.New()
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	return encode(c)
}

// repeat returns n bytes of sum repeated.
func repeat(sum []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, sum[:min(len(sum), n-len(out))]...)
	}
	return out
}

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encode is crypt's permuted base-64 of a SHA-256 digest.
func encode(c []byte) string {
	var sb strings.Builder
	put := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for range n {
			sb.WriteByte(itoa64[w&0x3f])
			w >>= 6
		}
	}
	order := [10][3]int{
		{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29},
	}
	for _, o := range order {
		put(c[o[0]], c[o[1]], c[o[2]], 4)
	}
	put(0, c[31], c[30], 3)
	return sb.String()
}

// Ed25519 returns the authentication string MariaDB's ed25519 plugin stores
// for password (IDENTIFIED VIA ed25519 USING '…'): the unpadded base64 of the
// Ed25519 public key whose secret scalar is the clamped first half of
// SHA-512(password).
func Ed25519(password string) string {
	h := sha512.Sum512([]byte(password))
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		// SetBytesWithClamping fails only for a slice that is not 32 bytes.
		panic("authhash: ed25519 scalar: " + err.Error())
	}
	return base64.RawStdEncoding.EncodeToString(new(edwards25519.Point).ScalarBaseMult(s).Bytes())
}
