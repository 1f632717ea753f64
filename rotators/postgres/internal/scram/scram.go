package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Defaults match PostgreSQL's own (scram_iterations = 4096, 16-byte salt).
const (
	DefaultIterations = 4096
	SaltLen           = 16
	// MaxIterations bounds Parse and New, so a hostile verifier cannot make a
	// check run for hours.
	MaxIterations = 1 << 24
)

const prefix = "SCRAM-SHA-256$"

// ErrPassword is returned for a password a verifier cannot be built for.
var ErrPassword = errors.New("scram: password must be non-empty ASCII without NUL (SASLprep is not implemented)")

// ErrFormat is returned by Parse for a string that is not a SCRAM-SHA-256
// verifier.
var ErrFormat = errors.New("scram: not a SCRAM-SHA-256 verifier")

// Verifier is a parsed SCRAM-SHA-256 verifier.
type Verifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte // H(ClientKey)
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// Generate returns the verifier of password with a random salt and
// DefaultIterations.
func Generate(password string) (string, error) {
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("scram: read random salt: %w", err)
	}
	v, err := New(password, salt, DefaultIterations)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

// New computes the verifier of password for a given salt and iteration count.
func New(password string, salt []byte, iterations int) (Verifier, error) {
	if err := checkPassword(password); err != nil {
		return Verifier{}, err
	}
	if len(salt) == 0 {
		return Verifier{}, errors.New("scram: empty salt")
	}
	if iterations < 1 || iterations > MaxIterations {
		return Verifier{}, fmt.Errorf("scram: iterations must be from 1 to %d", MaxIterations)
	}
	k, err := deriveKeys(password, salt, iterations)
	if err != nil {
		return Verifier{}, err
	}
	return Verifier{Iterations: iterations, Salt: append([]byte(nil), salt...), StoredKey: k.stored, ServerKey: k.server}, nil
}

type keys struct {
	client, stored, server []byte
}

// deriveKeys implements RFC 5802 section 3 with SHA-256.
func deriveKeys(password string, salt []byte, iterations int) (keys, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return keys{}, fmt.Errorf("scram: derive salted password: %w", err)
	}
	client := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(client)
	return keys{client: client, stored: stored[:], server: hmacSHA256(salted, "Server Key")}, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func checkPassword(p string) error {
	if p == "" {
		return ErrPassword
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 0 || p[i] >= 0x80 {
			return ErrPassword
		}
	}
	return nil
}

// String formats the verifier as PostgreSQL stores it.
func (v Verifier) String() string {
	enc := base64.StdEncoding
	return prefix + strconv.Itoa(v.Iterations) + ":" + enc.EncodeToString(v.Salt) + "$" +
		enc.EncodeToString(v.StoredKey) + ":" + enc.EncodeToString(v.ServerKey)
}

// Parse reads a verifier in PostgreSQL's format. Errors never quote the input.
func Parse(s string) (Verifier, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return Verifier{}, ErrFormat
	}
	params, keyPart, ok := strings.Cut(rest, "$")
	if !ok {
		return Verifier{}, ErrFormat
	}
	iterStr, saltStr, ok := strings.Cut(params, ":")
	if !ok {
		return Verifier{}, ErrFormat
	}
	storedStr, serverStr, ok := strings.Cut(keyPart, ":")
	if !ok {
		return Verifier{}, ErrFormat
	}
	if iterStr == "" || iterStr[0] == '+' || iterStr[0] == '-' || (len(iterStr) > 1 && iterStr[0] == '0') {
		return Verifier{}, ErrFormat
	}
	iter, err := strconv.Atoi(iterStr)
	if err != nil || iter < 1 || iter > MaxIterations {
		return Verifier{}, ErrFormat
	}
	enc := base64.StdEncoding.Strict()
	salt, err := enc.DecodeString(saltStr)
	if err != nil || len(salt) == 0 {
		return Verifier{}, ErrFormat
	}
	stored, err := enc.DecodeString(storedStr)
	if err != nil || len(stored) != sha256.Size {
		return Verifier{}, ErrFormat
	}
	server, err := enc.DecodeString(serverStr)
	if err != nil || len(server) != sha256.Size {
		return Verifier{}, ErrFormat
	}
	return Verifier{Iterations: iter, Salt: salt, StoredKey: stored, ServerKey: server}, nil
}

// Matches reports whether password produces this verifier's keys.
func (v Verifier) Matches(password string) bool {
	if checkPassword(password) != nil || v.Iterations < 1 || v.Iterations > MaxIterations || len(v.Salt) == 0 {
		return false
	}
	k, err := deriveKeys(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return hmac.Equal(k.stored, v.StoredKey) && hmac.Equal(k.server, v.ServerKey)
}
