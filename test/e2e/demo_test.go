package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/test/dbtest"
)

// TestDemo runs make demo's program as a user would (go run outside go test),
// so the README's first command cannot break unnoticed: it must end green,
// having rotated every credential and shown the audit's planted findings.
func TestDemo(t *testing.T) {
	dbtest.NeedsServers(t)
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/rotary-secrets/rotary/test/e2e/cmd/demo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{"Every credential was rotated", "rotation-stuck", "rotation-disabled", "0 GetSecretValue calls"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
