package dbrotator

import (
	"context"
	"errors"
	"fmt"
)

// Version names the stored version whose password a login used.
type Version int

// The versions LoginChain tries, in order.
const (
	Current Version = iota
	Pending
	Previous
)

// Logins are the ways to log in as the secret's user with each stored
// version's password, for LoginChain. A session is S (a *pgx.Conn, a MySQL
// session); each function returns an error wrapping ErrAuth when the server
// refuses the password, and uses the TLS setting of the version whose
// password it sends.
type Logins[S any] struct {
	// User is the user name, for errors.
	User string
	// Current logs in with AWSCURRENT.
	Current func(ctx context.Context) (S, error)
	// Pending logs in with AWSPENDING (set by an earlier try of the step).
	Pending func(ctx context.Context) (S, error)
	// Previous logs in with AWSPREVIOUS (for a password that was rolled
	// back). It returns an error made by NoPrevious when there is no such
	// version or it may not be used (another user, another server); nil
	// Previous means there is none.
	Previous func(ctx context.Context) (S, error)
}

// noPrevious says why AWSPREVIOUS was not tried.
type noPrevious struct{ reason string }

func (e *noPrevious) Error() string { return e.reason }

// NoPrevious is what Logins.Previous returns when AWSPREVIOUS is not tried:
// reason says why ("" when there is no previous version), and ends up in
// LoginChain's ErrNoCredential error.
func NoPrevious(reason string) error { return &noPrevious{reason: reason} }

// LoginChain logs in with the current password, then the pending one, then
// the previous one, and stops at the first that works: it returns the
// session and which version it used (Pending means an earlier try already
// set the pending password). Only a refused password (ErrAuth) moves on to
// the next version; any other error (TLS, network, a server that asks for
// the password insecurely) ends the chain at once, so a failure that is not
// about the password never costs further logins. When every version is
// refused the error wraps ErrNoCredential and ErrAuth.
func LoginChain[S any](ctx context.Context, l Logins[S]) (S, Version, error) {
	var zero S
	s, err := l.Current(ctx)
	if err == nil {
		return s, Current, nil
	}
	if !errors.Is(err, ErrAuth) {
		return zero, 0, fmt.Errorf("log in as current user: %w", err)
	}
	s, err = l.Pending(ctx)
	if err == nil {
		return s, Pending, nil
	}
	if !errors.Is(err, ErrAuth) {
		return zero, 0, fmt.Errorf("log in as pending user: %w", err)
	}
	refused := err
	reason := ""
	if l.Previous != nil {
		s, err = l.Previous(ctx)
		var np *noPrevious
		switch {
		case err == nil:
			return s, Previous, nil
		case errors.As(err, &np):
			reason = np.reason
		case errors.Is(err, ErrAuth):
			return zero, 0, fmt.Errorf("%w: the current, pending and previous passwords of user %q are refused: %w", ErrNoCredential, l.User, err)
		default:
			return zero, 0, fmt.Errorf("log in as previous user: %w", err)
		}
	}
	if reason != "" {
		reason = "; " + reason
	}
	return zero, 0, fmt.Errorf("%w: the current and pending passwords of user %q are refused%s: %w", ErrNoCredential, l.User, reason, refused)
}
