package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

var steps = []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish}

// flaky wraps a rotator and fails the named method the first `failures` times
// it is called, after (or before) doing its work.
type flaky struct {
	rotators.Rotator
	method   string
	failures atomic.Int32
	calls    map[string]*atomic.Int32
}

func newFlaky(method string, failures int32) *flaky {
	f := &flaky{Rotator: generic.New(password.Default("")), method: method, calls: map[string]*atomic.Int32{}}
	for _, m := range []string{"Create", "Set", "Test", "Finish"} {
		f.calls[m] = &atomic.Int32{}
	}
	f.failures.Store(failures)
	return f
}

func (f *flaky) fail(method string) error {
	f.calls[method].Add(1)
	if method == f.method && f.failures.Add(-1) >= 0 {
		return errors.New("injected failure in " + method)
	}
	return nil
}

func (f *flaky) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	resp, err := f.Rotator.Create(ctx, req)
	if err == nil {
		err = f.fail("Create")
	}
	return resp, err
}

func (f *flaky) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	resp, err := f.Rotator.Set(ctx, req)
	if err == nil {
		err = f.fail("Set")
	}
	return resp, err
}

func (f *flaky) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	resp, err := f.Rotator.Test(ctx, req)
	if err == nil {
		err = f.fail("Test")
	}
	return resp, err
}

func newEnv(t *testing.T, rot rotators.Rotator, opts ...rotationtest.Options) (*rotationtest.Env, string) {
	t.Helper()
	if rot == nil {
		rot = generic.New(password.Default(""))
	}
	env := rotationtest.New(t, rot, opts...)
	arn := env.CreateSecret(t, "app/"+strings.ReplaceAll(t.Name(), "/", "-"), secret.Value{Engine: "generic", Password: "initial-password-0001"})
	return env, arn
}

func writes(env *rotationtest.Env) int {
	return env.AWS.Calls("PutSecretValue", "") + env.AWS.Calls("UpdateSecretVersionStage", "")
}

func TestFullRotationThroughRotateSecret(t *testing.T) {
	env, arn := newEnv(t, nil)
	old := env.Value(t, arn, "AWSCURRENT")
	if err := env.Rotate(t, arn); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	cur := env.Value(t, arn, "AWSCURRENT")
	prev := env.Value(t, arn, "AWSPREVIOUS")
	if cur.Password == old.Password {
		t.Error("AWSCURRENT still holds the old password")
	}
	if prev.Password != old.Password {
		t.Error("AWSPREVIOUS does not hold the old password")
	}
	if got, want := env.SMCalls(), 8; got > want {
		t.Errorf("Secrets Manager calls for a single-user rotation = %d, budget %d", got, want)
	}
	// A second rotation works from the new state.
	if err := env.Rotate(t, arn); err != nil {
		t.Fatalf("second rotate: %v", err)
	}
}

