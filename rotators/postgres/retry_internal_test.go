package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestRetryable: only the transient conflicts of a password change are
// retried; an XX000 with another message, a refused password or a timeout is
// not.
func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "XX000", Message: "tuple concurrently updated"}, true},
		{fmt.Errorf("set: %w", &pgconn.PgError{Code: "40001", Message: "could not serialize access"}), true},
		{&pgconn.PgError{Code: "40P01", Message: "deadlock detected"}, true},
		{&pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"}, true},
		{&pgconn.PgError{Code: "XX000", Message: "cache lookup failed"}, false},
		{&pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, false},
		{&pgconn.PgError{Code: "28P01"}, false},
		{context.DeadlineExceeded, false},
		{errors.New("unexpected EOF"), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestWithRetry: a conflict is retried until it clears, at most maxAttempts
// times, and never after ctx ends.
func TestWithRetry(t *testing.T) {
	conflict := &pgconn.PgError{Code: "XX000", Message: "tuple concurrently updated"}
	t.Run("clears", func(t *testing.T) {
		n := 0
		err := withRetry(t.Context(), nil, func(context.Context) error {
			if n++; n < 3 {
				return conflict
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Fatalf("withRetry: %v after %d calls, want success after 3", err, n)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		n := 0
		err := withRetry(t.Context(), nil, func(context.Context) error { n++; return conflict })
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || n != maxAttempts {
			t.Fatalf("withRetry: %v after %d calls, want the conflict after %d", err, n, maxAttempts)
		}
	})
	t.Run("not retryable", func(t *testing.T) {
		n := 0
		auth := &pgconn.PgError{Code: "42501"}
		if err := withRetry(t.Context(), nil, func(context.Context) error { n++; return auth }); !errors.Is(err, auth) || n != 1 {
			t.Fatalf("withRetry: %v after %d calls, want the error after 1", err, n)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err := withRetry(ctx, nil, func(context.Context) error { n++; cancel(); return conflict })
		if !errors.Is(err, context.Canceled) || n != 1 {
			t.Fatalf("withRetry: %v after %d calls, want no retry once ctx ended", err, n)
		}
	})
}
