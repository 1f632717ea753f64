package generic_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// errNoPassword is a version holding no password: the generic secret's only
// "login" is that it holds one.
var errNoPassword = errors.New("the version holds no password")

// TestConformance runs the conformance kit for the generic engine. Its
// secret lives only in Secrets Manager: there is no target to log in to, no
// account to leave behind and no identifier to abuse, so the kit checks the
// protocol (steps twice, every Secrets Manager fault point, leaks).
func TestConformance(t *testing.T) {
	rotatortest.Run(t, rotatortest.Adapter{
		Name: "generic",
		New: func(testing.TB) *rotatortest.Target {
			var reg rotators.Registry
			generic.Register(&reg, password.Default(""))
			return &rotatortest.Target{
				Rotators: &reg,
				Value:    secret.Value{Engine: generic.Engine, Password: "initial-" + rotationtest.NewToken()[:16]},
				Login: func(_ context.Context, v secret.Value) error {
					if strings.TrimSpace(v.Password) == "" {
						return errNoPassword
					}
					return nil
				},
			}
		},
	})
}
