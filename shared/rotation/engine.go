package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Staging labels.
const (
	StageCurrent  = "AWSCURRENT"
	StagePending  = "AWSPENDING"
	StagePrevious = "AWSPREVIOUS"
)

// SecretsManagerAPI is the part of *secretsmanager.Client the engine uses.
type SecretsManagerAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	GetRandomPassword(ctx context.Context, in *secretsmanager.GetRandomPasswordInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error)
}

// Clients gives the Secrets Manager client for a secret: in central mode one
// acting in the secret's account through an assumed role, in per-account mode
// the function's own. token is the event's ClientRequestToken (for the role
// session name); it is not secret.
type Clients interface {
	SecretsManager(ctx context.Context, secretID, token string) (SecretsManagerAPI, error)
}

// ClientsFunc adapts a function to Clients.
type ClientsFunc func(ctx context.Context, secretID, token string) (SecretsManagerAPI, error)

// SecretsManager implements Clients.
func (f ClientsFunc) SecretsManager(ctx context.Context, secretID, token string) (SecretsManagerAPI, error) {
	return f(ctx, secretID, token)
}

// Static returns Clients that always give api.
func Static(api SecretsManagerAPI) Clients {
	return ClientsFunc(func(context.Context, string, string) (SecretsManagerAPI, error) { return api, nil })
}

// Password sources, the values of PASSWORD_SOURCE.
const (
	PasswordSourceLocal          = "local"
	PasswordSourceSecretsManager = "secretsmanager"
)

// Config configures an Engine.
type Config struct {
	Clients   Clients            // required
	Rotators  *rotators.Registry // required: routes a secret to its rotator
	Logger    *slog.Logger       // default: discard
	Metrics   *logging.Metrics   // default: none
	Passwords string             // PasswordSourceLocal (default) or PasswordSourceSecretsManager
	Now       func() time.Time   // default: time.Now
	Local     password.Generator // default: password.Local{}
	// CleanupReserve is kept back from the Lambda deadline: a rotator's
	// Create, Set, Test and Finish get a context ending that long before it,
	// so cleanup (Discard) and the failure log still run. Default
	// DefaultCleanupReserve; see CleanupReserveFromEnv.
	CleanupReserve time.Duration
}

// Engine runs rotation steps. It holds no secret values and is safe for
// concurrent use; one Engine serves every invocation of a warm function.
type Engine struct {
	cfg         Config
	anyFinisher bool
	// engines are the engine names rotators are registered under, the only
	// values the engine label of logs and metrics takes (else "unknown").
	engines map[string]bool
	// routes remembers, per in-flight rotation, the engine name and whether its
	// rotator has finish work (neither is secret), so finishSecret can label
	// its metrics and skip reading the pending value when nothing needs it.
	// A miss (another warm container ran the earlier steps) costs one read.
	routes     sync.Map // secretARN + "/" + token -> route
	routeCount atomic.Int64
}

type route struct {
	engine   string
	finisher bool
}

// maxRemembered bounds Engine.routes; past it the map is emptied (a miss is
// only one more read).
const maxRemembered = 10000

func (e *Engine) rememberRoute(arn, token string, r route) {
	if _, loaded := e.routes.Swap(arn+"/"+token, r); !loaded {
		if e.routeCount.Add(1) > maxRemembered {
			e.routes.Clear()
			e.routeCount.Store(0)
		}
	}
}

func (e *Engine) recallRoute(arn, token string) (route, bool) {
	v, ok := e.routes.LoadAndDelete(arn + "/" + token)
	if !ok {
		return route{}, false
	}
	e.routeCount.Add(-1)
	return v.(route), true
}

// New checks cfg and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Clients == nil {
		return nil, errors.New("rotation: Config.Clients is required")
	}
	if cfg.Rotators == nil || len(cfg.Rotators.Engines()) == 0 {
		return nil, errors.New("rotation: Config.Rotators must register at least one rotator")
	}
	switch cfg.Passwords {
	case "":
		cfg.Passwords = PasswordSourceLocal
	case PasswordSourceLocal, PasswordSourceSecretsManager:
	default:
		return nil, fmt.Errorf("rotation: %s must be %q or %q", password.EnvSource, PasswordSourceLocal, PasswordSourceSecretsManager)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Local == nil {
		cfg.Local = password.Local{}
	}
	switch {
	case cfg.CleanupReserve == 0:
		cfg.CleanupReserve = DefaultCleanupReserve
	case cfg.CleanupReserve < 0:
		return nil, fmt.Errorf("rotation: %w: CleanupReserve must not be negative", ErrConfig)
	}
	engines := map[string]bool{}
	for _, name := range cfg.Rotators.Engines() {
		if name != rotators.AnyEngine && logging.EngineLabel(name) == name {
			engines[name] = true
		}
	}
	return &Engine{cfg: cfg, anyFinisher: cfg.Rotators.AnyFinisher(), engines: engines}, nil
}

