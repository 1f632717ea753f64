package rotation_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/shared/rotation"
)

const (
	peARN       = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"
	peToken     = "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
	peRotToken  = "RT-CANARY-5d1e9a77-rotation-token"
	peStepCanon = rotation.StepCreate
)

// peEvent returns a valid event with one field changed by f.
func peEvent(f func(ev *events.SecretsManagerSecretRotationEvent)) events.SecretsManagerSecretRotationEvent {
	ev := events.SecretsManagerSecretRotationEvent{
		Step: peStepCanon, SecretID: peARN, ClientRequestToken: peToken, RotationToken: peRotToken,
	}
	if f != nil {
		f(&ev)
	}
	return ev
}

func TestParseEventSteps(t *testing.T) {
	tests := []struct {
		step string
		want string
	}{
		{"createSecret", rotation.StepCreate},
		{"setSecret", rotation.StepSet},
		{"testSecret", rotation.StepTest},
		{"finishSecret", rotation.StepFinish},
		{"create_secret", rotation.StepCreate},
		{"set_secret", rotation.StepSet},
		{"test_secret", rotation.StepTest},
		{"finish_secret", rotation.StepFinish},
		{"CreateSecret", rotation.StepCreate},
		{"FINISH_SECRET", rotation.StepFinish},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			got, err := rotation.ParseEvent(peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = tt.step }))
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			want := rotation.Event{Step: tt.want, SecretID: peARN, ClientRequestToken: peToken, RotationToken: peRotToken}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("ParseEvent (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseEventValid(t *testing.T) {
	tests := []struct {
		name string
		ev   events.SecretsManagerSecretRotationEvent
	}{
		{"ARN", peEvent(nil)},
		{"secret name", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "prod/app_db+x=y.z@w-1" })},
		{"one-character SecretId", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "x" })},
		{"2048-character SecretId", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = strings.Repeat("s", 2048) })},
		{"every printable ASCII character", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) {
			var b strings.Builder
			for c := byte('!'); c <= '~'; c++ {
				b.WriteByte(c)
			}
			ev.SecretID = b.String()
		})},
		{"token 32", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = strings.Repeat("a", 32) })},
		{"token 64", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = strings.Repeat("Z9-", 21) + "x"
		})},
		{"no RotationToken", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.RotationToken = "" })},
		{"RotationToken 4096", peEvent(func(ev *events.SecretsManagerSecretRotationEvent) { ev.RotationToken = strings.Repeat("r", 4096) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rotation.ParseEvent(tt.ev)
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			want := rotation.Event{Step: rotation.StepCreate, SecretID: tt.ev.SecretID, ClientRequestToken: tt.ev.ClientRequestToken, RotationToken: tt.ev.RotationToken}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("ParseEvent (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseEventInvalid(t *testing.T) {
	set := func(f func(ev *events.SecretsManagerSecretRotationEvent)) events.SecretsManagerSecretRotationEvent {
		return peEvent(f)
	}
	tests := []struct {
		name  string
		ev    events.SecretsManagerSecretRotationEvent
		field string // the field the error names
		bad   string // the rejected value, which must not be echoed ("" to skip)
	}{
		{"empty step", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = "" }), "Step", ""},
		{"unknown step", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = "deleteSecretNow" }), "Step", "deleteSecretNow"},
		{"step with space", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = "createSecret " }), "Step", ""},
		{"step with hyphen", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = "create-secret" }), "Step", "create-secret"},
		{"step prefix", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = "create" }), "Step", ""},
		{"step with NUL", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.Step = "createSecret\x00" }), "Step", ""},
		{"empty SecretId", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "" }), "SecretId", ""},
		{"SecretId 2049", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = strings.Repeat("q", 2049) }), "SecretId", strings.Repeat("q", 2049)},
		{"SecretId with space", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "my secret-Xy7" }), "SecretId", "my secret-Xy7"},
		{"SecretId with newline", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "abc\ndef-Xy7" }), "SecretId", "def-Xy7"},
		{"SecretId with tab", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "abc\tdef" }), "SecretId", ""},
		{"SecretId with NUL", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "abc\x00def" }), "SecretId", ""},
		{"SecretId with DEL", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "abc\x7fdef" }), "SecretId", ""},
		{"SecretId non-ASCII", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "sécret-name" }), "SecretId", "sécret-name"},
		{"SecretId invalid UTF-8", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.SecretID = "abc\xffdef" }), "SecretId", ""},
		{"empty token", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = "" }), "ClientRequestToken", ""},
		{"token 31", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = strings.Repeat("b", 31) }), "ClientRequestToken", strings.Repeat("b", 31)},
		{"token 65", set(func(ev *events.SecretsManagerSecretRotationEvent) { ev.ClientRequestToken = strings.Repeat("c", 65) }), "ClientRequestToken", strings.Repeat("c", 65)},
		{"token underscore", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = strings.Repeat("d", 31) + "_"
		}), "ClientRequestToken", strings.Repeat("d", 31) + "_"},
		{"token space", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = strings.Repeat("e", 31) + " "
		}), "ClientRequestToken", ""},
		{"token dot", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = "f." + strings.Repeat("f", 31)
		}), "ClientRequestToken", ""},
		{"token slash", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = strings.Repeat("g", 16) + "/" + strings.Repeat("g", 16)
		}), "ClientRequestToken", ""},
		{"token non-ASCII", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = strings.Repeat("h", 31) + "é"
		}), "ClientRequestToken", ""},
		{"token NUL", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.ClientRequestToken = strings.Repeat("i", 31) + "\x00"
		}), "ClientRequestToken", ""},
		{"RotationToken 4097", set(func(ev *events.SecretsManagerSecretRotationEvent) {
			ev.RotationToken = strings.Repeat(peRotToken, 4097/len(peRotToken)+1)[:4097]
		}), "RotationToken", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rotation.ParseEvent(tt.ev)
			if !errors.Is(err, rotation.ErrInvalidEvent) {
				t.Fatalf("ParseEvent error = %v, want ErrInvalidEvent", err)
			}
			if diff := cmp.Diff(got, rotation.Event{}); diff != "" {
				t.Errorf("ParseEvent returned a non-zero Event with an error:\n%s", diff)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.field) {
				t.Errorf("error %q does not name %s", msg, tt.field)
			}
			if strings.Contains(msg, "CANARY-5d1e9a77") {
				t.Errorf("error %q holds the RotationToken", msg)
			}
			if tt.bad != "" && strings.Contains(msg, tt.bad) {
				t.Errorf("error %q echoes the rejected value", msg)
			}
		})
	}
}

