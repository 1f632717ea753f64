package rotation_test

import (
	"testing"

	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

func TestHappyPathSmoke(t *testing.T) {
	env := rotationtest.New(t, generic.New(password.Default("")))
	arn := env.CreateSecret(t, "app/token", secret.Value{Engine: "generic", Password: "initial-value-123"})
	if err := env.Rotate(t, arn); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	cur := env.Value(t, arn, "AWSCURRENT")
	if cur.Password == "initial-value-123" || cur.Password == "" {
		t.Fatalf("password not rotated")
	}
	t.Logf("calls=%d\n%s", env.SMCalls(), env.Logs())
}