// engineLabel returns the registered engine name a secret's engine key
// selects (engine keys match without regard to case), or "unknown": the
// secret's own string never reaches a log attribute or a metric dimension.
func (e *Engine) engineLabel(engine string) string {
	if len(engine) <= 32 {
		if name := strings.ToLower(engine); e.engines[name] {
			return name
		}
	}
	return logging.Unknown
}

// Handle runs one step. It is the Lambda handler: pass it to lambda.Start.
// Errors are *StepError values with secret-free messages.
func (e *Engine) Handle(ctx context.Context, raw events.SecretsManagerSecretRotationEvent) (err error) {
	start := e.cfg.Now()
	r := &run{e: e, limits: newDeadlines(ctx, e.cfg.CleanupReserve)}
	if raw.RotationToken != "" {
		r.addSecrets(raw.RotationToken)
	}
	ev, verr := ParseEvent(raw)
	step := ev.Step
	if verr != nil {
		step = "invalid"
	}
	r.ev = ev
	r.arn = ev.SecretID
	if verr != nil {
		r.arn = "(invalid event)"
	}
	r.setAccount()
	ctx = logging.WithSecrets(ctx, raw.RotationToken)
	log := e.cfg.Logger.With(slog.String("step", step))
	log.InfoContext(ctx, "rotation step started", r.attrs()...)
	defer func() {
		if p := recover(); p != nil {
			// A panic's value may hold anything; keep only its scrubbed text.
			err = fmt.Errorf("panic in %s: %s", step, r.scrub(fmt.Sprint(p)))
			log.ErrorContext(ctx, "panic", slog.String("stack", r.scrub(string(debug.Stack()))))
		}
		dur := e.cfg.Now().Sub(start)
		if err != nil {
			err = &StepError{Step: step, SecretARN: r.arn, Err: redact(err, r.secretList())}
		}
		attrs := append(r.attrs(), slog.Float64("durationMs", float64(dur.Microseconds())/1000))
		if err != nil {
			attrs = append(attrs, slog.String("outcome", logging.OutcomeFailed), slog.String("error", err.Error()))
			log.ErrorContext(logging.WithSecrets(ctx, r.secretList()...), "rotation step failed", attrs...)
		} else {
			attrs = append(attrs, slog.String("outcome", r.outcome()))
			log.InfoContext(logging.WithSecrets(ctx, r.secretList()...), "rotation step finished", attrs...)
		}
		if verr == nil {
			outcome := r.outcome()
			if err != nil {
				outcome = logging.OutcomeFailed
			}
			e.cfg.Metrics.Step(logging.StepResult{
				Engine: r.engine, Step: step, Account: r.account, Outcome: outcome, Duration: dur,
				Failed: err != nil, Rotated: err == nil && r.rotated,
			}, e.cfg.Now())
		}
	}()
	if verr != nil {
		return verr
	}
	sm, cerr := e.cfg.Clients.SecretsManager(ctx, ev.SecretID, ev.ClientRequestToken)
	if cerr != nil {
		return fmt.Errorf("get Secrets Manager client: %w", cerr)
	}
	r.sm = sm
	switch ev.Step {
	case StepCreate:
		return r.create(ctx)
	case StepSet:
		return r.set(ctx)
	case StepTest:
		return r.test(ctx)
	default:
		return r.finish(ctx)
	}
}

// run is the state of one invocation. It lives for one Handle call only.
type run struct {
	e         *Engine
	ev        Event
	sm        SecretsManagerAPI
	arn       string
	partition string
	account   string
	region    string
	engine    string
	note      string // outcome detail, e.g. "already current"
	rotated   bool
	limits    deadlines

	mu      sync.Mutex
	secrets []string
}

func (r *run) attrs() []any {
	a := []any{
		slog.String("secretArn", r.arn),
		slog.String("clientRequestToken", r.ev.ClientRequestToken),
	}
	if r.account != "" {
		a = append(a, slog.String("account", r.account), slog.String("region", r.region))
	}
	if r.engine != "" {
		a = append(a, slog.String("engine", r.engine))
	}
	return a
}

func (r *run) outcome() string {
	if r.note != "" {
		return r.note
	}
	return logging.OutcomeSucceeded
}

// setAccount records the rotated secret's partition, account and region from
// its ARN, when it is a valid secret ARN (a bare name, possible in account
// mode, leaves them empty until the service returns the ARN).
func (r *run) setAccount() {
	r.partition, r.account, r.region = "", "", ""
	if loc, err := awsx.ParseSecretARN(r.arn); err == nil {
		r.partition, r.account, r.region = loc.Partition, loc.Account, loc.Region
	}
}

