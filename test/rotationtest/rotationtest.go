// Package rotationtest runs rotations for tests: a local Secrets Manager
// (test/localaws) whose RotateSecret drives Rotary's real engine in process,
// through aws-lambda-go's JSON handler, exactly as Lambda would.
//
// It is test infrastructure: production code must never import it.
package rotationtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// FunctionARN is the ARN the in-process rotation function is registered under.
const FunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:rotary-test"

// Env is a local Secrets Manager with Rotary's engine registered as the
// rotation function.
type Env struct {
	AWS      *localaws.Server       // the emulator: faults, counters, rotation runs
	SM       *secretsmanager.Client // an administrator's client (not counted)
	Engine   *rotation.Engine
	Registry *rotators.Registry

	logs    *SyncBuffer
	smCalls atomic.Int64
	mu      sync.Mutex
	paused  bool
}

// Options tune New.
type Options struct {
	Server    localaws.Options // emulator options (retries, seed, …)
	Passwords string           // rotation.PasswordSource*; default local
}

// New starts an emulator and an engine routing through route, which is a
// rotators.Rotator (used for every engine) or a *rotators.Registry.
func New(t testing.TB, route any, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	reg, ok := route.(*rotators.Registry)
	if !ok {
		rot, isRot := route.(rotators.Rotator)
		if !isRot {
			t.Fatalf("rotationtest.New: route must be a rotators.Rotator or *rotators.Registry, got %T", route)
		}
		reg = &rotators.Registry{}
		reg.Register(rot, rotators.SingleUser, rotators.AnyEngine)
	}
	s := localaws.Start(t, o.Server)
	e := &Env{AWS: s, Registry: reg, logs: &SyncBuffer{}}
	cfg := s.AWSConfig(s.DefaultCredentials(), "")
	e.SM = secretsmanager.NewFromConfig(cfg)
	engineClient := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.APIOptions = append(o.APIOptions, countCalls(&e.smCalls))
	})
	logger := logging.NewJSON(e.logs, logging.Level(func(string) string { return "DEBUG" }))
	eng, err := rotation.New(rotation.Config{
		Clients:   rotation.Static(engineClient),
		Rotators:  reg,
		Logger:    logger,
		Metrics:   logging.NewMetrics(e.logs, ""),
		Passwords: o.Passwords,
	})
	if err != nil {
		t.Fatalf("rotationtest: engine: %v", err)
	}
	e.Engine = eng
	handler := lambda.NewHandler(eng.Handle)
	s.RegisterFunction(FunctionARN, localaws.HandlerFunction(func(ctx context.Context, payload []byte) ([]byte, error) {
		e.mu.Lock()
		paused := e.paused
		e.mu.Unlock()
		if paused {
			return []byte("null"), nil
		}
		return handler.Invoke(ctx, payload)
	}))
	return e
}

// countCalls counts every Secrets Manager operation the engine starts (SDK
// retries of one operation count once).
func countCalls(n *atomic.Int64) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("rotationtest.count",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				n.Add(1)
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// SMCalls returns the Secrets Manager calls the engine made since the last ResetSMCalls.
func (e *Env) SMCalls() int { return int(e.smCalls.Load()) }

// ResetSMCalls sets the engine's call counter to zero.
func (e *Env) ResetSMCalls() { e.smCalls.Store(0) }

// Logs returns everything the engine logged (JSON lines and EMF records).
func (e *Env) Logs() string { return e.logs.String() }

// CreateSecret stores v as a new secret's AWSCURRENT value and returns its ARN.
func (e *Env) CreateSecret(t testing.TB, name string, v secret.Value) string {
	t.Helper()
	out, err := e.SM.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(v.StoredJSON()),
	})
	if err != nil {
		t.Fatalf("rotationtest: create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

// Rotate runs a whole rotation the way Secrets Manager does (RotateSecret,
// then createSecret, setSecret, testSecret, finishSecret) and returns the
// failure the service would record, or nil.
func (e *Env) Rotate(t testing.TB, arn string) error {
	t.Helper()
	_, err := e.SM.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(arn),
		RotationLambdaARN: aws.String(FunctionARN),
	})
	if err != nil {
		return fmt.Errorf("RotateSecret: %w", err)
	}
	runs := e.AWS.Rotations(arn)
	if len(runs) == 0 {
		t.Fatalf("rotationtest: RotateSecret recorded no rotation for %s", arn)
	}
	last := runs[len(runs)-1]
	if last.Outcome != localaws.Succeeded {
		return &RotationError{Run: last}
	}
	return nil
}

