package logging_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// benchSecrets are what the engine registers for one invocation: the
// RotationToken first (for every line), then the pending and current
// passwords (for its step-end line).
var benchSecrets = []string{"Q7v#x9'Lk2\\m<p>Rz&4", "aB3$dE6^gH9*jK1(mN4)", "rotation-token-0123456789abcdef0123456789abcdef"}

func benchLogger() *slog.Logger {
	return logging.NewJSON(io.Discard, slog.LevelInfo).With(slog.String("step", "setSecret"))
}

func stepAttrs() []any {
	return []any{
		slog.String("secretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"),
		slog.String("clientRequestToken", "5c3e1f0a-1b2c-4d5e-8f90-1a2b3c4d5e6f"),
		slog.String("engine", "postgres"), slog.String("account", "123456789012"),
		slog.Float64("durationMs", 12.5), slog.String("outcome", "succeeded"),
	}
}

// BenchmarkStepEndLine is the engine's step-end line: the invocation's
// context (the RotationToken registered) plus the step's passwords
// registered for this line, a message and six attributes.
func BenchmarkStepEndLine(b *testing.B) {
	logger, attrs := benchLogger(), stepAttrs()
	inv := logging.WithSecrets(context.Background(), benchSecrets[2])
	b.ReportAllocs()
	for b.Loop() {
		logger.InfoContext(logging.WithSecrets(inv, benchSecrets...), "rotation step finished", attrs...)
	}
}

// BenchmarkLineInInvocation is any other line of an invocation (the
// rotators' own, the step-start line): the context holds the values already.
func BenchmarkLineInInvocation(b *testing.B) {
	logger, attrs := benchLogger(), stepAttrs()
	ctx := logging.WithSecrets(context.Background(), benchSecrets...)
	b.ReportAllocs()
	for b.Loop() {
		logger.InfoContext(ctx, "rotation step started", attrs...)
	}
}

// BenchmarkScrubValues is one error text scrubbed of three values.
func BenchmarkScrubValues(b *testing.B) {
	text := `setSecret: connect as current user: failed SASL auth (FATAL: password authentication failed for user "app")`
	b.ReportAllocs()
	for b.Loop() {
		_ = logging.ScrubValues(text, benchSecrets)
	}
}

// TestWithSecretsSiblings: contexts derived from one parent each hold the
// parent's values and their own, never a sibling's (the parent's set is
// shared, not written to).
func TestWithSecretsSiblings(t *testing.T) {
	parent := logging.WithSecrets(t.Context(), "first-value", "second-value", "third-value")
	a := logging.WithSecrets(parent, "sibling-a-value")
	b := logging.WithSecrets(parent, "sibling-b-value")
	for _, c := range []struct {
		ctx        context.Context
		text, want string
	}{
		{a, "sibling-a-value second-value", logging.Redacted + " " + logging.Redacted},
		{b, "sibling-b-value third-value", logging.Redacted + " " + logging.Redacted},
		{a, "sibling-b-value", "sibling-b-value"},
		{b, "sibling-a-value", "sibling-a-value"},
		{parent, "sibling-a-value first-value", "sibling-a-value " + logging.Redacted},
	} {
		if got := logging.Scrub(c.ctx, c.text); got != c.want {
			t.Errorf("Scrub(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