// confine refuses a secret reference (the masterarn key of a value handed to
// a rotator) that is not a valid secret ARN in the rotated secret's own
// partition and account. It makes no call: it runs before any client is made
// or any request sent for the reference.
func (r *run) confine(values ...secret.Value) error {
	for _, v := range values {
		if v.MasterARN == "" {
			continue
		}
		if err := r.confineRef(secret.KeyMasterARN, v.MasterARN); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) confineRef(key, ref string) error {
	loc, err := awsx.ParseSecretARN(ref)
	if err != nil {
		return fmt.Errorf("%w: key %q must be the full ARN of a secret in the rotated secret's own account: %w", ErrForeignSecret, key, err)
	}
	if r.partition == "" || r.account == "" {
		return fmt.Errorf("%w: key %q cannot be checked against the rotated secret's own account, which is unknown (invoke with the secret's full ARN)", ErrForeignSecret, key)
	}
	if loc.Partition != r.partition || loc.Account != r.account {
		return fmt.Errorf("%w: key %q names a secret in account %s (partition %s); it must be in the rotated secret's own account %s (partition %s)",
			ErrForeignSecret, key, loc.Account, loc.Partition, r.account, r.partition)
	}
	return nil
}

func (r *run) learnARN(s *string) {
	if s != nil && *s != "" && *s != r.arn {
		r.arn = *s
		r.setAccount()
	}
}

func (r *run) addSecrets(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if v != "" && !slices.Contains(r.secrets, v) {
			r.secrets = append(r.secrets, v)
		}
	}
}

func (r *run) secretList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.secrets)
}

func (r *run) scrub(s string) string { return logging.ScrubValues(s, r.secretList()) }

// describe reads the secret's metadata and checks that rotation is enabled.
func (r *run) describe(ctx context.Context) (*secretsmanager.DescribeSecretOutput, error) {
	d, err := r.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.ev.SecretID)})
	if err != nil {
		return nil, fmt.Errorf("describe secret: %w", err)
	}
	r.learnARN(d.ARN)
	if !aws.ToBool(d.RotationEnabled) {
		return nil, ErrRotationDisabled
	}
	return d, nil
}

// tokenState classifies the event's token from DescribeSecret's stage map:
// done is true when the token's version is already AWSCURRENT.
func (r *run) tokenState(d *secretsmanager.DescribeSecretOutput) (done bool, err error) {
	stages, ok := d.VersionIdsToStages[r.ev.ClientRequestToken]
	if !ok {
		return false, fmt.Errorf("%w: no version has this token", ErrVersionNotPending)
	}
	if slices.Contains(stages, StageCurrent) {
		r.note = logging.OutcomeAlreadyCurrent
		return true, nil
	}
	if !slices.Contains(stages, StagePending) {
		return false, fmt.Errorf("%w: the version is not staged AWSPENDING", ErrVersionNotPending)
	}
	return false, nil
}

// read reads and parses one version, selected by version ID and/or stage.
func (r *run) read(ctx context.Context, versionID, stage string) (secret.Value, []string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.ev.SecretID)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	return r.readInput(ctx, in, stage)
}

func (r *run) readInput(ctx context.Context, in *secretsmanager.GetSecretValueInput, label string) (secret.Value, []string, error) {
	out, err := r.sm.GetSecretValue(ctx, in)
	if err != nil {
		return secret.Value{}, nil, fmt.Errorf("read %s value: %w", label, err)
	}
	if out.SecretString == nil {
		return secret.Value{}, nil, fmt.Errorf("read %s value: the secret has no SecretString (binary secrets are not supported)", label)
	}
	r.addSecrets(*out.SecretString)
	r.learnARN(out.ARN)
	v, err := secret.Parse([]byte(*out.SecretString))
	if err != nil {
		return secret.Value{}, nil, fmt.Errorf("parse %s value: %w", label, err)
	}
	r.addSecrets(v.Secrets()...)
	if r.engine == "" {
		r.engine = r.e.engineLabel(v.Engine)
	}
	return v, out.VersionStages, nil
}

// loader returns a Loader for a stage of this secret; a missing version is ok=false.
func (r *run) loader(versionID, stage string) rotators.Loader {
	return func(ctx context.Context) (secret.Value, bool, error) {
		v, _, err := r.read(ctx, versionID, stage)
		if isNotFound(err) {
			return secret.Value{}, false, nil
		}
		if err != nil {
			return secret.Value{}, false, err
		}
		return v, true, nil
	}
}

