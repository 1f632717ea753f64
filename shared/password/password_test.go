package password_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/shared/password"
)

var _ password.Generator = password.Local{}

type class struct {
	name  string
	chars string
}

// included returns the classes p draws from, before ExcludeCharacters.
func included(p password.Policy) []class {
	var out []class
	if !p.ExcludeLowercase {
		out = append(out, class{"lowercase", password.Lowercase})
	}
	if !p.ExcludeUppercase {
		out = append(out, class{"uppercase", password.Uppercase})
	}
	if !p.ExcludeNumbers {
		out = append(out, class{"numbers", password.Numbers})
	}
	if !p.ExcludePunctuation {
		out = append(out, class{"punctuation", password.Punctuation})
	}
	if p.IncludeSpace {
		out = append(out, class{"space", password.Space})
	}
	return out
}

// checkPassword reports every way pw breaks policy p.
func checkPassword(t *testing.T, p password.Policy, pw string) {
	t.Helper()
	if len(pw) != p.Length {
		t.Fatalf("password has %d bytes, want %d", len(pw), p.Length)
	}
	classes := included(p)
	var allowed string
	for _, c := range classes {
		allowed += c.chars
	}
	for i := 0; i < len(pw); i++ {
		b := pw[i]
		if !strings.ContainsRune(allowed, rune(b)) {
			t.Fatalf("password has %q at %d, which the policy does not include", b, i)
		}
		if strings.ContainsRune(p.ExcludeCharacters, rune(b)) {
			t.Fatalf("password has excluded character %q at %d", b, i)
		}
	}
	if p.RequireEachIncludedType {
		for _, c := range classes {
			if !strings.ContainsAny(pw, c.chars) {
				t.Fatalf("password has no %s character", c.name)
			}
		}
	}
}

func generate(t *testing.T, p password.Policy) string {
	t.Helper()
	pw, err := p.Generate()
	if err != nil {
		t.Fatalf("Generate(%+v): %v", p, err)
	}
	return pw
}

func TestDefault(t *testing.T) {
	got := password.Default("xyz")
	want := password.Policy{Length: 32, ExcludeCharacters: "xyz", RequireEachIncludedType: true}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Default (-got +want):\n%s", diff)
	}
}