// TestEveryStepTwice runs each step twice in a row: the second run must change
// nothing.
func TestEveryStepTwice(t *testing.T) {
	env, arn := newEnv(t, nil)
	token := env.Begin(t, arn)
	var pendingAfterCreate string
	for _, step := range steps {
		for i := range 2 {
			if err := env.Step(t, arn, token, step); err != nil {
				t.Fatalf("%s run %d: %v", step, i+1, err)
			}
			if step == rotation.StepCreate {
				p := env.Value(t, arn, "AWSPENDING").Password
				if i == 0 {
					pendingAfterCreate = p
				} else if p != pendingAfterCreate {
					t.Fatalf("second createSecret changed the pending value")
				}
			}
		}
	}
	stages := env.Stages(t, arn)
	if got := stages[token]; !contains(got, "AWSCURRENT") {
		t.Fatalf("token stages = %v, want AWSCURRENT", got)
	}
	if got := env.Value(t, arn, "AWSCURRENT").Password; got != pendingAfterCreate {
		t.Fatal("AWSCURRENT is not the value createSecret made")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestRetryAfterRotatorFailure: a rotator step that fails once is retried the
// way the service retries (the whole rotation, same token) and succeeds.
func TestRetryAfterRotatorFailure(t *testing.T) {
	for _, method := range []string{"Create", "Set", "Test"} {
		t.Run(method, func(t *testing.T) {
			f := newFlaky(method, 1)
			env, arn := newEnv(t, f, rotationtest.Options{Server: localaws.Options{RotationRetries: 1}})
			old := env.Value(t, arn, "AWSCURRENT")
			if err := env.Rotate(t, arn); err != nil {
				t.Fatalf("rotate with one retry: %v", err)
			}
			runs := env.AWS.Rotations(arn)
			if got := runs[len(runs)-1].Attempts; got != 2 {
				t.Errorf("attempts = %d, want 2 (one failure, one retry)", got)
			}
			if env.Value(t, arn, "AWSCURRENT").Password == old.Password {
				t.Error("not rotated")
			}
		})
	}
}

// TestRetryAfterSecretsManagerFailure injects Secrets Manager failures at each
// write: refused outright, or applied with the answer lost (beyond the SDK's
// own retries). The retried rotation ends rotated, with the pending value made
// by the first successful createSecret.
func TestRetryAfterSecretsManagerFailure(t *testing.T) {
	cases := []struct {
		op   string
		kind localaws.FaultKind
		// attempts is how many rotation attempts the service needs: the
		// engine notices a PutSecretValue that was applied despite its error
		// and succeeds in the same attempt.
		attempts int
	}{
		{"PutSecretValue", localaws.InternalError, 2},
		{"PutSecretValue", localaws.AppliedThenFailed, 1},
		{"UpdateSecretVersionStage", localaws.InternalError, 2},
		{"UpdateSecretVersionStage", localaws.AppliedThenFailed, 2},
		{"GetSecretValue", localaws.InternalError, 2},
		{"DescribeSecret", localaws.InternalError, 2},
		{"DescribeSecret", localaws.Throttle, 2},
	}
	for _, c := range cases {
		t.Run(c.op+"/"+c.kind.String(), func(t *testing.T) {
			env, arn := newEnv(t, nil, rotationtest.Options{Server: localaws.Options{RotationRetries: 2}})
			old := env.Value(t, arn, "AWSCURRENT")
			// Three faults in a row beat the SDK's three attempts: the step fails.
			env.AWS.InjectFault(localaws.Fault{Operation: c.op, Kind: c.kind, Count: 3})
			if err := env.Rotate(t, arn); err != nil {
				t.Fatalf("rotate: %v", err)
			}
			runs := env.AWS.Rotations(arn)
			if got := runs[len(runs)-1].Attempts; got != c.attempts {
				t.Errorf("attempts = %d, want %d", got, c.attempts)
			}
			cur := env.Value(t, arn, "AWSCURRENT")
			if cur.Password == old.Password {
				t.Fatal("not rotated")
			}
			if prev := env.Value(t, arn, "AWSPREVIOUS"); prev.Password != old.Password {
				t.Fatal("AWSPREVIOUS lost the old value")
			}
		})
	}
}

// TestTokenNotPendingRefused: tokens that are not the AWSPENDING version are
// refused by every step, and nothing is written.
func TestTokenNotPendingRefused(t *testing.T) {
	env, arn := newEnv(t, nil)
	if err := env.Rotate(t, arn); err != nil {
		t.Fatal(err)
	}
	stages := env.Stages(t, arn)
	var previousID string
	for id, s := range stages {
		if contains(s, "AWSPREVIOUS") {
			previousID = id
		}
	}
	env.Begin(t, arn) // a rotation is in progress with another token
	tokens := map[string]string{
		"unknown":  "00000000-0000-4000-8000-000000000000",
		"previous": previousID,
	}
	for name, tok := range tokens {
		for _, step := range steps {
			t.Run(name+"/"+step, func(t *testing.T) {
				before := writes(env)
				err := env.Engine.Handle(t.Context(), event(step, arn, tok))
				if !errors.Is(err, rotation.ErrVersionNotPending) {
					t.Fatalf("err = %v, want ErrVersionNotPending", err)
				}
				var se *rotation.StepError
				if !errors.As(err, &se) || se.Step != step {
					t.Fatalf("err = %#v, want *StepError for %s", err, step)
				}
				if got := writes(env) - before; got != 0 {
					t.Fatalf("%d writes, want 0", got)
				}
			})
		}
	}
}

func event(step, arn, token string) events.SecretsManagerSecretRotationEvent {
	return events.SecretsManagerSecretRotationEvent{Step: step, SecretID: arn, ClientRequestToken: token, RotationToken: rotationtest.NewToken()}
}

// TestTokenAlreadyCurrent: every step succeeds without writing when the token
// is already AWSCURRENT (a late retry after finishSecret).
func TestTokenAlreadyCurrent(t *testing.T) {
	env, arn := newEnv(t, nil)
	if err := env.Rotate(t, arn); err != nil {
		t.Fatal(err)
	}
	var currentID string
	for id, s := range env.Stages(t, arn) {
		if contains(s, "AWSCURRENT") {
			currentID = id
		}
	}
	before := env.Stages(t, arn)
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			w := writes(env)
			if err := env.Engine.Handle(t.Context(), event(step, arn, currentID)); err != nil {
				t.Fatalf("err = %v, want success", err)
			}
			if got := writes(env) - w; got != 0 {
				t.Fatalf("%d writes, want 0", got)
			}
		})
	}
	if diff := cmp.Diff(env.Stages(t, arn), before); diff != "" {
		t.Fatalf("stages changed (-got +want):\n%s", diff)
	}
}