// masterLoader reads the secret named by the value's masterarn key, through the
// client for that secret's account.
func (r *run) masterLoader(v secret.Value) rotators.Loader {
	return func(ctx context.Context) (secret.Value, bool, error) {
		if v.MasterARN == "" {
			return secret.Value{}, false, nil
		}
		// Checked before any client is made or call sent for it.
		if err := r.confineRef(secret.KeyMasterARN, v.MasterARN); err != nil {
			return secret.Value{}, false, err
		}
		sm, err := r.e.cfg.Clients.SecretsManager(ctx, v.MasterARN, r.ev.ClientRequestToken)
		if err != nil {
			return secret.Value{}, false, fmt.Errorf("master secret: get client: %w", err)
		}
		master := &run{e: r.e, ev: Event{SecretID: v.MasterARN}, sm: sm, engine: "-"}
		mv, _, err := master.readInput(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(v.MasterARN)}, "master secret's AWSCURRENT")
		r.addSecrets(master.secretList()...)
		if err != nil {
			return secret.Value{}, false, err
		}
		return mv, true, nil
	}
}

// readPending reads the token's AWSPENDING version for setSecret and testSecret.
// done is true when the token is already AWSCURRENT. When the version cannot be
// read, DescribeSecret tells why (that costs a call only off the happy path).
func (r *run) readPending(ctx context.Context) (v secret.Value, done bool, err error) {
	v, stages, err := r.read(ctx, r.ev.ClientRequestToken, StagePending)
	if err == nil {
		if slices.Contains(stages, StageCurrent) {
			r.note = logging.OutcomeAlreadyCurrent
			return v, true, nil
		}
		return v, false, nil
	}
	var invalid *types.InvalidRequestException
	if !isNotFound(err) && !errors.As(err, &invalid) {
		return v, false, err
	}
	d, derr := r.describe(ctx)
	if derr != nil {
		return v, false, derr
	}
	if done, serr := r.tokenState(d); done || serr != nil {
		return v, done, serr
	}
	return v, false, fmt.Errorf("the AWSPENDING version has no value yet (run createSecret first): %w", err)
}

// maxEngineName bounds the engine key quoted in an error: no engine name is
// that long, and a secret's 10 kB engine string must not flood the log.
const maxEngineName = 64

func (r *run) route(v secret.Value) (rotators.Rotator, error) {
	if len(v.Engine) > maxEngineName {
		return nil, fmt.Errorf("choose rotator: %w: %w", rotators.ErrNoRotator,
			&secret.KeyError{Key: secret.KeyEngine, Problem: fmt.Sprintf("is %d bytes long; no supported engine name is longer than %d", len(v.Engine), maxEngineName)})
	}
	rot, err := r.e.cfg.Rotators.Lookup(v)
	if err != nil {
		return nil, fmt.Errorf("choose rotator: %w", err)
	}
	return rot, nil
}

func (r *run) rotation() rotators.Rotation {
	return rotators.Rotation{SecretARN: r.arn, Token: r.ev.ClientRequestToken}
}

// passwords returns the generator for this rotation.
func (r *run) passwords() password.Generator {
	if r.e.cfg.Passwords == PasswordSourceSecretsManager {
		return smPasswords{r}
	}
	return recordingGenerator{r: r, g: r.e.cfg.Local}
}

type recordingGenerator struct {
	r *run
	g password.Generator
}

func (g recordingGenerator) Generate(ctx context.Context, p password.Policy) (string, error) {
	s, err := g.g.Generate(ctx, p)
	g.r.addSecrets(s)
	return s, err
}

// smPasswords generates passwords with the GetRandomPassword API.
type smPasswords struct{ r *run }

func (g smPasswords) Generate(ctx context.Context, p password.Policy) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	out, err := g.r.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength:          aws.Int64(int64(p.Length)),
		ExcludeCharacters:       aws.String(p.ExcludeCharacters),
		ExcludeNumbers:          aws.Bool(p.ExcludeNumbers),
		ExcludePunctuation:      aws.Bool(p.ExcludePunctuation),
		ExcludeUppercase:        aws.Bool(p.ExcludeUppercase),
		ExcludeLowercase:        aws.Bool(p.ExcludeLowercase),
		IncludeSpace:            aws.Bool(p.IncludeSpace),
		RequireEachIncludedType: aws.Bool(p.RequireEachIncludedType),
	})
	if err != nil {
		return "", fmt.Errorf("GetRandomPassword: %w", err)
	}
	s := aws.ToString(out.RandomPassword)
	g.r.addSecrets(s)
	return s, nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

func isExists(err error) bool {
	var ex *types.ResourceExistsException
	return errors.As(err, &ex)
}
