package rotation_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// emfLines returns the EMF records in logs, decoded.
func emfLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("EMF line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// TestTelemetryClosedSet: the engine label of logs and metrics is a
// registered engine name or "unknown"; a secret's own engine string (here
// 10 kB) reaches neither a metric dimension nor, unbounded, a log line.
func TestTelemetryClosedSet(t *testing.T) {
	reg := &rotators.Registry{}
	generic.Register(reg, password.Default(""))
	huge := strings.Repeat("E", 10_000)
	cases := []struct {
		name, engine, want string
		fails              bool
	}{
		{name: "registered", engine: "generic", want: "generic"},
		{name: "registered, other case", engine: "GENERIC", want: "generic"},
		{name: "10 kB engine", engine: huge, want: "unknown", fails: true},
		{name: "unregistered engine", engine: "oracle", want: "unknown", fails: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := rotationtest.New(t, reg)
			arn := env.CreateSecret(t, "app/telemetry", secret.Value{Engine: c.engine, Password: "initial-password-0001"})
			token := env.Begin(t, arn)
			err := env.Engine.Handle(t.Context(), event(rotation.StepCreate, arn, token))
			if c.fails != (err != nil) {
				t.Fatalf("createSecret err = %v, want failure %t", err, c.fails)
			}
			if c.fails && !errors.Is(err, rotators.ErrNoRotator) {
				t.Fatalf("err = %v, want ErrNoRotator", err)
			}
			if err != nil && len(err.Error()) > 1024 {
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			logs := env.Logs()
			for _, line := range strings.Split(logs, "\n") {
				if len(line) > 2048 {
					t.Fatalf("log line of %d bytes: %.200s…", len(line), line)
				}
			}
			if strings.Contains(logs, strings.Repeat("E", 65)) {
				t.Fatal("the secret's engine string reached the logs")
			}
			emf := emfLines(t, logs)
			if len(emf) != 1 {
				t.Fatalf("%d EMF records, want 1", len(emf))
			}
			if got := emf[0]["Engine"]; got != c.want {
				t.Fatalf("Engine dimension = %v, want %q", got, c.want)
			}
			wantOutcome := "succeeded"
			if c.fails {
				wantOutcome = "failed"
			}
			if got := emf[0]["Outcome"]; got != wantOutcome {
				t.Fatalf("Outcome = %v, want %q", got, wantOutcome)
			}
			if got := emf[0]["Account"]; got != "123456789012" {
				t.Fatalf("Account dimension = %v, want the secret's account", got)
			}
			if !strings.Contains(logs, `"engine":"`+c.want+`"`) {
				t.Fatalf("log lines do not carry engine %q", c.want)
			}
		})
	}
}
