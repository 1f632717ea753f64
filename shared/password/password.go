package password

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Character classes, as GetRandomPassword defines them.
const (
	Lowercase   = "abcdefghijklmnopqrstuvwxyz"
	Uppercase   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	Numbers     = "0123456789"
	Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	Space       = " "
)

// Default exclusions per engine family, the same as AWS's templates.
const (
	PostgresExclude = ":/@\"'\\"
	MySQLExclude    = "/@\"'\\"
)

// MaxLength is GetRandomPassword's upper bound.
const MaxLength = 4096

// MinLength is Rotary's lower bound (GetRandomPassword's is 1): every
// password Rotary makes is long enough to be scrubbed wherever it appears in
// an error or log line, and to resist guessing.
const MinLength = 8

// ErrPolicy is wrapped by every error about an impossible or malformed policy.
var ErrPolicy = errors.New("invalid password policy")

// Policy holds GetRandomPassword's options. The zero value is not usable; start
// from Default.
type Policy struct {
	Length                  int
	ExcludeCharacters       string
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	ExcludeUppercase        bool
	ExcludeLowercase        bool
	IncludeSpace            bool
	RequireEachIncludedType bool
}

// Default returns GetRandomPassword's defaults (32 characters, every class,
// each class required) with the given characters excluded.
func Default(exclude string) Policy {
	return Policy{Length: 32, ExcludeCharacters: exclude, RequireEachIncludedType: true}
}

// classes returns the character classes this policy draws from, each already
// stripped of excluded characters.
func (p Policy) classes() []string {
	var out []string
	add := func(excluded bool, set string) {
		if excluded {
			return
		}
		out = append(out, strings.Map(func(r rune) rune {
			if strings.ContainsRune(p.ExcludeCharacters, r) {
				return -1
			}
			return r
		}, set))
	}
	add(p.ExcludeLowercase, Lowercase)
	add(p.ExcludeUppercase, Uppercase)
	add(p.ExcludeNumbers, Numbers)
	add(p.ExcludePunctuation, Punctuation)
	add(!p.IncludeSpace, Space)
	return out
}

// Validate reports whether the policy can produce a password.
func (p Policy) Validate() error {
	if p.Length < MinLength || p.Length > MaxLength {
		return fmt.Errorf("%w: length must be from %d to %d, got %d", ErrPolicy, MinLength, MaxLength, p.Length)
	}
	classes := p.classes()
	total := 0
	for _, c := range classes {
		if p.RequireEachIncludedType && c == "" {
			return fmt.Errorf("%w: a required character class has no characters left after exclusions", ErrPolicy)
		}
		total += len(c)
	}
	if total == 0 {
		return fmt.Errorf("%w: no characters left to choose from", ErrPolicy)
	}
	if p.RequireEachIncludedType && p.Length < len(classes) {
		return fmt.Errorf("%w: length %d is too short for %d required character types", ErrPolicy, p.Length, len(classes))
	}
	return nil
}

// Generate returns a new password drawn with crypto/rand. Every character is
// chosen uniformly from the allowed alphabet; with RequireEachIncludedType one
// character of each class is placed at a uniformly random position.
func (p Policy) Generate() (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	classes := p.classes()
	alphabet := strings.Join(classes, "")
	out := make([]byte, p.Length)
	for i := range out {
		c, err := pick(alphabet)
		if err != nil {
			return "", err
		}
		out[i] = c
	}
	if p.RequireEachIncludedType {
		// Choose distinct positions for the required characters.
		positions, err := distinct(p.Length, len(classes))
		if err != nil {
			return "", err
		}
		for i, class := range classes {
			c, err := pick(class)
			if err != nil {
				return "", err
			}
			out[positions[i]] = c
		}
	}
	return string(out), nil
}

// pick returns one byte of set chosen uniformly (rand.Int rejects biased draws).
func pick(set string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, fmt.Errorf("password: read random: %w", err)
	}
	return set[n.Int64()], nil
}

// distinct returns k distinct positions in [0,n) from a partial Fisher–Yates shuffle.
func distinct(n, k int) ([]int, error) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(n-i)))
		if err != nil {
			return nil, fmt.Errorf("password: read random: %w", err)
		}
		jj := i + int(j.Int64())
		idx[i], idx[jj] = idx[jj], idx[i]
	}
	return idx[:k], nil
}

// Environment variable names, the same as AWS's templates.
const (
	EnvLength                  = "PASSWORD_LENGTH"
	EnvExcludeCharacters       = "EXCLUDE_CHARACTERS"
	EnvExcludeNumbers          = "EXCLUDE_NUMBERS"
	EnvExcludePunctuation      = "EXCLUDE_PUNCTUATION"
	EnvExcludeUppercase        = "EXCLUDE_UPPERCASE"
	EnvExcludeLowercase        = "EXCLUDE_LOWERCASE"
	EnvIncludeSpace            = "INCLUDE_SPACE"
	EnvRequireEachIncludedType = "REQUIRE_EACH_INCLUDED_TYPE"
	// EnvSource selects where passwords come from: "local" (default, crypto/rand in
	// the function) or "secretsmanager" (the GetRandomPassword API).
	EnvSource = "PASSWORD_SOURCE"
)

// FromEnv reads a Policy from the environment through getenv (os.Getenv in
// production), starting from Default(defaultExclude). EXCLUDE_CHARACTERS, when
// set, replaces the default exclusions, as in AWS's templates. The policy is
// validated, so an impossible one fails here, at start-up.
func FromEnv(getenv func(string) string, defaultExclude string) (Policy, error) {
	p := Default(defaultExclude)
	if s := getenv(EnvLength); s != "" {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return p, fmt.Errorf("%w: %s must be a whole number", ErrPolicy, EnvLength)
		}
		if n < MinLength || n > MaxLength {
			return p, fmt.Errorf("%w: %s must be from %d to %d", ErrPolicy, EnvLength, MinLength, MaxLength)
		}
		p.Length = n
	}
	if s, ok := lookup(getenv, EnvExcludeCharacters); ok {
		p.ExcludeCharacters = s
	}
	bools := []struct {
		name string
		dst  *bool
	}{
		{EnvExcludeNumbers, &p.ExcludeNumbers}, {EnvExcludePunctuation, &p.ExcludePunctuation},
		{EnvExcludeUppercase, &p.ExcludeUppercase}, {EnvExcludeLowercase, &p.ExcludeLowercase},
		{EnvIncludeSpace, &p.IncludeSpace}, {EnvRequireEachIncludedType, &p.RequireEachIncludedType},
	}
	for _, b := range bools {
		s := strings.TrimSpace(getenv(b.name))
		if s == "" {
			continue
		}
		v, err := strconv.ParseBool(s)
		if err != nil {
			return p, fmt.Errorf("%w: %s must be true or false", ErrPolicy, b.name)
		}
		*b.dst = v
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// lookup distinguishes "set to empty" from "unset" for getenv functions that
// cannot: an unset variable and an empty one both keep the default.
func lookup(getenv func(string) string, name string) (string, bool) {
	s := getenv(name)
	return s, s != ""
}

// Generator makes passwords for a policy. Local is the default; the rotation
// engine provides one backed by GetRandomPassword when PASSWORD_SOURCE is
// "secretsmanager".
type Generator interface {
	Generate(ctx context.Context, p Policy) (string, error)
}

// Local generates passwords in process with crypto/rand.
type Local struct{}

// Generate implements Generator.
func (Local) Generate(_ context.Context, p Policy) (string, error) { return p.Generate() }
