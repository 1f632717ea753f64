package lambdamain

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/password"
)

func TestFunctionOf(t *testing.T) {
	for path, want := range map[string]string{
		functionsPrefix + "postgres-single":                                   "postgres-single",
		functionsPrefix + "internal/droptoken":                                "",
		"github.com/rotary-secrets/rotary/functions/internal/lambdamain.test": "",
		"command-line-arguments":                                              "",
	} {
		if got := functionOf(path); got != want {
			t.Errorf("functionOf(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestCheckFunction(t *testing.T) {
	tests := []struct {
		env, built string
		wantErr    bool
	}{
		{"", "postgres-single", false},
		{"postgres-single", "postgres-single", false},
		{"mysql-multi", "", false},
		{"mysql-multi", "postgres-single", true},
		{" sendgrid ", "twilio", true},
	}
	for _, tt := range tests {
		err := checkFunction(env(map[string]string{EnvFunction: tt.env}), tt.built)
		if got := errors.Is(err, ErrWrongFunction); got != tt.wantErr {
			t.Errorf("checkFunction(%q, built %q) = %v, want error %v", tt.env, tt.built, err, tt.wantErr)
		}
	}
}

// TestBuildAcceptsAnyFunctionOutsideABinary: a test binary is no function,
// so ROTARY_FUNCTION is not checked (the real binaries are, in
// test/templates TestPerAccountRotatorMismatchStops).
func TestBuildAcceptsAnyFunctionOutsideABinary(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	_, err := Build(context.Background(), env(map[string]string{"ROTARY_HOME_ACCOUNT": "123456789012", EnvFunction: "sendgrid"}),
		slog.New(slog.DiscardHandler), func(reg *rotators.Registry, _ rotators.Deps) error {
			reg.Register(generic.New(password.Default("")), rotators.SingleUser, "generic")
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
}
