package templates

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/rotary-secrets/rotary/shared/password"
)

// TestPasswordLengthPatternMatchesPolicy checks that the PasswordLength
// parameter accepts exactly the lengths the password policy accepts (or empty),
// so a stack never deploys a function that refuses to start.
func TestPasswordLengthPatternMatchesPolicy(t *testing.T) {
	for _, file := range samTemplates {
		pat := parseFile(t, file).Get("Parameters").Get("PasswordLength").Get("AllowedPattern").Str()
		if pat == "" {
			t.Fatalf("%s: PasswordLength has no AllowedPattern", file)
		}
		re := regexp.MustCompile("^(?:" + pat + ")$") // CloudFormation matches the whole value
		if !re.MatchString("") {
			t.Errorf("%s: PasswordLength pattern refuses the empty default", file)
		}
		for n := 0; n <= 5000; n++ {
			want := n >= password.MinLength && n <= password.MaxLength
			if got := re.MatchString(strconv.Itoa(n)); got != want {
				t.Errorf("%s: PasswordLength pattern accepts %d = %v, want %v", file, n, got, want)
			}
		}
	}
}