// TestRotationDisabledRefused: a rotation cancelled before createSecret stored
// a value is refused by every step.
func TestRotationDisabledRefused(t *testing.T) {
	env, arn := newEnv(t, nil)
	token := env.Begin(t, arn)
	if _, err := env.SM.CancelRotateSecret(t.Context(), &secretsmanager.CancelRotateSecretInput{SecretId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			w := writes(env)
			err := env.Engine.Handle(t.Context(), event(step, arn, token))
			if !errors.Is(err, rotation.ErrRotationDisabled) {
				t.Fatalf("err = %v, want ErrRotationDisabled", err)
			}
			if got := writes(env) - w; got != 0 {
				t.Fatalf("%d writes, want 0", got)
			}
		})
	}
}

// TestMalformedEventsMakeNoCalls: a bad event is refused before any AWS call.
func TestMalformedEventsMakeNoCalls(t *testing.T) {
	env, arn := newEnv(t, nil)
	good := "11111111-2222-4333-8444-555555555555"
	cases := map[string]string{
		"unknown step":  `{"Step":"rotateSecret","SecretId":"` + arn + `","ClientRequestToken":"` + good + `"}`,
		"empty step":    `{"SecretId":"` + arn + `","ClientRequestToken":"` + good + `"}`,
		"no secret":     `{"Step":"createSecret","ClientRequestToken":"` + good + `"}`,
		"short token":   `{"Step":"createSecret","SecretId":"` + arn + `","ClientRequestToken":"abc"}`,
		"bad token":     `{"Step":"createSecret","SecretId":"` + arn + `","ClientRequestToken":"` + strings.Repeat("!", 36) + `"}`,
		"control chars": `{"Step":"createSecret","SecretId":"a\u0000b","ClientRequestToken":"` + good + `"}`,
		"not json":      `{"Step":`,
		"wrong types":   `{"Step":1,"SecretId":true}`,
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			env.AWS.ResetCalls()
			env.ResetSMCalls()
			_, err := invokeRaw(env, payload)
			if err == nil {
				t.Fatal("malformed event accepted")
			}
			if env.SMCalls() != 0 || env.AWS.TotalCalls() != 0 {
				t.Fatalf("%d engine calls, %d server calls; want none", env.SMCalls(), env.AWS.TotalCalls())
			}
		})
	}
}

func invokeRaw(env *rotationtest.Env, payload string) ([]byte, error) {
	return lambdaInvoke(env.Engine, payload)
}

// leaky returns errors holding every secret it sees, like a driver echoing SQL.
type leaky struct{ rotators.Rotator }

func (l leaky) Set(_ context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	return rotators.SetResponse{}, fmt.Errorf("driver said: ALTER ROLE x PASSWORD '%s' failed; old was %q", req.Pending.Password, req.Current.Password)
}

// TestCanaryNoSecretInLogsOrErrors: a full rotation's logs, and a failing
// rotator's error whose text holds the passwords, show none of the old,
// pending or final values nor the RotationToken.
func TestCanaryNoSecretInLogsOrErrors(t *testing.T) {
	t.Run("full rotation", func(t *testing.T) {
		env, arn := newEnv(t, nil)
		old := env.Value(t, arn, "AWSCURRENT").Password
		token := env.Begin(t, arn)
		rotTok := rotationtest.NewToken()
		for _, step := range steps {
			if err := env.StepWith(t.Context(), arn, token, step, rotTok); err != nil {
				t.Fatal(err)
			}
		}
		final := env.Value(t, arn, "AWSCURRENT").Password
		rotationtest.AssertNoLeak(t, "logs", env.Logs(), old, final, rotTok)
		if !strings.Contains(env.Logs(), "rotation step finished") {
			t.Fatal("no logs captured: the canary proves nothing")
		}
	})
	t.Run("failing rotator", func(t *testing.T) {
		env, arn := newEnv(t, leaky{generic.New(password.Default(""))})
		old := env.Value(t, arn, "AWSCURRENT").Password
		token := env.Begin(t, arn)
		rotTok := rotationtest.NewToken()
		if err := env.StepWith(t.Context(), arn, token, rotation.StepCreate, rotTok); err != nil {
			t.Fatal(err)
		}
		pending := env.Value(t, arn, "AWSPENDING").Password
		err := env.Engine.Handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: rotation.StepSet, SecretID: arn, ClientRequestToken: token, RotationToken: rotTok})
		if err == nil {
			t.Fatal("leaky Set succeeded")
		}
		if !strings.Contains(err.Error(), "driver said") {
			t.Fatalf("error lost its context: %v", err)
		}
		rotationtest.AssertNoLeak(t, "error", err.Error(), old, pending, rotTok)
		rotationtest.AssertNoLeak(t, "logs", env.Logs(), old, pending, rotTok)
		var se *rotation.StepError
		if !errors.As(err, &se) || se.SecretARN != arn {
			t.Fatalf("want *StepError naming the secret, got %#v", err)
		}
	})
}

