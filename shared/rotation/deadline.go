package rotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EnvCleanupReserve names the environment variable holding the cleanup
// reserve (a Go duration such as "20s").
const EnvCleanupReserve = "ROTARY_CLEANUP_RESERVE"

// DefaultCleanupReserve is the part of the Lambda timeout kept back from a
// rotator's work for cleanup (Discard) and the failure log.
const DefaultCleanupReserve = 20 * time.Second

// Bounds of the cleanup reserve: below a second a Discard cannot reach a
// target; a Lambda function runs at most 15 minutes.
const (
	MinCleanupReserve = time.Second
	MaxCleanupReserve = 10 * time.Minute
)

// ErrConfig is wrapped by every engine configuration error.
var ErrConfig = errors.New("invalid engine configuration")

// ErrStepDeadline reports a rotator call that ran past its step deadline (the
// Lambda deadline minus the cleanup reserve).
var ErrStepDeadline = errors.New("step deadline reached")

// CleanupReserveFromEnv reads ROTARY_CLEANUP_RESERVE through getenv:
// DefaultCleanupReserve when unset, else a Go duration from
// MinCleanupReserve to MaxCleanupReserve. Anything else is an error wrapping
// ErrConfig, so a function fails at start-up, not at its first rotation.
func CleanupReserveFromEnv(getenv func(string) string) (time.Duration, error) {
	s := strings.TrimSpace(getenv(EnvCleanupReserve))
	if s == "" {
		return DefaultCleanupReserve, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s must be a Go duration such as 20s (got %d characters that are not one)", ErrConfig, EnvCleanupReserve, len(s))
	}
	if d < MinCleanupReserve || d > MaxCleanupReserve {
		return 0, fmt.Errorf("%w: %s must be from %s to %s, got %s", ErrConfig, EnvCleanupReserve, MinCleanupReserve, MaxCleanupReserve, d)
	}
	return d, nil
}

// deadlines are the time limits of one invocation. The zero value (an
// invocation context without deadline, as in tests) sets none.
type deadlines struct {
	lambda  time.Time     // the invocation's own deadline
	step    time.Time     // lambda minus reserve: the end of a rotator's work
	reserve time.Duration // what is kept back for cleanup
}

// newDeadlines derives the step deadline from the invocation context's. When
// less than twice the reserve is left (a Lambda timeout close to the reserve),
// the rotator gets half of what is left, so it never starts already expired.
func newDeadlines(ctx context.Context, reserve time.Duration) deadlines {
	lambda, ok := ctx.Deadline()
	if !ok {
		return deadlines{}
	}
	if left := time.Until(lambda); left < 2*reserve {
		reserve = max(left/2, 0)
	}
	return deadlines{lambda: lambda, step: lambda.Add(-reserve), reserve: reserve}
}

// stepContext is ctx ending at the step deadline.
func (d deadlines) stepContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d.step.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, d.step)
}

// cleanupContext is a context for cleanup after a step's work: it survives
// the step deadline and the cancellation of ctx, keeps ctx's values, and ends
// shortly before the Lambda deadline so the failure log is still written.
func (d deadlines) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	if d.lambda.IsZero() {
		return context.WithCancel(base)
	}
	margin := min(time.Second, d.reserve/4)
	return context.WithDeadline(base, d.lambda.Add(-margin))
}

// explain turns the error of a rotator call whose step deadline passed into
// one that says so (wrapping ErrStepDeadline and the original error).
func (d deadlines) explain(ctx, stepCtx context.Context, err error) error {
	if err == nil || d.step.IsZero() || !errors.Is(stepCtx.Err(), context.DeadlineExceeded) || ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w at %s, %s before the Lambda deadline (Lambda timeout minus %s); the target did not answer in time: %w",
		ErrStepDeadline, d.step.UTC().Format(time.RFC3339), d.reserve.Round(time.Millisecond), EnvCleanupReserve, err)
}
