// Package rotatortest is the conformance kit for rotators, in the spirit of
// Vault's dbplugin/v5/testing: one suite that every rotator runs through a
// small Adapter (a fresh credential on a live target, a login check, the
// strategy's promises), driving it only through the real engine
// (shared/rotation) and the Secrets Manager emulator (test/rotationtest), never
// by calling its methods directly.
//
// Run checks, for one adapter: a happy path of several rotations; each step
// invoked twice, in a first and a second rotation; each step retried, and the
// whole sequence retried, after a Secrets Manager failure injected at each of
// its calls (refused, or applied with its response lost); hostile
// identifiers refused with no change; and, at every observation point of all
// of these, the protocol invariants of test/chaos: AWSCURRENT authenticates
// (AWSPENDING inside a single-user window), AWSPREVIOUS does at rest when the
// strategy keeps it, and no credential is live on the target that no stored
// version holds. Every error and every engine log line is scanned for every
// secret value. It reports logins and failed logins.
//
// It is test infrastructure: production code must never import it.
package rotatortest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// Adapter is what a rotator gives the kit.
type Adapter struct {
	// Name names the adapter in test names and reports (e.g. "postgres-single").
	Name string
	// SingleUser: setSecret changes the one credential, so from then until
	// finishSecret moves AWSCURRENT the pending value authenticates instead
	// (AWS's single-user window).
	SingleUser bool
	// KeepsPrevious: AWSPREVIOUS keeps authenticating after a rotation
	// (alternating users, API keys, dual password).
	KeepsPrevious bool
	// New makes a fresh credential on a live target for one case. Its
	// resources are released when t ends.
	New func(t testing.TB) *Target
	// IdentifierKeys are the secret keys whose values name something on the
	// target (a user, a key ID). Each is set to each hostile identifier in
	// turn; the rotation must fail and change nothing. Empty skips the
	// hostile cases (a secret with no target).
	IdentifierKeys []string
}

// Target is one fresh credential on a live target, ready to rotate.
type Target struct {
	// Rotators routes the secret to the rotator under test.
	Rotators *rotators.Registry
	// Value is the starting secret, stored as AWSCURRENT.
	Value secret.Value
	// Master, when set, is stored as its own secret and named by Value's
	// masterarn.
	Master *secret.Value
	// Bind, when set, is called with the stored secret's ARN and returns the
	// starting value to store in its place (for targets whose credentials
	// are named after the secret); ok=false keeps the stored one.
	Bind func(arn string, v secret.Value) (secret.Value, bool)
	// Login returns nil when v's credentials authenticate on the target, and
	// an error (holding no secret value) when they do not.
	Login func(ctx context.Context, v secret.Value) error
	// Credentials, when set, lists the accounts the strategy manages that are
	// live on the target now (user names, key IDs): each must be held by a
	// stored version.
	Credentials func(ctx context.Context) ([]string, error)
	// Holds, when set, reports whether the stored value v holds account's
	// live credential; by default v's username is account and v logs in.
	Holds func(ctx context.Context, account string, v secret.Value) (bool, error)
	// Stats, when set, returns the rotator's own login counters so far.
	Stats func() Stats
}

// Stats counts logins.
type Stats struct {
	Logins       int64 // attempts
	FailedLogins int64 // attempts the target refused
}

// Result is what a run of the kit observed.
type Result struct {
	Cases        int   // cases run
	Observations int   // observation points checked
	Violations   int   // invariant violations (each also failed the test)
	Rotator      Stats // the rotator's own logins, when the adapter counts them
	Checks       Stats // the kit's logins to check the invariants
	// HappySMCalls and HappyLogins are the engine's Secrets Manager calls and
	// the rotator's logins of one rotation on the happy path (its budget).
	HappySMCalls int
	HappyLogins  Stats
}

// String summarizes r for the test log.
func (r Result) String() string {
	return fmt.Sprintf("%d cases, %d observations, %d violations; rotator logins %d (%d failed); check logins %d (%d refused); happy rotation: %d Secrets Manager calls, %d logins (%d failed)",
		r.Cases, r.Observations, r.Violations, r.Rotator.Logins, r.Rotator.FailedLogins, r.Checks.Logins, r.Checks.FailedLogins,
		r.HappySMCalls, r.HappyLogins.Logins, r.HappyLogins.FailedLogins)
}