// TestPasswordSourceSecretsManager uses GetRandomPassword for new passwords.
func TestPasswordSourceSecretsManager(t *testing.T) {
	env, arn := newEnv(t, nil, rotationtest.Options{Passwords: rotation.PasswordSourceSecretsManager})
	if err := env.Rotate(t, arn); err != nil {
		t.Fatal(err)
	}
	if got := env.AWS.Calls("GetRandomPassword", ""); got != 1 {
		t.Fatalf("GetRandomPassword calls = %d, want 1", got)
	}
	if p := env.Value(t, arn, "AWSCURRENT").Password; len(p) != 32 {
		t.Fatalf("password length %d, want 32", len(p))
	}
}

// TestUnknownEngineRefused: a secret whose engine no rotator handles fails
// createSecret with a clear error and writes nothing.
func TestUnknownEngineRefused(t *testing.T) {
	reg := &rotators.Registry{}
	generic.Register(reg, password.Default(""))
	env := rotationtest.New(t, reg)
	arn := env.CreateSecret(t, "app/unknown", secret.Value{Engine: "oracle", Password: "initial-password-0001"})
	token := env.Begin(t, arn)
	w := writes(env)
	err := env.Engine.Handle(t.Context(), event(rotation.StepCreate, arn, token))
	if !errors.Is(err, rotators.ErrNoRotator) {
		t.Fatalf("err = %v, want ErrNoRotator", err)
	}
	if !strings.Contains(err.Error(), `"oracle"`) {
		t.Fatalf("error does not name the engine: %v", err)
	}
	if writes(env) != w {
		t.Fatal("wrote despite the refusal")
	}
}