// RotationError is a rotation the emulator recorded as failed.
type RotationError struct{ Run localaws.RotationRun }

// Error implements error.
func (e *RotationError) Error() string { return "rotation failed: " + e.Run.Error }

// Begin starts a rotation without running its steps: rotation is enabled and
// an empty AWSPENDING version exists, as when the service is about to invoke
// createSecret. It returns the pending version's token; drive the steps with Step.
func (e *Env) Begin(t testing.TB, arn string) string {
	t.Helper()
	e.mu.Lock()
	e.paused = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.paused = false
		e.mu.Unlock()
	}()
	out, err := e.SM.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(arn),
		RotationLambdaARN: aws.String(FunctionARN),
	})
	if err != nil {
		t.Fatalf("rotationtest: RotateSecret: %v", err)
	}
	return aws.ToString(out.VersionId)
}

// Step invokes one step of the engine with a fresh RotationToken, through the
// same JSON path Lambda uses.
func (e *Env) Step(t testing.TB, arn, token, step string) error {
	t.Helper()
	return e.StepWith(t.Context(), arn, token, step, NewToken())
}

// StepWith invokes one step with the given RotationToken.
func (e *Env) StepWith(ctx context.Context, arn, token, step, rotationToken string) error {
	payload := fmt.Sprintf(`{"Step":%q,"SecretId":%q,"ClientRequestToken":%q,"RotationToken":%q}`, step, arn, token, rotationToken)
	_, err := lambda.NewHandler(e.Engine.Handle).Invoke(ctx, []byte(payload))
	return err
}

// Value reads a version of the secret by stage (AWSCURRENT, AWSPENDING, AWSPREVIOUS).
func (e *Env) Value(t testing.TB, arn, stage string) secret.Value {
	t.Helper()
	v, err := e.TryValue(t.Context(), arn, "", stage)
	if err != nil {
		t.Fatalf("rotationtest: read %s of %s: %v", stage, arn, err)
	}
	return v
}

// TryValue reads a version by ID and/or stage.
func (e *Env) TryValue(ctx context.Context, arn, versionID, stage string) (secret.Value, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := e.SM.GetSecretValue(ctx, in)
	if err != nil {
		return secret.Value{}, err
	}
	return secret.Parse([]byte(aws.ToString(out.SecretString)))
}

// Stages returns the secret's version IDs and their staging labels.
func (e *Env) Stages(t testing.TB, arn string) map[string][]string {
	t.Helper()
	out, err := e.SM.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatalf("rotationtest: describe %s: %v", arn, err)
	}
	return out.VersionIdsToStages
}

// AllValues returns every stored value of the secret (every version with a
// value, labelled or not): the set of credentials the secret still "holds".
func (e *Env) AllValues(t testing.TB, arn string) []secret.Value {
	t.Helper()
	vals, err := StoredValues(t.Context(), e.SM, arn)
	if err != nil {
		t.Fatalf("rotationtest: stored values of %s: %v", arn, err)
	}
	return vals
}

// StoredValues returns every version of the secret that holds a value,
// labelled or deprecated; a valueless AWSPENDING placeholder is skipped.
func StoredValues(ctx context.Context, sm *secretsmanager.Client, arn string) ([]secret.Value, error) {
	out, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	var vals []secret.Value
	for _, v := range out.Versions {
		got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: v.VersionId})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read version %s: %w", aws.ToString(v.VersionId), err)
		}
		val, err := secret.Parse([]byte(aws.ToString(got.SecretString)))
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", aws.ToString(v.VersionId), err)
		}
		vals = append(vals, val)
	}
	return vals, nil
}

// NewToken returns a random 64-character hex string (a RotationToken or a
// canary value).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AssertNoLeak fails the test if any of values appears in text.
func AssertNoLeak(t testing.TB, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("%s contains a secret value (%d characters)", what, len(v))
		}
	}
}

// SyncBuffer is an io.Writer safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

var _ io.Writer = (*SyncBuffer)(nil)

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