// TestParseEventFromJSON decodes events as Lambda delivers them, in both field
// spellings Secrets Manager has used for the step.
func TestParseEventFromJSON(t *testing.T) {
	for _, payload := range []string{
		`{"Step":"createSecret","SecretId":"` + peARN + `","ClientRequestToken":"` + peToken + `","RotationToken":"` + peRotToken + `"}`,
		`{"Step":"create_secret","SecretId":"` + peARN + `","ClientRequestToken":"` + peToken + `","RotationToken":"` + peRotToken + `"}`,
	} {
		var ev events.SecretsManagerSecretRotationEvent
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatal(err)
		}
		got, err := rotation.ParseEvent(ev)
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", payload, err)
		}
		want := rotation.Event{Step: rotation.StepCreate, SecretID: peARN, ClientRequestToken: peToken, RotationToken: peRotToken}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("ParseEvent (-got +want):\n%s", diff)
		}
	}
}

// peStepSpellings are the step names ParseEvent documents, compared in lower case.
var peStepSpellings = map[string]string{
	"createsecret": rotation.StepCreate, "create_secret": rotation.StepCreate,
	"setsecret": rotation.StepSet, "set_secret": rotation.StepSet,
	"testsecret": rotation.StepTest, "test_secret": rotation.StepTest,
	"finishsecret": rotation.StepFinish, "finish_secret": rotation.StepFinish,
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func FuzzParseEvent(f *testing.F) {
	f.Add(peStepCanon, peARN, peToken, peRotToken)
	f.Add("finish_secret", "name", strings.Repeat("a", 32), "")
	f.Add("SETSECRET", "x", strings.Repeat("A-", 32), "rt")
	f.Add("createSecret", "", peToken, peRotToken)
	f.Add("createSecret", "a b", peToken, peRotToken)
	f.Add("createSecret", peARN, strings.Repeat("a", 31), peRotToken)
	f.Add("createSecret", peARN, strings.Repeat("a", 65), peRotToken)
	f.Add("createSecret", peARN, strings.Repeat("a", 31)+"_", "Step must be")
	f.Add("bogus", peARN, peToken, "SecretId")
	f.Add("createSecret", "é", peToken, strings.Repeat("z", 4097))
	f.Add("createSecret", peARN, peToken, strings.Repeat("rt-value-", 500))
	f.Add("createSecret", "bad id", peToken, "rt-value")
	f.Fuzz(func(t *testing.T, step, secretID, token, rotationToken string) {
		ev := events.SecretsManagerSecretRotationEvent{Step: step, SecretID: secretID, ClientRequestToken: token, RotationToken: rotationToken}
		got, err := rotation.ParseEvent(ev)
		if err != nil {
			if !errors.Is(err, rotation.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			if got != (rotation.Event{}) {
				t.Fatalf("ParseEvent returned %+v with an error", got)
			}
			// The RotationToken never shows. Compare with the error for the same
			// event whose RotationToken is as long but all NUL bytes: a 4-byte
			// piece of the real token in the error that the other error lacks
			// can only come from the token.
			msg := err.Error()
			neutral := ev
			neutral.RotationToken = strings.Repeat("\x00", len(rotationToken))
			_, nerr := rotation.ParseEvent(neutral)
			if nerr == nil {
				t.Fatalf("ParseEvent fails with RotationToken %q but not with NULs of the same length: %v", rotationToken, err)
			}
			for i := 0; i+4 <= len(rotationToken); i++ {
				if w := rotationToken[i : i+4]; strings.Contains(msg, w) && !strings.Contains(nerr.Error(), w) {
					t.Fatalf("error %q holds %q from the RotationToken", msg, w)
				}
			}
			return
		}
		// Accepted events follow the documented rules.
		want, ok := peStepSpellings[strings.ToLower(step)]
		if !ok || !isASCII(step) || got.Step != want {
			t.Fatalf("step %q accepted as %q", step, got.Step)
		}
		if len(secretID) < 1 || len(secretID) > 2048 {
			t.Fatalf("SecretId of %d bytes accepted", len(secretID))
		}
		for i := 0; i < len(secretID); i++ {
			if c := secretID[i]; c <= ' ' || c > '~' {
				t.Fatalf("SecretId with byte %#x accepted", c)
			}
		}
		if len(token) < 32 || len(token) > 64 {
			t.Fatalf("ClientRequestToken of %d bytes accepted", len(token))
		}
		if strings.ContainsFunc(token, func(r rune) bool {
			return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			t.Fatalf("ClientRequestToken %q accepted", token)
		}
		if len(rotationToken) > 4096 {
			t.Fatalf("RotationToken of %d bytes accepted", len(rotationToken))
		}
		if got.SecretID != secretID || got.ClientRequestToken != token || got.RotationToken != rotationToken {
			t.Fatalf("ParseEvent changed the fields: %+v", got)
		}
		if !slices.Contains([]string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish}, got.Step) {
			t.Fatalf("Step %q is not a Step constant", got.Step)
		}
	})
}