// Hostile are the identifiers every rotator must refuse without changing
// anything: quotes, a NUL, a newline, a statement separator, a path and an
// overlong name.
var Hostile = []string{
	`kit'quote`,
	`kit"dquote`,
	"kit\x00nul",
	"kit\nline",
	"kit; DROP ROLE postgres",
	"../../kit",
	strings.Repeat("k", 300),
}

// Case is one case of the kit. Cases only reports failures through t, so it
// can run under a testing.TB that records them (the kit's own tests run a
// broken rotator this way).
type Case struct {
	Name string
	Run  func(t testing.TB, r *Result)
}

// Run runs every case of the kit for a as subtests and logs the result.
func Run(t *testing.T, a Adapter) Result {
	t.Helper()
	var r Result
	for _, c := range Cases(t, a) {
		t.Run(c.Name, func(t *testing.T) { c.Run(t, &r) })
	}
	t.Logf("conformance %s: %s", a.Name, r)
	return r
}

// retries returns the retry modes of the fault cases: a Lambda retry of the
// failed step, and Secrets Manager's retry of the whole sequence. The fast
// tier (go test -short, make test-short) plays the first only; make test
// plays both.
func retries() []chaos.Retry {
	if testing.Short() {
		return []chaos.Retry{chaos.RetryStep}
	}
	return []chaos.Retry{chaos.RetryStep, chaos.RetrySequence}
}

// Cases lists the kit's cases for a. Finding the fault points runs one
// rotation under t.
func Cases(t testing.TB, a Adapter) []Case {
	t.Helper()
	k := &kit{a: a}
	out := []Case{
		{Name: "happy-path", Run: k.happy},
		{Name: "each-step-twice", Run: k.twice},
	}
	calls := chaos.Discover(t, k.strategy(&Result{}))
	// With ROTARY_CHAOS=full, throttled calls too.
	for _, s := range chaos.Enumerate(calls, nil, retries(), chaos.Full()) {
		out = append(out, Case{Name: "fault/" + s.String(), Run: func(t testing.TB, r *Result) { k.fault(t, r, s) }})
	}
	for _, key := range a.IdentifierKeys {
		for i, h := range Hostile {
			out = append(out, Case{Name: fmt.Sprintf("hostile/%s/%d", key, i), Run: func(t testing.TB, r *Result) { k.hostile(t, r, key, h) }})
		}
	}
	return out
}

type kit struct {
	a Adapter
}

// prepared is one case's emulator, secret and target.
type prepared struct {
	env    *rotationtest.Env
	arn    string
	tg     *Target
	check  *checkTarget
	values []string // secret values seen, for the leak scan
	errs   []string // errors seen, for the leak scan
}

