package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// capture returns a NewJSON logger at DEBUG and a function returning the lines
// it wrote, decoded.
func capture(t *testing.T) (*slog.Logger, *bytes.Buffer, func() []map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	logger := logging.NewJSON(&buf, slog.LevelDebug)
	return logger, &buf, func() []map[string]any {
		t.Helper()
		var out []map[string]any
		for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line is not JSON: %v\n%s", err, line)
			}
			out = append(out, m)
		}
		return out
	}
}

func oneLine(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %v", len(lines), lines)
	}
	return lines[0]
}

func TestNewJSONShape(t *testing.T) {
	logger, _, lines := capture(t)
	ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	logger.InfoContext(ctx, "step finished", "step", "createSecret", "n", 3)
	got := oneLine(t, lines())
	ts, ok := got["timestamp"].(string)
	if !ok {
		t.Fatalf("timestamp = %v, want a string", got["timestamp"])
	}
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	delete(got, "timestamp")
	want := map[string]any{"level": "INFO", "message": "step finished", "requestId": "req-123", "step": "createSecret", "n": float64(3)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("log line (-got +want):\n%s", diff)
	}
}

func TestNewJSONWithoutLambdaContext(t *testing.T) {
	logger, _, lines := capture(t)
	logger.WarnContext(t.Context(), "no request")
	got := oneLine(t, lines())
	if _, ok := got["requestId"]; ok {
		t.Errorf("requestId = %v without a Lambda context, want none", got["requestId"])
	}
	if got["level"] != "WARN" || got["message"] != "no request" {
		t.Errorf("line = %v, want level WARN and message", got)
	}
	for _, k := range []string{"time", "msg"} {
		if _, ok := got[k]; ok {
			t.Errorf("line has slog's %q key, want Lambda's names", k)
		}
	}
}

func TestNewJSONLevel(t *testing.T) {
	var buf bytes.Buffer
	logger := logging.NewJSON(&buf, slog.LevelWarn)
	logger.Info("dropped")
	logger.Debug("dropped")
	logger.Warn("kept")
	if got := strings.Count(buf.String(), "\n"); got != 1 || !strings.Contains(buf.String(), "kept") {
		t.Errorf("logged %q, want only the WARN line", buf.String())
	}
}

func TestLevel(t *testing.T) {
	tests := []struct {
		env  string
		want slog.Level
	}{
		{"", slog.LevelInfo},
		{"DEBUG", slog.LevelDebug},
		{"debug", slog.LevelDebug},
		{"INFO", slog.LevelInfo},
		{"WARN", slog.LevelWarn},
		{"Warn", slog.LevelWarn},
		{"ERROR", slog.LevelError},
		{"TRACE", slog.LevelDebug},
		{"FATAL", slog.LevelError},
		{" ERROR ", slog.LevelError},
		{"bogus", slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got := logging.Level(func(k string) string {
				if k != "AWS_LAMBDA_LOG_LEVEL" {
					t.Errorf("Level read %s", k)
				}
				return tt.env
			})
			if got != tt.want {
				t.Errorf("Level(%q) = %v, want %v", tt.env, got, tt.want)
			}
		})
	}
}

// find returns the value at a path of keys in a decoded log line.
func find(line map[string]any, path ...string) any {
	var cur any = line
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

type stringer string

func (s stringer) String() string { return string(s) }

type credential struct{ user, pass string }

func (c credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.user), slog.String("password", c.pass))
}

func TestSensitiveKeysRedacted(t *testing.T) {
	const secret = "s3cr3t-value-77"
	keys := []string{
		"password", "Password", "PASSWORD", "apiKey", "api_key", "API-KEY", "ApiKey", "rotationToken",
		"RotationToken", "rotation_token", "token", "secret", "SecretString", "secretBinary", "authorization",
		"clientSecret", "client_secret", "privateKey", "masterPassword", "sessionToken", "secretAccessKey",
		"authToken", "randomPassword",
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			logger, buf, lines := capture(t)
			logger.Info("m", key, secret)
			logger.Info("m", slog.Group("g", key, secret, slog.Group("inner", key, secret)))
			logger.With(key, secret).Info("m")
			logger.WithGroup("wg").Info("m", key, secret)
			logger.WithGroup("wg").With(key, secret).Info("m")
			logger.Info("m", key, 12345)
			if strings.Contains(buf.String(), secret) {
				t.Fatalf("logs hold the value of %q:\n%s", key, buf)
			}
			got := lines()
			for i, path := range [][]string{{key}, {"g", key}, {"g", "inner", key}, {key}, {"wg", key}, {"wg", key}, {key}} {
				if i == 2 {
					i = 1 // the inner group is on line 1 too
				} else if i > 2 {
					i--
				}
				if v := find(got[i], path...); v != logging.Redacted {
					t.Errorf("line %d: %v = %v, want %s", i, path, v, logging.Redacted)
				}
			}
		})
	}
	t.Run("LogValuer", func(t *testing.T) {
		logger, buf, lines := capture(t)
		logger.Info("m", "cred", credential{"app", secret})
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("logs hold a LogValuer's password:\n%s", buf)
		}
		if v := find(oneLine(t, lines()), "cred", "user"); v != "app" {
			t.Errorf("cred.user = %v, want app", v)
		}
	})
}

