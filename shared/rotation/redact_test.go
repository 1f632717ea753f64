package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// dumping is a rotator whose Set fails with an error echoing every extra key
// of the current value as raw JSON, like a driver or an HTTP client quoting
// its input.
type dumping struct{ rotators.Rotator }

func (d dumping) Set(_ context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(req.Current.Extra)) {
		parts = append(parts, k+"="+string(req.Current.Extra[k]))
	}
	return rotators.SetResponse{}, fmt.Errorf("provider rejected %s", strings.Join(parts, " "))
}

// TestCanaryNestedValuesRedacted: values nested in objects and arrays, numbers
// and short values of a secret never reach an error or a log line, while the
// names of its keys and its identifiers still do.
func TestCanaryNestedValuesRedacted(t *testing.T) {
	env := rotationtest.New(t, dumping{generic.New(password.Default(""))})
	body := `{"engine":"generic","password":"initial-password-0001","apiKeyId":"key-id-visible",` +
		`"oauth":{"client":{"secret":"NESTED-canary-1"}},"codes":["ARRAY-canary-2",73914562,{"deep":["DEEPER-canary-3"]}],` +
		`"pin":4821,"short":"zq","enabled":true}`
	out, err := env.SM.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: ptr("app/nested"), SecretString: ptr(body)})
	if err != nil {
		t.Fatal(err)
	}
	arn := *out.ARN
	token := env.Begin(t, arn)
	rotTok := rotationtest.NewToken()
	if err := env.StepWith(t.Context(), arn, token, rotation.StepCreate, rotTok); err != nil {
		t.Fatal(err)
	}
	err = env.Engine.Handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: rotation.StepSet, SecretID: arn, ClientRequestToken: token, RotationToken: rotTok})
	var se *rotation.StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *StepError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "provider rejected") || !strings.Contains(msg, "oauth=") || !strings.Contains(msg, "key-id-visible") {
		t.Fatalf("error lost its context: %v", err)
	}
	canaries := []string{"NESTED-canary-1", "ARRAY-canary-2", "73914562", "DEEPER-canary-3", rotTok}
	rotationtest.AssertNoLeak(t, "error", msg, canaries...)
	rotationtest.AssertNoLeak(t, "logs", env.Logs(), canaries...)
	short := regexp.MustCompile(`\bzq\b`)
	if short.MatchString(msg) || short.MatchString(env.Logs()) {
		t.Error("the 2-character value of key short reached the error or the logs")
	}
	// The 4-digit pin as a number of its own: as a plain substring it also
	// turns up inside durations and timestamps of the log lines (a flake).
	pin := regexp.MustCompile(`(^|[^0-9.])4821([^0-9]|$)`)
	if pin.MatchString(msg) || pin.MatchString(env.Logs()) {
		t.Error("the 4-digit value of key pin reached the error or the logs")
	}
}