func TestGenerateObeysPolicy(t *testing.T) {
	base := password.Default("")
	with := func(f func(p *password.Policy)) password.Policy {
		p := base
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    password.Policy
	}{
		{"default", base},
		{"postgres default", password.Default(password.PostgresExclude)},
		{"mysql default", password.Default(password.MySQLExclude)},
		{"min length not required", with(func(p *password.Policy) { p.Length = password.MinLength; p.RequireEachIncludedType = false })},
		{"min length required", with(func(p *password.Policy) { p.Length = password.MinLength })},
		{"max length", with(func(p *password.Policy) { p.Length = password.MaxLength })},
		{"exclude characters", with(func(p *password.Policy) { p.ExcludeCharacters = "abcXYZ0129!@#$%^&*() " })},
		{"exclude numbers", with(func(p *password.Policy) { p.ExcludeNumbers = true })},
		{"exclude punctuation", with(func(p *password.Policy) { p.ExcludePunctuation = true })},
		{"exclude uppercase", with(func(p *password.Policy) { p.ExcludeUppercase = true })},
		{"exclude lowercase", with(func(p *password.Policy) { p.ExcludeLowercase = true })},
		{"include space", with(func(p *password.Policy) { p.IncludeSpace = true })},
		{"include space min length", with(func(p *password.Policy) { p.IncludeSpace = true; p.Length = password.MinLength })},
		{"only numbers", with(func(p *password.Policy) {
			p.ExcludeLowercase, p.ExcludeUppercase, p.ExcludePunctuation = true, true, true
			p.Length = password.MinLength
		})},
		{"only space", with(func(p *password.Policy) {
			p.ExcludeLowercase, p.ExcludeUppercase, p.ExcludePunctuation, p.ExcludeNumbers = true, true, true, true
			p.IncludeSpace = true
		})},
		{"one lowercase letter left", with(func(p *password.Policy) { p.ExcludeCharacters = "abcdefghijklmnopqrstuvwxy" })},
		{"class emptied but not required", with(func(p *password.Policy) {
			p.ExcludeCharacters = password.Numbers
			p.RequireEachIncludedType = false
		})},
		{"not required", with(func(p *password.Policy) { p.RequireEachIncludedType = false; p.Length = 8 })},
		{"non-ASCII exclusions", with(func(p *password.Policy) { p.ExcludeCharacters = "éa😀" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			seen := make(map[string]bool)
			const draws = 300
			for range draws {
				pw := generate(t, tt.p)
				checkPassword(t, tt.p, pw)
				seen[pw] = true
			}
			if tt.p.Length >= 16 && len(included(tt.p)) > 1 && len(seen) != draws {
				t.Errorf("%d distinct passwords of length %d in %d draws", len(seen), tt.p.Length, draws)
			}
		})
	}
}

// TestRequireEachIncludedTypeTight draws passwords of the shortest length
// Rotary allows, barely longer than the number of required classes, so each
// class must still appear.
func TestRequireEachIncludedTypeTight(t *testing.T) {
	for _, space := range []bool{false, true} {
		p := password.Default("")
		p.IncludeSpace = space
		p.Length = password.MinLength
		t.Run(p.ExcludeCharacters+map[bool]string{false: "no space", true: "space"}[space], func(t *testing.T) {
			for range 2000 {
				checkPassword(t, p, generate(t, p))
			}
		})
	}
}

// TestRequiredCharactersAtRandomPositions catches an implementation that puts
// the required characters at fixed positions (lowercase first, and so on).
func TestRequiredCharactersAtRandomPositions(t *testing.T) {
	p := password.Default("")
	p.Length = 8
	inOrder := 0
	const draws = 400
	for range draws {
		pw := generate(t, p)
		if strings.ContainsRune(password.Lowercase, rune(pw[0])) &&
			strings.ContainsRune(password.Uppercase, rune(pw[1])) &&
			strings.ContainsRune(password.Numbers, rune(pw[2])) &&
			strings.ContainsRune(password.Punctuation, rune(pw[3])) {
			inOrder++
		}
	}
	// With random positions this happens in well under 2% of draws.
	if inOrder > draws/4 {
		t.Errorf("%d of %d passwords start with one character of each class in class order", inOrder, draws)
	}
}

// TestGenerateUniform is a chi-square test over the 94-character alphabet of
// a policy without required classes. Under uniform sampling the statistic has
// 93 degrees of freedom (mean 93, sd 13.6); the bound 3×93 is exceeded with
// probability below e^-40, so the test does not flake. Byte-modulo sampling
// (random byte % 94) gives 68 characters 3/256 and 26 characters 2/256, which
// puts the statistic near 1000 for this sample size.
func TestGenerateUniform(t *testing.T) {
	p := password.Policy{Length: password.MaxLength}
	alphabet := password.Lowercase + password.Uppercase + password.Numbers + password.Punctuation
	counts := make(map[byte]int)
	n := 0
	for range 8 {
		pw := generate(t, p)
		for i := 0; i < len(pw); i++ {
			counts[pw[i]]++
			n++
		}
	}
	if len(counts) != len(alphabet) {
		t.Fatalf("%d distinct characters in %d draws, want %d", len(counts), n, len(alphabet))
	}
	expected := float64(n) / float64(len(alphabet))
	chi2 := 0.0
	for i := 0; i < len(alphabet); i++ {
		d := float64(counts[alphabet[i]]) - expected
		chi2 += d * d / expected
	}
	df := float64(len(alphabet) - 1)
	if chi2 > 3*df {
		t.Errorf("chi-square = %.1f over %d draws, want at most %.0f (df %.0f): characters are not uniform", chi2, n, 3*df, df)
	}
}

func TestValidateImpossible(t *testing.T) {
	tests := []struct {
		name string
		p    password.Policy
	}{
		{"zero policy", password.Policy{}},
		{"length 0", password.Policy{Length: 0}},
		{"negative length", password.Policy{Length: -1}},
		{"length 4097", password.Policy{Length: password.MaxLength + 1}},
		{"length 1 (below Rotary's floor)", password.Policy{Length: 1}},
		{"length 7 (below Rotary's floor)", password.Policy{Length: password.MinLength - 1, RequireEachIncludedType: false}},
		{"every class excluded", password.Policy{Length: 8, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true}},
		{"every class excluded, not required", password.Policy{Length: 8, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true, RequireEachIncludedType: false}},
		{"every character excluded", password.Policy{Length: 8, ExcludeCharacters: password.Lowercase + password.Uppercase + password.Numbers + password.Punctuation}},
		{"every character excluded with space", password.Policy{Length: 8, IncludeSpace: true, ExcludeCharacters: password.Lowercase + password.Uppercase + password.Numbers + password.Punctuation + password.Space}},
		{"required numbers emptied", password.Policy{Length: 8, RequireEachIncludedType: true, ExcludeCharacters: password.Numbers}},
		{"required lowercase emptied", password.Policy{Length: 8, RequireEachIncludedType: true, ExcludeCharacters: password.Lowercase}},
		{"required uppercase emptied", password.Policy{Length: 8, RequireEachIncludedType: true, ExcludeCharacters: password.Uppercase}},
		{"required punctuation emptied", password.Policy{Length: 8, RequireEachIncludedType: true, ExcludeCharacters: password.Punctuation}},
		{"required space emptied", password.Policy{Length: 8, RequireEachIncludedType: true, IncludeSpace: true, ExcludeCharacters: " "}},
		{"shorter than required classes", password.Policy{Length: 3, RequireEachIncludedType: true}},
		{"shorter than required classes with space", password.Policy{Length: 4, RequireEachIncludedType: true, IncludeSpace: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); !errors.Is(err, password.ErrPolicy) {
				t.Errorf("Validate = %v, want ErrPolicy", err)
			}
			pw, err := tt.p.Generate()
			if !errors.Is(err, password.ErrPolicy) || pw != "" {
				t.Errorf("Generate = %q, %v; want \"\", ErrPolicy", pw, err)
			}
			pw, err = password.Local{}.Generate(context.Background(), tt.p)
			if !errors.Is(err, password.ErrPolicy) || pw != "" {
				t.Errorf("Local.Generate = %q, %v; want \"\", ErrPolicy", pw, err)
			}
		})
	}
}