func TestOrdinaryKeysKept(t *testing.T) {
	logger, _, lines := capture(t)
	logger.Info("m", "secretId", "arn:x", "clientRequestToken", "tok-1", "username", "app", "step", "setSecret", "passwordLength", 32)
	got := oneLine(t, lines())
	want := map[string]any{"secretId": "arn:x", "clientRequestToken": "tok-1", "username": "app", "step": "setSecret", "passwordLength": float64(32)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestRegisteredSecretsScrubbed(t *testing.T) {
	const secret = "Hunter2-CANARY-b7"
	ctx := logging.WithSecrets(t.Context(), secret)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.InfoContext(ctx, "login with "+secret+" failed") }},
		{"string attr", func(l *slog.Logger) { l.InfoContext(ctx, "m", "detail", "pw="+secret) }},
		{"error attr", func(l *slog.Logger) {
			l.ErrorContext(ctx, "m", "err", fmt.Errorf("set: %w", errors.New("password "+secret+" rejected")))
		}},
		{"stringer attr", func(l *slog.Logger) { l.InfoContext(ctx, "m", "s", stringer("x"+secret)) }},
		{"slice attr", func(l *slog.Logger) { l.InfoContext(ctx, "m", "list", []string{"a", secret}) }},
		{"bytes attr", func(l *slog.Logger) { l.InfoContext(ctx, "m", "body", []byte(`{"password":"`+secret+`"}`)) }},
		{"raw JSON attr", func(l *slog.Logger) { l.InfoContext(ctx, "m", "body", json.RawMessage(`{"x":"`+secret+`"}`)) }},
		{"group attr", func(l *slog.Logger) {
			l.InfoContext(ctx, "m", slog.Group("g", "detail", secret, slog.Group("h", "e", errors.New(secret))))
		}},
		{"LogValuer", func(l *slog.Logger) { l.InfoContext(ctx, "m", "c", credential{user: secret}) }},
		{"WithAttrs string", func(l *slog.Logger) { l.With("detail", secret).InfoContext(ctx, "m") }},
		{"WithAttrs error", func(l *slog.Logger) { l.With("err", errors.New("bad "+secret)).InfoContext(ctx, "m") }},
		{"WithAttrs in group", func(l *slog.Logger) { l.WithGroup("g").With("detail", secret).InfoContext(ctx, "m") }},
		{"WithAttrs group value", func(l *slog.Logger) { l.With(slog.Group("g", "d", secret)).InfoContext(ctx, "m") }},
		{"nested WithSecrets", func(l *slog.Logger) {
			l.InfoContext(logging.WithSecrets(logging.WithSecrets(t.Context(), secret), "other-value"), "m "+secret+" other-value")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, buf, lines := capture(t)
			tt.log(logger)
			out := buf.String()
			if strings.Contains(out, secret) || strings.Contains(out, "other-value") {
				t.Errorf("logs hold a registered secret:\n%s", out)
			}
			if !strings.Contains(out, logging.Redacted) {
				t.Errorf("logs have no %s marker:\n%s", logging.Redacted, out)
			}
			lines() // every line is JSON
		})
	}
	t.Run("other contexts unaffected", func(t *testing.T) {
		logger, buf, _ := capture(t)
		logger.InfoContext(t.Context(), "value "+secret)
		if !strings.Contains(buf.String(), secret) {
			t.Errorf("a context without the secret had it scrubbed: %s", buf)
		}
	})
	t.Run("WithAttrs logger reused across contexts", func(t *testing.T) {
		logger, buf, _ := capture(t)
		l := logger.With("detail", "x "+secret)
		l.InfoContext(t.Context(), "first")
		l.InfoContext(ctx, "second")
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], secret) || strings.Contains(lines[1], secret) {
			t.Errorf("want the value only in the line without registered secrets:\n%s", buf)
		}
	})
	t.Run("short values scrubbed as whole tokens", func(t *testing.T) {
		logger, buf, _ := capture(t)
		logger.InfoContext(logging.WithSecrets(t.Context(), "abc", ""), "abc 'abc' abcdef xabc", "detail", "pw=abc")
		want := `"[REDACTED] '[REDACTED]' abcdef xabc"`
		if !strings.Contains(buf.String(), want) || !strings.Contains(buf.String(), `"pw=[REDACTED]"`) {
			t.Errorf("a 3-character value was not scrubbed as a token (want %s): %s", want, buf)
		}
	})
}