// TestMalformedSecretRefused: a current value that is not valid secret JSON
// fails createSecret naming the problem, without echoing the value.
func TestMalformedSecretRefused(t *testing.T) {
	env := rotationtest.New(t, generic.New(password.Default("")))
	out, err := env.SM.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("app/bad"), SecretString: aws.String(`{"engine":"generic","port":"not-a-port-canary123"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	token := env.Begin(t, arn)
	err = env.Engine.Handle(t.Context(), event(rotation.StepCreate, arn, token))
	var ke *secret.KeyError
	if !errors.As(err, &ke) || ke.Key != "port" {
		t.Fatalf("err = %v, want a KeyError naming port", err)
	}
	rotationtest.AssertNoLeak(t, "error", err.Error(), "not-a-port-canary123")
}

// BenchmarkRotationGeneric reports Secrets Manager calls per whole single-user
// rotation (budget 8; AWS's Python template makes 14) and allocations.
func BenchmarkRotationGeneric(b *testing.B) {
	env := rotationtest.New(b, generic.New(password.Default("")))
	arn := env.CreateSecret(b, "bench/generic", secret.Value{Engine: "generic", Password: "initial-password-0001"})
	env.ResetSMCalls()
	b.ReportAllocs()
	for b.Loop() {
		if err := env.Rotate(b, arn); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(env.SMCalls())/float64(b.N), "sm-calls/op")
}

// finishing is a rotator with finish work, like the SaaS ones.
type finishing struct {
	rotators.Rotator
	finishes atomic.Int32
}

func (f *finishing) Finish(context.Context, rotators.FinishRequest) (rotators.FinishResponse, error) {
	f.finishes.Add(1)
	return rotators.FinishResponse{}, nil
}

// TestFinishReadsOnlyForFinishers: in a function that also carries rotators
// with finish work (the central one), a database rotation still costs 8
// calls, and a rotator with finish work gets its Finish call even when the
// earlier steps ran in another container.
func TestFinishReadsOnlyForFinishers(t *testing.T) {
	fin := &finishing{Rotator: generic.New(password.Default(""))}
	reg := &rotators.Registry{}
	generic.Register(reg, password.Default(""))
	reg.Register(fin, rotators.APIKey, "apikey")
	env := rotationtest.New(t, reg)

	plain := env.CreateSecret(t, "app/plain", secret.Value{Engine: "generic", Password: "initial-password-0001"})
	env.ResetSMCalls()
	if err := env.Rotate(t, plain); err != nil {
		t.Fatal(err)
	}
	if got := env.SMCalls(); got != 8 {
		t.Errorf("generic rotation beside a finisher: %d calls, want 8", got)
	}

	keyed := env.CreateSecret(t, "app/keyed", secret.Value{Engine: "apikey", Password: "initial-password-0001"})
	if err := env.Rotate(t, keyed); err != nil {
		t.Fatal(err)
	}
	if got := fin.finishes.Load(); got != 1 {
		t.Fatalf("Finish calls = %d, want 1", got)
	}
	// finishSecret alone, as in a container that did not see the earlier steps.
	token := env.Begin(t, keyed)
	for _, step := range steps[:3] {
		if err := env.Step(t, keyed, token, step); err != nil {
			t.Fatal(err)
		}
	}
	other, err := rotation.New(rotation.Config{Clients: rotation.Static(env.SM), Rotators: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Handle(t.Context(), event(rotation.StepFinish, keyed, token)); err != nil {
		t.Fatal(err)
	}
	if got := fin.finishes.Load(); got != 2 {
		t.Fatalf("Finish calls = %d, want 2", got)
	}
}

// minting is a rotator whose Create changes the target: it implements
// rotators.Discarder, and so is a rotators.Minter.
type minting struct {
	rotators.Rotator
	creates, discards atomic.Int32
}

func (m *minting) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	m.creates.Add(1)
	return m.Rotator.Create(ctx, req)
}

func (m *minting) Discard(context.Context, rotators.DiscardRequest) (rotators.DiscardResponse, error) {
	m.discards.Add(1)
	return rotators.DiscardResponse{}, nil
}

// counting counts Create calls and has no optional method.
type counting struct {
	rotators.Rotator
	creates atomic.Int32
}

func (c *counting) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	c.creates.Add(1)
	return c.Rotator.Create(ctx, req)
}

// TestOptionalInterfacesByMethod: the engine finds Minter (Discard) and
// Finisher (Finish) by their methods alone. A retried createSecret of a
// minter finds the stored pending value and mints nothing; a rotator without
// the method is called again and pays no extra read; a rotator without Finish
// gets none (8 calls for a whole rotation).
func TestOptionalInterfacesByMethod(t *testing.T) {
	t.Run("minter", func(t *testing.T) {
		m := &minting{Rotator: generic.New(password.Default(""))}
		var _ rotators.Minter = m
		env, arn := newEnv(t, m)
		token := env.Begin(t, arn)
		env.ResetSMCalls()
		if err := env.Step(t, arn, token, rotation.StepCreate); err != nil {
			t.Fatal(err)
		}
		if got := env.SMCalls(); got != 4 {
			t.Errorf("createSecret of a minter: %d calls, want 4 (with the pending check)", got)
		}
		if err := env.Step(t, arn, token, rotation.StepCreate); err != nil {
			t.Fatal(err)
		}
		if got := m.creates.Load(); got != 1 {
			t.Errorf("Create calls = %d after a retried createSecret, want 1 (the stored pending value stands)", got)
		}
		if got := m.discards.Load(); got != 0 {
			t.Errorf("Discard calls = %d, want 0 (the pending value was stored)", got)
		}
	})
	t.Run("plain", func(t *testing.T) {
		c := &counting{Rotator: generic.New(password.Default(""))}
		if _, ok := any(c).(rotators.Finisher); ok {
			t.Fatal("a rotator without Finish is a Finisher")
		}
		if _, ok := any(c).(rotators.Minter); ok {
			t.Fatal("a rotator without Discard is a Minter")
		}
		env, arn := newEnv(t, c)
		env.ResetSMCalls()
		if err := env.Rotate(t, arn); err != nil {
			t.Fatal(err)
		}
		if got := env.SMCalls(); got != 8 {
			t.Errorf("whole rotation: %d calls, want 8", got)
		}
		token := env.Begin(t, arn)
		for range 2 {
			if err := env.Step(t, arn, token, rotation.StepCreate); err != nil {
				t.Fatal(err)
			}
		}
		if got := c.creates.Load(); got != 3 {
			t.Errorf("Create calls = %d, want 3 (one rotation, then createSecret twice)", got)
		}
	})
}
