package templates

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPerAccountRotatorMismatchStops builds a real function binary and starts
// it with the environment infra/per-account.yaml gives it: when the Rotator
// parameter names another function than the one sam build built (the
// ROTARY_FUNCTION make variable, which sam build --cached ignores), the
// function must stop at start-up naming both, not rotate secrets of the
// wrong kind.
func TestPerAccountRotatorMismatchStops(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.CommandContext(t.Context(), "go", "build", "-tags", "lambda.norpc", "-o", bin, "./functions/generic")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(rotator string) string {
		t.Helper()
		env := environment(t, "infra/per-account.yaml", "RotationFunction", map[string]string{"Rotator": rotator})
		cmd := exec.CommandContext(t.Context(), bin)
		// No AWS_LAMBDA_RUNTIME_API: a binary that passes start-up stops in
		// lambda.Start instead of waiting for invocations.
		cmd.Env = []string{"AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "HOME=" + t.TempDir()}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("Rotator=%s: the function did not fail without a Lambda runtime: %v\n%s", rotator, err, out)
		}
		return string(out)
	}
	if out := run("sendgrid"); !strings.Contains(out, "ROTARY_FUNCTION=sendgrid") || !strings.Contains(out, "functions/generic") {
		t.Errorf("Rotator=sendgrid on the generic binary: output does not name the mismatch:\n%s", out)
	}
	if out := run("generic"); strings.Contains(out, "ROTARY_FUNCTION") {
		t.Errorf("Rotator=generic on the generic binary was refused:\n%s", out)
	}
}