var seq atomic.Int64

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9/_+=.@-]`)

// prepare makes a fresh target and stores its secret.
func (k *kit) prepare(t testing.TB, opts rotationtest.Options) *prepared {
	t.Helper()
	return k.prepareTarget(t, opts, k.a.New(t))
}

// prepareTarget stores tg's secret in a fresh emulator.
func (k *kit) prepareTarget(t testing.TB, opts rotationtest.Options, tg *Target) *prepared {
	t.Helper()
	if tg == nil || tg.Rotators == nil || tg.Login == nil {
		t.Fatalf("rotatortest: adapter %s: New must return a Target with Rotators and Login", k.a.Name)
	}
	env := rotationtest.New(t, tg.Rotators, opts)
	name := fmt.Sprintf("kit/%s-%d-%d", unsafeName.ReplaceAllString(k.a.Name, "_"), os.Getpid(), seq.Add(1))
	p := &prepared{env: env, tg: tg, check: &checkTarget{tg: tg}}
	v := tg.Value.Clone()
	if tg.Master != nil {
		v.MasterARN = env.CreateSecret(t, name+"-master", *tg.Master)
		p.values = append(p.values, tg.Master.Secrets()...)
	}
	p.arn = env.CreateSecret(t, name, v)
	if tg.Bind != nil {
		if nv, ok := tg.Bind(p.arn, v); ok {
			putValue(t, env, p.arn, nv)
		}
	}
	p.values = append(p.values, v.Secrets()...)
	return p
}

// chaosTarget returns the chaos view of p's target.
func (p *prepared) chaosTarget() chaos.Target {
	if p.tg.Holds != nil {
		return holdingTarget{p.check}
	}
	return p.check
}

// strategy is a as a chaos strategy; each case it prepares is left in *last.
func (k *kit) strategy(r *Result, last ...**prepared) chaos.Strategy {
	return chaos.Strategy{
		Name:          k.a.Name,
		SingleUser:    k.a.SingleUser,
		KeepsPrevious: k.a.KeepsPrevious,
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			p := k.prepare(t, opts)
			for _, l := range last {
				*l = p
			}
			return &chaos.Case{Env: p.env, ARN: p.arn, Target: p.chaosTarget()}
		},
	}
}

// checker returns a checker of p's invariants.
func (k *kit) checker(p *prepared) *chaos.Checker {
	return &chaos.Checker{SM: p.env.SM, ARN: p.arn, Target: p.chaosTarget(), KeepsPrevious: k.a.KeepsPrevious}
}

// finish reports ck's violations, scans for leaks and adds to r.
func (k *kit) finish(t testing.TB, r *Result, p *prepared, violations []string, observed int) {
	t.Helper()
	r.Cases++
	r.Observations += observed
	for _, v := range violations {
		r.Violations++
		t.Errorf("%s: invariant violated: %s", k.a.Name, v)
	}
	k.scan(t, p)
	r.Checks.Logins += p.check.logins.Load()
	r.Checks.FailedLogins += p.check.failed.Load()
	if p.tg.Stats != nil {
		s := p.tg.Stats()
		r.Rotator.Logins += s.Logins
		r.Rotator.FailedLogins += s.FailedLogins
	}
}

// scan fails t if any secret value stored or seen appears in the engine's
// logs, an error or a failed rotation's record.
func (k *kit) scan(t testing.TB, p *prepared) {
	t.Helper()
	values := slices.Clone(p.values)
	if stored, err := rotationtest.StoredValues(t.Context(), p.env.SM, p.arn); err == nil {
		for _, v := range stored {
			values = append(values, v.Secrets()...)
		}
	} else {
		t.Errorf("%s: leak scan: %v", k.a.Name, err)
	}
	logs := p.env.Logs()
	if logs == "" {
		t.Errorf("%s: the engine logged nothing: the leak scan would prove nothing", k.a.Name)
	}
	rotationtest.AssertNoLeak(t, "engine logs", logs, values...)
	for _, e := range p.errs {
		rotationtest.AssertNoLeak(t, "a step's error", e, values...)
	}
	for _, run := range p.env.AWS.Rotations(p.arn) {
		rotationtest.AssertNoLeak(t, "a recorded rotation failure", run.Error, values...)
	}
}

// step runs one step, recording its error.
func (p *prepared) step(t testing.TB, token, step string) error {
	t.Helper()
	err := p.env.Step(t, p.arn, token, step)
	if err != nil {
		p.errs = append(p.errs, err.Error())
	}
	return err
}

// rotate runs a whole rotation, recording its error.
func (p *prepared) rotate(t testing.TB) error {
	t.Helper()
	err := p.env.Rotate(t, p.arn)
	if err != nil {
		p.errs = append(p.errs, err.Error())
	}
	return err
}

// happyRotations is how many rotations the happy path runs: the second
// alternates back to the first user, the third revokes the first key.
const happyRotations = 3

// happy runs rotations step by step, observing after every step.
func (k *kit) happy(t testing.TB, r *Result) {
	t.Helper()
	p := k.prepare(t, rotationtest.Options{})
	ck := k.checker(p)
	ctx := t.Context()
	ck.Observe(ctx, "at the start", true)
	for i := range happyRotations {
		before := p.stats()
		p.env.ResetSMCalls()
		token := p.env.Begin(t, p.arn)
		ck.Token = token
		ck.Observe(ctx, fmt.Sprintf("rotation %d: after RotateSecret", i+1), false)
		for _, step := range chaos.Steps {
			if k.a.SingleUser && step == localaws.StepSet {
				ck.Gap = true
			}
			if err := p.step(t, token, step); err != nil {
				ck.Violate("rotation %d: %s failed on the happy path: %v", i+1, step, err)
			}
			ck.Observe(ctx, fmt.Sprintf("rotation %d: after %s", i+1, step), false)
		}
		ck.Gap = false
		if !ck.IsCurrent(ctx, token) {
			ck.Violate("rotation %d: the pending version did not become AWSCURRENT", i+1)
		}
		ck.Observe(ctx, fmt.Sprintf("after rotation %d", i+1), true)
		if i == happyRotations-1 {
			after := p.stats()
			r.HappySMCalls = p.env.SMCalls()
			r.HappyLogins = Stats{Logins: after.Logins - before.Logins, FailedLogins: after.FailedLogins - before.FailedLogins}
		}
	}
	k.finish(t, r, p, ck.Violations, ck.Observed)
}

// stats returns the rotator's counters, zero when it has none.
func (p *prepared) stats() Stats {
	if p.tg.Stats == nil {
		return Stats{}
	}
	return p.tg.Stats()
}

// twiceRounds is how many rotations the each-step-twice case runs with every
// step invoked twice: the first from the starting secret (alternating users:
// the clone does not exist yet; API keys: no AWSPREVIOUS), the second with
// what the first left (the clone exists; a key to revoke).
const twiceRounds = 2

// twice invokes each step twice with the same token, observing after each,
// for twiceRounds rotations; each must move AWSCURRENT to its token and
// change the credential. A later plain rotation must succeed.
func (k *kit) twice(t testing.TB, r *Result) {
	t.Helper()
	p := k.prepare(t, rotationtest.Options{})
	ck := k.checker(p)
	ctx := t.Context()
	for round := 1; round <= twiceRounds; round++ {
		before, err := chaos.ReadValue(ctx, p.env.SM, p.arn, "", "AWSCURRENT")
		if err != nil {
			ck.Violate("round %d: AWSCURRENT unreadable: %v", round, err)
		}
		token := p.env.Begin(t, p.arn)
		ck.Token = token
		for _, step := range chaos.Steps {
			if k.a.SingleUser && step == localaws.StepSet {
				ck.Gap = true
			}
			for n := 1; n <= 2; n++ {
				if err := p.step(t, token, step); err != nil {
					ck.Violate("round %d: %s, call %d: %v", round, step, n, err)
				}
				ck.Observe(ctx, fmt.Sprintf("round %d: after %s, call %d", round, step, n), false)
			}
		}
		ck.Gap = false
		if !ck.IsCurrent(ctx, token) {
			ck.Violate("round %d: the pending version did not become AWSCURRENT", round)
		}
		if after, err := chaos.ReadValue(ctx, p.env.SM, p.arn, "", "AWSCURRENT"); err == nil && sameCredential(before, after) {
			ck.Violate("round %d: AWSCURRENT holds the same credential as before the rotation", round)
		}
		ck.Observe(ctx, fmt.Sprintf("after round %d", round), true)
	}
	if err := p.rotate(t); err != nil {
		ck.Violate("a later rotation failed: %v", err)
	}
	ck.Observe(ctx, "after a later rotation", true)
	k.finish(t, r, p, ck.Violations, ck.Observed)
}

// sameCredential reports whether two values hold the same user and the same
// secret values (password, API key, …).
func sameCredential(a, b secret.Value) bool {
	return a.Username == b.Username && slices.Equal(a.Secrets(), b.Secrets())
}

// fault plays one chaos schedule: a Secrets Manager failure at one call of
// one step, then retries until the rotation completes.
func (k *kit) fault(t testing.TB, r *Result, s chaos.Schedule) {
	t.Helper()
	var p *prepared
	res := chaos.Run(t, k.strategy(r, &p), s)
	p.errs = append(p.errs, res.Errors...)
	k.finish(t, r, p, res.Violations, res.Observed)
}

// hostile stores a secret whose identifier key holds h: the rotation must
// fail, the target and the stored versions must not change, and the starting
// credential must still log in.
func (k *kit) hostile(t testing.TB, r *Result, key, h string) {
	t.Helper()
	ctx := t.Context()
	tg := k.a.New(t)
	orig := tg.Value.Clone()
	setKey(&tg.Value, key, h)
	if bind := tg.Bind; bind != nil {
		tg.Bind = func(arn string, v secret.Value) (secret.Value, bool) {
			nv, ok := bind(arn, v)
			setKey(&nv, key, h)
			return nv, ok
		}
	}
	// The target's accounts are compared by name before and after, not
	// matched to stored versions: the stored version names the hostile
	// identifier.
	creds := tg.Credentials
	tg.Credentials, tg.Holds = nil, nil
	p := k.prepareTarget(t, rotationtest.Options{}, tg)
	var violations []string
	var before []string
	if creds != nil {
		var err error
		if before, err = creds(ctx); err != nil {
			t.Fatalf("rotatortest: list credentials: %v", err)
		}
		slices.Sort(before)
	}
	stages := p.env.Stages(t, p.arn)
	if err := p.rotate(t); err == nil {
		violations = append(violations, fmt.Sprintf("a rotation of a secret whose %s is %q succeeded", key, clip(h)))
	}
	if after := p.env.Stages(t, p.arn); !sameStages(stages, after) {
		violations = append(violations, fmt.Sprintf("the refused rotation moved a staging label: %v -> %v", stages, after))
	}
	if err := p.check.login(ctx, orig); err != nil {
		violations = append(violations, fmt.Sprintf("the starting credential stopped logging in: %v", err))
	}
	if creds != nil {
		after, err := creds(ctx)
		if err != nil {
			t.Fatalf("rotatortest: list credentials: %v", err)
		}
		slices.Sort(after)
		if !slices.Equal(before, after) {
			violations = append(violations, fmt.Sprintf("the target's accounts changed: %q -> %q", before, after))
		}
	}
	p.values = append(p.values, orig.Secrets()...)
	k.finish(t, r, p, violations, 1)
}

// sameStages reports whether no label moved, ignoring the AWSPENDING
// placeholder a failed rotation leaves (it holds no value).
func sameStages(a, b map[string][]string) bool {
	labels := func(m map[string][]string) map[string]string {
		out := map[string]string{}
		for id, ls := range m {
			for _, l := range ls {
				if l != "AWSPENDING" {
					out[l] = id
				}
			}
		}
		return out
	}
	la, lb := labels(a), labels(b)
	if len(la) != len(lb) {
		return false
	}
	for l, id := range la {
		if lb[l] != id {
			return false
		}
	}
	return true
}

// clip shortens an identifier for a message.
func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// checkTarget is a Target seen by the chaos checker, counting its logins.
type checkTarget struct {
	tg             *Target
	logins, failed atomic.Int64
}

func (c *checkTarget) login(ctx context.Context, v secret.Value) error {
	c.logins.Add(1)
	err := c.tg.Login(ctx, v)
	if err != nil {
		c.failed.Add(1)
	}
	return err
}

// Authenticates implements chaos.Target.
func (c *checkTarget) Authenticates(ctx context.Context, v secret.Value) (bool, error) {
	return c.login(ctx, v) == nil, nil
}

// Users implements chaos.Target.
func (c *checkTarget) Users(ctx context.Context) ([]string, error) {
	if c.tg.Credentials == nil {
		return nil, nil
	}
	return c.tg.Credentials(ctx)
}

// holdingTarget is a checkTarget whose accounts are matched by Target.Holds.
type holdingTarget struct{ *checkTarget }

// Holds implements chaos.Holder.
func (h holdingTarget) Holds(ctx context.Context, account string, v secret.Value) (bool, error) {
	return h.tg.Holds(ctx, account, v)
}

// putValue stores v as the secret's new AWSCURRENT.
func putValue(t testing.TB, env *rotationtest.Env, arn string, v secret.Value) {
	t.Helper()
	_, err := env.SM.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(v.StoredJSON())})
	if err != nil {
		t.Fatalf("rotatortest: store the bound value: %v", err)
	}
}

// setKey sets key of v to s: the username field or an extra key.
func setKey(v *secret.Value, key, s string) {
	if key == secret.KeyUsername {
		v.Username = s
		return
	}
	v.Set(key, s)
}
