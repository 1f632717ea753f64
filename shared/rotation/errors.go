package rotation

import (
	"errors"
	"fmt"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// Sentinel errors callers branch on.
var (
	// ErrRotationDisabled: the secret does not have rotation enabled.
	ErrRotationDisabled = errors.New("rotation is not enabled for the secret")
	// ErrVersionNotPending: the event's token is not the secret's AWSPENDING version.
	ErrVersionNotPending = errors.New("the ClientRequestToken is not the secret's AWSPENDING version")
	// ErrPendingTooLarge: the rotator produced a value Secrets Manager cannot store.
	ErrPendingTooLarge = errors.New("the pending value is larger than 65536 bytes")
)

// StepError is the error a failed step returns to Lambda. Lambda reports its
// type name (errorType "StepError") and message; the message names the step and
// the secret and never holds a secret value.
type StepError struct {
	Step      string
	SecretARN string
	Err       error
}

// Error implements error.
func (e *StepError) Error() string {
	return fmt.Sprintf("%s for %s: %v", e.Step, e.SecretARN, e.Err)
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// redactedError carries an error whose text had secret values removed. Error()
// never returns the original text; errors.Is and errors.As still see the
// original chain so callers can branch on sentinels and driver error codes.
type redactedError struct {
	msg  string
	orig error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return errors.Is(e.orig, target) }

func (e *redactedError) As(target any) bool { return errors.As(e.orig, target) }

// redact returns err with every value in secrets scrubbed from its text.
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := logging.ScrubValues(msg, secrets)
	return &redactedError{msg: clean, orig: err}
}

// ErrForeignSecret: a secret reference (masterarn) names a secret outside the
// rotated secret's own partition and account, or is not a valid secret ARN.
// It is refused before any STS or Secrets Manager call for it.
var ErrForeignSecret = errors.New("secret reference outside the rotated secret's own account")