func TestScrubValuesEscapedForms(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		text   string
	}{
		{"as is", "plainSecret1", "x plainSecret1 y"},
		{"JSON escaped quote", `pa"ss1`, `{"password":"pa\"ss1"}`},
		{"JSON escaped backslash", `pa\ss1`, `{"password":"pa\\ss1"}`},
		{"JSON HTML escaped", `p<a>&ss`, `{"password":"p\u003ca\u003e\u0026ss"}`},
		{"JSON without HTML escaping", `p<a"ss`, `{"password":"p<a\"ss"}`},
		{"Go quoted", `p<a"s\s`, fmt.Sprintf("bad password %q", `p<a"s\s`)},
		{"SQL doubled quotes", `it's-secret`, `ALTER ROLE x PASSWORD 'it''s-secret'`},
		{"backslash doubled", `a\b\c\d`, `'a\\b\\c\\d'`},
		{"twice", "repeat-me", "repeat-me and repeat-me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := logging.ScrubValues(tt.text, []string{tt.secret})
			if !strings.Contains(got, logging.Redacted) {
				t.Errorf("ScrubValues(%q) = %q, want the secret replaced", tt.text, got)
			}
			var decoded string
			if strings.HasPrefix(tt.text, "{") {
				var m map[string]string
				if err := json.Unmarshal([]byte(got), &m); err != nil {
					t.Fatalf("scrubbed JSON is not JSON: %v: %s", err, got)
				}
				decoded = m["password"]
			}
			if strings.Contains(got, tt.secret) || strings.Contains(decoded, tt.secret) {
				t.Errorf("ScrubValues(%q) = %q, still holds the secret", tt.text, got)
			}
		})
	}
	t.Run("scrub from context", func(t *testing.T) {
		ctx := logging.WithSecrets(t.Context(), "ctx-secret")
		if got, want := logging.Scrub(ctx, "a ctx-secret b"), "a "+logging.Redacted+" b"; got != want {
			t.Errorf("Scrub = %q, want %q", got, want)
		}
		if got := logging.Scrub(context.Background(), "a ctx-secret b"); got != "a ctx-secret b" {
			t.Errorf("Scrub without secrets = %q, want the text unchanged", got)
		}
	})
}

func TestSecretsInLogOutputForms(t *testing.T) {
	// A password with characters the JSON handler escapes must not survive in
	// the handler's escaped form either.
	for _, secret := range []string{`a"b<c>&d`, `back\slash`, "tab\there", "it's'quoted"} {
		t.Run(secret, func(t *testing.T) {
			logger, buf, lines := capture(t)
			ctx := logging.WithSecrets(t.Context(), secret)
			logger.InfoContext(ctx, "v="+secret, "err", fmt.Errorf("driver: %q", secret), "s", secret)
			line := oneLine(t, lines())
			for k, v := range line {
				if s, ok := v.(string); ok && strings.Contains(s, secret) {
					t.Errorf("%s holds the secret: %q", k, s)
				}
			}
			if b, _ := json.Marshal(secret); strings.Contains(buf.String(), strings.Trim(string(b), `"`)) {
				t.Errorf("raw output holds the escaped secret: %s", buf)
			}
		})
	}
}

