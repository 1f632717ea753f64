package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// Every test of this package shares one throwaway server (dbtest checks on
// start that it refuses a wrong password); tests make their own roles.
func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.StopSharedPostgres()
	os.Exit(code)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newName returns a fresh role name with a readable prefix.
func newName(prefix string) string { return prefix + "_" + randomHex(4) }

// newPassword returns a password the test owns (never one a rotator made).
func newPassword() string { return "Init-" + randomHex(12) }

// config trusts the test CA, as ROTARY_CA_BUNDLE would.
func config(pg *dbtest.Postgres) postgres.Config {
	return postgres.Config{CABundleFile: pg.CA.CAFile}
}

// userSecret is a secret as AWS's templates store it, with no ssl key (so TLS
// verify-full).
func userSecret(pg *dbtest.Postgres, user, pw string) secret.Value {
	return secret.Value{Engine: "postgres", Host: pg.Host, Port: pg.Port, Username: user, Password: pw, DBName: "postgres"}
}

func boolPtr(b bool) *bool { return &b }

// fixed returns a Loader for v (ok=false for a zero value).
func fixed(v secret.Value) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) {
		if v.Username == "" && v.Password == "" {
			return secret.Value{}, false, nil
		}
		return v, true, nil
	}
}

// direct runs a rotation by calling the rotator's steps in the engine's order,
// with versions held in memory: the AWSCURRENT/AWSPREVIOUS bookkeeping the
// engine does. It returns the new current value.
type direct struct {
	rot      rotators.Rotator
	current  secret.Value
	previous secret.Value
	master   secret.Value
}

func (d *direct) rotate(t *testing.T) (secret.Value, error) {
	t.Helper()
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:direct-AbCdEf", Token: randomHex(16)}
	cr, err := d.rot.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: d.current, Passwords: password.Local{}, Previous: fixed(d.previous), Master: fixed(d.master)})
	if err != nil {
		return secret.Value{}, err
	}
	pending := cr.Pending
	if _, err := d.rot.Set(ctx, rotators.SetRequest{Rotation: rot, Current: d.current, Pending: pending, Previous: fixed(d.previous), Master: fixed(d.master)}); err != nil {
		return pending, err
	}
	if _, err := d.rot.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: pending, Current: fixed(d.current), Master: fixed(d.master)}); err != nil {
		return pending, err
	}
	if f, ok := d.rot.(rotators.Finisher); ok {
		if _, err := f.Finish(ctx, rotators.FinishRequest{Rotation: rot, Pending: fixed(pending), Current: fixed(d.current), Previous: fixed(d.previous), Master: fixed(d.master)}); err != nil {
			return pending, err
		}
	}
	d.previous, d.current = d.current, pending
	return pending, nil
}

// assertNoSecret fails if text holds any of the values.
func assertNoSecret(t *testing.T, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("%s contains a secret value (%d characters)", what, len(v))
		}
	}
}

type statser interface{ Stats() postgres.Stats }

// loginDelta returns the logins and failed logins made while fn ran.
func loginDelta(r statser, fn func()) postgres.Stats {
	before := r.Stats()
	fn()
	after := r.Stats()
	return postgres.Stats{Logins: after.Logins - before.Logins, FailedLogins: after.FailedLogins - before.FailedLogins}
}