func TestValidateBoundaries(t *testing.T) {
	for _, p := range []password.Policy{
		{Length: password.MinLength},
		{Length: password.MaxLength},
		{Length: password.MinLength, RequireEachIncludedType: true},
		{Length: password.MinLength, RequireEachIncludedType: true, IncludeSpace: true},
		{Length: password.MinLength, RequireEachIncludedType: true, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true},
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", p, err)
		}
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	def := password.Default(password.PostgresExclude)
	with := func(f func(p *password.Policy)) password.Policy {
		p := def
		f(&p)
		return p
	}
	tests := []struct {
		name string
		env  map[string]string
		want password.Policy
	}{
		{"unset", nil, def},
		{"length", map[string]string{password.EnvLength: "64"}, with(func(p *password.Policy) { p.Length = 64 })},
		{"length with spaces", map[string]string{password.EnvLength: " 20 "}, with(func(p *password.Policy) { p.Length = 20 })},
		{"length max", map[string]string{password.EnvLength: "4096"}, with(func(p *password.Policy) { p.Length = 4096 })},
		{"exclude characters replaces default", map[string]string{password.EnvExcludeCharacters: "abc"}, with(func(p *password.Policy) { p.ExcludeCharacters = "abc" })},
		{"exclude characters kept as is", map[string]string{password.EnvExcludeCharacters: " ;'"}, with(func(p *password.Policy) { p.ExcludeCharacters = " ;'" })},
		{"exclude numbers", map[string]string{password.EnvExcludeNumbers: "true"}, with(func(p *password.Policy) { p.ExcludeNumbers = true })},
		{"exclude punctuation", map[string]string{password.EnvExcludePunctuation: "TRUE"}, with(func(p *password.Policy) { p.ExcludePunctuation = true })},
		{"exclude uppercase", map[string]string{password.EnvExcludeUppercase: "True"}, with(func(p *password.Policy) { p.ExcludeUppercase = true })},
		{"exclude lowercase", map[string]string{password.EnvExcludeLowercase: " true "}, with(func(p *password.Policy) { p.ExcludeLowercase = true })},
		{"include space", map[string]string{password.EnvIncludeSpace: "true"}, with(func(p *password.Policy) { p.IncludeSpace = true })},
		{"require off", map[string]string{password.EnvRequireEachIncludedType: "false"}, with(func(p *password.Policy) { p.RequireEachIncludedType = false })},
		{"false values", map[string]string{
			password.EnvExcludeNumbers: "false", password.EnvExcludePunctuation: "FALSE", password.EnvExcludeUppercase: "False",
			password.EnvExcludeLowercase: "false", password.EnvIncludeSpace: "false", password.EnvRequireEachIncludedType: "true",
		}, def},
		{"all set", map[string]string{
			password.EnvLength: "12", password.EnvExcludeCharacters: "xyz", password.EnvExcludeNumbers: "true",
			password.EnvExcludePunctuation: "true", password.EnvIncludeSpace: "true", password.EnvRequireEachIncludedType: "true",
		}, password.Policy{Length: 12, ExcludeCharacters: "xyz", ExcludeNumbers: true, ExcludePunctuation: true, IncludeSpace: true, RequireEachIncludedType: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := password.FromEnv(env(tt.env), password.PostgresExclude)
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("FromEnv (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFromEnvInvalid(t *testing.T) {
	type tc struct {
		name     string
		env      map[string]string
		variable string // the variable the error must name, "" for a combination
	}
	tests := []tc{
		{"length not a number", map[string]string{password.EnvLength: "abc"}, password.EnvLength},
		{"length fraction", map[string]string{password.EnvLength: "1.5"}, password.EnvLength},
		{"length 0", map[string]string{password.EnvLength: "0"}, password.EnvLength},
		{"length negative", map[string]string{password.EnvLength: "-8"}, password.EnvLength},
		{"length 4097", map[string]string{password.EnvLength: "4097"}, password.EnvLength},
		{"length huge", map[string]string{password.EnvLength: "99999999999999999999999"}, password.EnvLength},
		{"too short for required classes", map[string]string{password.EnvLength: "3"}, ""},
		{"length 7, below Rotary's floor", map[string]string{password.EnvLength: "7"}, password.EnvLength},
		{"length 1, below Rotary's floor", map[string]string{password.EnvLength: "1"}, password.EnvLength},
		{"every class excluded", map[string]string{
			password.EnvExcludeNumbers: "true", password.EnvExcludePunctuation: "true",
			password.EnvExcludeUppercase: "true", password.EnvExcludeLowercase: "true",
		}, ""},
		{"required class emptied", map[string]string{password.EnvExcludeCharacters: password.Numbers}, ""},
	}
	for _, name := range []string{
		password.EnvExcludeNumbers, password.EnvExcludePunctuation, password.EnvExcludeUppercase,
		password.EnvExcludeLowercase, password.EnvIncludeSpace, password.EnvRequireEachIncludedType,
	} {
		for _, bad := range []string{"yes", "no", "on", "2", "truee"} {
			tests = append(tests, tc{name + "=" + bad, map[string]string{name: bad}, name})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := password.FromEnv(env(tt.env), password.PostgresExclude)
			if !errors.Is(err, password.ErrPolicy) {
				t.Fatalf("FromEnv error = %v, want ErrPolicy", err)
			}
			if tt.variable != "" && !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("FromEnv error %q does not name %s", err, tt.variable)
			}
		})
	}
}

func TestEngineDefaultsNeverAppear(t *testing.T) {
	for name, exclude := range map[string]string{"postgres": password.PostgresExclude, "mysql": password.MySQLExclude} {
		t.Run(name, func(t *testing.T) {
			p, err := password.FromEnv(env(nil), exclude)
			if err != nil {
				t.Fatal(err)
			}
			p.Length = 256
			for range 200 {
				pw := generate(t, p)
				if i := strings.IndexAny(pw, exclude); i >= 0 {
					t.Fatalf("password has %q, which %s excludes", pw[i], name)
				}
				checkPassword(t, p, pw)
			}
		})
	}
	if !strings.Contains(password.PostgresExclude, password.MySQLExclude) {
		t.Errorf("PostgresExclude %q does not exclude every MySQLExclude character %q", password.PostgresExclude, password.MySQLExclude)
	}
}

func FuzzGenerate(f *testing.F) {
	f.Add(32, "", uint8(0b100000))
	f.Add(4, password.PostgresExclude, uint8(0b110000))
	f.Add(1, "", uint8(0b000001))
	f.Add(5, " ", uint8(0b110000))
	f.Add(0, "", uint8(0))
	f.Add(4097, "", uint8(0))
	f.Add(3, password.Numbers, uint8(0b100000))
	f.Add(8, password.Lowercase+password.Uppercase+password.Numbers, uint8(0b100000))
	f.Add(2, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", uint8(0b101100))
	f.Fuzz(func(t *testing.T, length int, exclude string, flags uint8) {
		p := password.Policy{
			Length:                  length,
			ExcludeCharacters:       exclude,
			ExcludeNumbers:          flags&1 != 0,
			ExcludePunctuation:      flags&2 != 0,
			ExcludeUppercase:        flags&4 != 0,
			ExcludeLowercase:        flags&8 != 0,
			IncludeSpace:            flags&16 != 0,
			RequireEachIncludedType: flags&32 != 0,
		}
		pw, err := p.Generate()
		if verr := p.Validate(); (verr == nil) != (err == nil) {
			t.Fatalf("Validate = %v but Generate = %v", verr, err)
		}
		if err != nil {
			if !errors.Is(err, password.ErrPolicy) {
				t.Fatalf("Generate error %v is not ErrPolicy", err)
			}
			if pw != "" {
				t.Fatalf("Generate returned %q with an error", pw)
			}
			return
		}
		checkPassword(t, p, pw)
	})
}