func TestGroupsAndWithKeepTheirShape(t *testing.T) {
	const secret = "shape-secret-1"
	for name, ctx := range map[string]context.Context{
		"without secrets": t.Context(),
		"with secrets":    logging.WithSecrets(t.Context(), secret),
	} {
		t.Run(name, func(t *testing.T) {
			logger, _, lines := capture(t)
			logger.With("a", 1).WithGroup("g").With("b", "x "+secret).WithGroup("h").InfoContext(ctx, "m", "c", true)
			got := oneLine(t, lines())
			delete(got, "timestamp")
			b := "x " + secret
			if name == "with secrets" {
				b = "x " + logging.Redacted
			}
			want := map[string]any{
				"level": "INFO", "message": "m", "a": float64(1),
				"g": map[string]any{"b": b, "h": map[string]any{"c": true}},
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("log line (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("empty group and no attrs", func(t *testing.T) {
		logger, _, lines := capture(t)
		logger.WithGroup("").With().InfoContext(logging.WithSecrets(t.Context(), secret), "m", "k", secret)
		if got := oneLine(t, lines())["k"]; got != logging.Redacted {
			t.Errorf("k = %v, want %s at top level", got, logging.Redacted)
		}
	})
}

func TestRedactWrapsAnyHandler(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(logging.Redact(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	logger.Debug("hidden")
	logger.InfoContext(logging.WithSecrets(t.Context(), "text-secret"), "m text-secret", "password", "p4ss")
	out := buf.String()
	if strings.Contains(out, "hidden") || strings.Contains(out, "text-secret") || strings.Contains(out, "p4ss") {
		t.Errorf("text output = %q", out)
	}
}

func FuzzScrubValues(f *testing.F) {
	f.Add("error: ", "hunter22", " rejected")
	f.Add(`{"password":"`, `p<a"s\s`, `"}`)
	f.Add("ALTER ROLE x PASSWORD '", "it's-me", "'")
	f.Add("", "abc", "")
	f.Add("x", "REDA", "y")
	f.Add("[RED", "ACTED]", "")
	f.Fuzz(func(t *testing.T, prefix, v, suffix string) {
		if got := logging.ScrubValues(prefix+v+suffix, nil); got != prefix+v+suffix {
			t.Fatalf("ScrubValues with no values changed the text to %q", got)
		}
		quoted := fmt.Sprintf("%q", v)
		jsonB, _ := json.Marshal(v)
		text := prefix + v + suffix + quoted + suffix + string(jsonB) + prefix + strings.ReplaceAll(v, "'", "''")
		got := logging.ScrubValues(text, []string{v})
		if len(v) < logging.MinSubstring {
			// A short value goes where it stands alone between spaces.
			if v == "" || strings.ContainsAny(v, " []") || strings.Contains(logging.Redacted, v) {
				return
			}
			alone := "x " + v + " y"
			if got := logging.ScrubValues(alone, []string{v}); strings.Contains(" "+got+" ", " "+v+" ") {
				t.Fatalf("ScrubValues(%q) = %q, still holds the short value %q as a token", alone, got, v)
			}
			return
		}
		// A value holding a bracket or part of the marker can meet itself
		// across a replacement; any other value must be gone.
		if strings.ContainsAny(v, "[]") || strings.Contains(logging.Redacted, v) {
			return
		}
		if strings.Contains(got, v) {
			t.Fatalf("ScrubValues(%q) = %q, still holds %q", text, got, v)
		}
		if !strings.Contains(got, logging.Redacted) {
			t.Fatalf("ScrubValues(%q) = %q, no marker", text, got)
		}
	})
}

func TestScrubValuesShortAndOverlapping(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		text   string
		want   string
	}{
		{"one character alone", []string{"q"}, "password q rejected", "password [REDACTED] rejected"},
		{"one character inside words kept", []string{"q"}, "quota query", "quota query"},
		{"two characters quoted", []string{"pw"}, `PASSWORD 'pw' for "pw"`, `PASSWORD '[REDACTED]' for "[REDACTED]"`},
		{"punctuation value", []string{"!"}, "failed!", "failed[REDACTED]"},
		{"number", []string{"7"}, "pin=7; port 5432", "pin=[REDACTED]; port 5432"},
		{"contained value does not leave the rest", []string{"abcd", "abcdefgh"}, "x abcdefgh y", "x [REDACTED] y"},
		{"contained value alone too", []string{"abcd", "abcdefgh"}, "abcd abcdefgh", "[REDACTED] [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logging.ScrubValues(tt.text, tt.values); got != tt.want {
				t.Errorf("ScrubValues(%q, %q) = %q, want %q", tt.text, tt.values, got, tt.want)
			}
		})
	}
}
