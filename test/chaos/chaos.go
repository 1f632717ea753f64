package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// Steps are the rotation steps in the order the service invokes them.
var Steps = []string{localaws.StepCreate, localaws.StepSet, localaws.StepTest, localaws.StepFinish}

// EnvMode selects the suite's size: "full" runs every schedule.
const EnvMode = "ROTARY_CHAOS"

// Full reports whether the full suite was asked for (ROTARY_CHAOS=full).
func Full() bool { return strings.EqualFold(strings.TrimSpace(os.Getenv(EnvMode)), "full") }

// Target is the system a strategy changes, observed from outside the rotator.
type Target interface {
	// Authenticates reports whether v's credentials log in to the target.
	// An error means the target could not be asked, not a refused login.
	Authenticates(ctx context.Context, v secret.Value) (bool, error)
	// Users lists the accounts the strategy manages that exist on the target
	// now: each must have its credential held by some stored version.
	Users(ctx context.Context) ([]string, error)
}

// Holder is implemented by a Target whose accounts are not user names (API
// keys listed by key ID): Holds reports whether the stored value v holds the
// live credential of account (by default, v.Username equals account and v
// authenticates).
type Holder interface {
	Holds(ctx context.Context, account string, v secret.Value) (bool, error)
}

// Case is one prepared secret ready for a schedule: a fresh emulator and a
// fresh credential on the target.
type Case struct {
	Env    *rotationtest.Env
	ARN    string
	Target Target
	// Arm arms a database fault for the next statement containing trigger;
	// nil when the strategy has no database. It returns a function
	// reporting how many times the fault fired.
	Arm func(trigger string, when When) (fired func() int)
}

// When says whether a database fault cuts the connection before the
// statement reaches the server or right after it was sent.
type When int

// When values.
const (
	Before When = iota + 1
	After
)

func (w When) String() string {
	if w == Before {
		return "before"
	}
	return "after"
}

// Strategy is one engine and rotation strategy under test.
type Strategy struct {
	Name string
	// New prepares a fresh case (its resources are released when t ends).
	New func(t testing.TB, opts rotationtest.Options) *Case
	// KeepsPrevious: AWSPREVIOUS must authenticate too (alternating users),
	// checked at rest (between rotations).
	KeepsPrevious bool
	// Triggers are the password statements of setSecret, for database
	// faults (empty for targets without a database).
	Triggers []string
	// PreRotations rotates this many times before the schedule, so the
	// schedule hits a later rotation (the clone already exists).
	PreRotations int
	// SingleUser marks a strategy that changes the one user's password in
	// setSecret: from then until finishSecret moves AWSCURRENT, the target
	// holds the pending password, by design (AWS's single-user template has
	// the same window). During that window the checker requires the
	// rotation's AWSPENDING value to authenticate instead of AWSCURRENT;
	// before the first setSecret and at rest AWSCURRENT must.
	SingleUser bool
}

// FaultKind is what a schedule does at its fault point.
type FaultKind string

// Fault kinds.
const (
	SMRefused   FaultKind = "sm-refused"   // the call fails, not applied, beyond SDK retries
	SMLost      FaultKind = "sm-lost"      // the call is applied, its response lost, beyond SDK retries
	SMThrottled FaultKind = "sm-throttled" // one throttle, absorbed by the SDK's retry
	DBDrop      FaultKind = "db-drop"      // the DB connection drops before/after a statement
)

// sdkAttempts is the SDK's default number of attempts per call: a fault that
// fires this many times in a row reaches the engine.
const sdkAttempts = 3

// Retry is how the rotation is retried after a failed step.
type Retry string

// Retry modes.
const (
	// RetrySequence re-drives the whole sequence from createSecret with the
	// same token, as Secrets Manager does.
	RetrySequence Retry = "sequence"
	// RetryStep re-invokes the failed step, then carries on (a Lambda
	// asynchronous retry of one invocation).
	RetryStep Retry = "step"
)

// Schedule is one fault at one point of one rotation, and how it is retried.
type Schedule struct {
	Step    string    // the step during which the fault fires
	Kind    FaultKind // what happens at the fault point
	Op      string    // SM faults: the operation
	Nth     int       // SM faults: which call of Op within the step (1-based)
	Trigger string    // DB faults: the statement
	When    When      // DB faults
	Retry   Retry
}

func (s Schedule) String() string {
	switch s.Kind {
	case DBDrop:
		return fmt.Sprintf("%s/%s-%s-%s/retry-%s", s.Step, s.Kind, s.When, strings.ReplaceAll(s.Trigger, " ", "_"), s.Retry)
	}
	return fmt.Sprintf("%s/%s#%d/%s/retry-%s", s.Step, s.Op, s.Nth, s.Kind, s.Retry)
}

// Counter counts schedules run in a test binary, for the report.
var Counter atomic.Int64

// maxAttempts bounds the retries: the first attempt plus two.
const maxAttempts = 3

// Result is what a schedule observed.
type Result struct {
	Violations  []string // invariant violations, empty when the schedule passed
	Observed    int      // observation points checked
	FaultFailed bool     // the faulted step returned an error
	Fired       int      // DB faults: times the fault fired
	Steps       int      // step invocations
	Errors      []string // every error a step returned, for leak scans
}

// Run plays one schedule against a fresh case of strat and returns what the
// checker saw. It fails t only for harness errors, not for violations.
func Run(t testing.TB, strat Strategy, s Schedule) Result {
	t.Helper()
	Counter.Add(1)
	c := strat.New(t, rotationtest.Options{})
	ck := &Checker{SM: c.Env.SM, ARN: c.ARN, Target: c.Target, KeepsPrevious: strat.KeepsPrevious}
	ctx := t.Context()
	for i := range strat.PreRotations {
		if err := c.Env.Rotate(t, c.ARN); err != nil {
			t.Fatalf("pre-rotation %d: %v", i+1, err)
		}
	}
	ck.Observe(ctx, "before the rotation", true)
	token := c.Env.Begin(t, c.ARN)
	ck.Token = token
	ck.Observe(ctx, "after RotateSecret", false)

	var res Result
	armed := false
	// fire arms the fault for the first invocation of the schedule's step
	// and returns how to disarm it; now reports whether it armed.
	fire := func(step string) (disarm func(), now bool) {
		if armed || step != s.Step {
			return func() {}, false
		}
		armed = true
		switch s.Kind {
		case DBDrop:
			fired := c.Arm(s.Trigger, s.When)
			return func() { res.Fired = fired() }, true
		default:
			f := localaws.Fault{Operation: s.Op, After: s.Nth - 1}
			switch s.Kind {
			case SMRefused:
				f.Kind, f.Count = localaws.InternalError, sdkAttempts
			case SMLost:
				f.Kind, f.Count = localaws.AppliedThenFailed, sdkAttempts
			case SMThrottled:
				f.Kind, f.Count = localaws.Throttle, 1
			}
			c.Env.AWS.InjectFault(f)
			return c.Env.AWS.ClearFaults, true
		}
	}
	done := false
	for attempt := 1; attempt <= maxAttempts && !done; attempt++ {
		failed := false
		for i := 0; i < len(Steps); i++ {
			step := Steps[i]
			disarm, first := fire(step)
			if step == localaws.StepSet && strat.SingleUser {
				ck.Gap = true
			}
			err := c.Env.Step(t, c.ARN, token, step)
			disarm()
			res.Steps++
			if first && err != nil {
				res.FaultFailed = true
			}
			ck.Observe(ctx, fmt.Sprintf("after %s (attempt %d)", step, attempt), false)
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
				if s.Retry == RetryStep && res.Steps < 4*maxAttempts {
					i-- // the same step again
					continue
				}
				failed = true
				break
			}
		}
		done = !failed
	}
	if !ck.IsCurrent(ctx, token) {
		ck.violate("the rotation did not complete after %d attempts: its token is not AWSCURRENT", maxAttempts)
	}
	ck.Gap = false
	ck.Observe(ctx, "after the rotation", true)
	if err := c.Env.Rotate(t, c.ARN); err != nil {
		res.Errors = append(res.Errors, err.Error())
		ck.violate("a later rotation failed: %v", err)
	}
	ck.Observe(ctx, "after a later rotation", true)
	res.Violations = ck.Violations
	res.Observed = ck.Observed
	return res
}

// Checker checks the protocol invariants of a case at observation points.
type Checker struct {
	SM            *secretsmanager.Client // an administrator's client
	ARN           string
	Target        Target
	KeepsPrevious bool
	// Token is the rotation in progress (its pending version's ID).
	Token string
	// Gap is set while a single-user rotation is between setSecret and
	// finishSecret: AWSPENDING must authenticate when AWSCURRENT does not.
	Gap        bool
	Violations []string
	Observed   int
	// GapObservations counts observation points where AWSCURRENT did not
	// authenticate but the pending value did, inside the single-user window.
	GapObservations int
	// AccountsAtRest checks that every account on the target is held by a
	// stored version only at rest: for API keys, a key minted and not yet
	// stored when the process dies exists until the retry stores or
	// revokes it (no step can mint and store atomically).
	AccountsAtRest bool
}

// Violate records a violation.
func (ck *Checker) Violate(format string, args ...any) { ck.violate(format, args...) }

func (ck *Checker) violate(format string, args ...any) {
	ck.Violations = append(ck.Violations, fmt.Sprintf(format, args...))
}

// Observe checks, at one observation point: AWSCURRENT authenticates;
// AWSPREVIOUS too when atRest and the strategy keeps it; every account of the
// target has its credential held by a stored version.
func (ck *Checker) Observe(ctx context.Context, where string, atRest bool) {
	ck.Observed++
	sm, arn := ck.SM, ck.ARN
	tg := &memo{Target: ck.Target, seen: map[[2]string]bool{}}
	cur, err := ReadValue(ctx, sm, arn, "", "AWSCURRENT")
	if err != nil {
		ck.violate("%s: AWSCURRENT unreadable: %v", where, err)
		return
	}
	if ok, err := tg.Authenticates(ctx, cur); err != nil {
		ck.violate("%s: could not check AWSCURRENT: %v", where, err)
	} else if !ok {
		if ck.Gap && ck.pendingAuthenticates(ctx) {
			ck.GapObservations++
		} else {
			ck.violate("%s: AWSCURRENT (user %q) does not authenticate", where, cur.Username)
		}
	}
	if atRest && ck.KeepsPrevious {
		prev, err := ReadValue(ctx, sm, arn, "", "AWSPREVIOUS")
		if err == nil {
			if ok, err := tg.Authenticates(ctx, prev); err != nil {
				ck.violate("%s: could not check AWSPREVIOUS: %v", where, err)
			} else if !ok {
				ck.violate("%s: AWSPREVIOUS (user %q) does not authenticate", where, prev.Username)
			}
		} else if !isNotFound(err) {
			ck.violate("%s: AWSPREVIOUS unreadable: %v", where, err)
		}
	}
	if ck.AccountsAtRest && !atRest {
		return
	}
	users, err := tg.Users(ctx)
	if err != nil {
		ck.violate("%s: could not list the target's accounts: %v", where, err)
		return
	}
	if len(users) == 0 {
		return
	}
	stored, err := rotationtest.StoredValues(ctx, sm, arn)
	if err != nil {
		ck.violate("%s: could not list stored versions: %v", where, err)
		return
	}
	for _, u := range users {
		held := false
		for _, v := range stored {
			var ok bool
			var err error
			if h, isHolder := ck.Target.(Holder); isHolder {
				ok, err = h.Holds(ctx, u, v)
			} else if v.Username != u {
				continue
			} else {
				ok, err = tg.Authenticates(ctx, v)
			}
			if err != nil {
				ck.violate("%s: could not check a stored version of %q: %v", where, u, err)
				held = true
				break
			}
			if ok {
				held = true
				break
			}
		}
		if !held {
			ck.violate("%s: user %q has a credential that no stored version holds", where, u)
		}
	}
}

// memo remembers the logins of one observation point: a value is checked
// once however many labels and versions hold it.
type memo struct {
	Target
	seen map[[2]string]bool
}

func (m *memo) Authenticates(ctx context.Context, v secret.Value) (bool, error) {
	k := [2]string{v.Username, v.Password}
	if ok, done := m.seen[k]; done {
		return ok, nil
	}
	ok, err := m.Target.Authenticates(ctx, v)
	if err == nil {
		m.seen[k] = ok
	}
	return ok, err
}

// pendingAuthenticates reports whether the rotation's pending value, stored
// under Token, authenticates.
func (ck *Checker) pendingAuthenticates(ctx context.Context) bool {
	if ck.Token == "" {
		return false
	}
	v, err := ReadValue(ctx, ck.SM, ck.ARN, ck.Token, "")
	if err != nil {
		return false
	}
	ok, err := ck.Target.Authenticates(ctx, v)
	return err == nil && ok
}

// IsCurrent reports whether the token's version is AWSCURRENT.
func (ck *Checker) IsCurrent(ctx context.Context, token string) bool {
	out, err := ck.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ck.ARN)})
	if err != nil {
		return false
	}
	return slices.Contains(out.VersionIdsToStages[token], "AWSCURRENT")
}

// ReadValue reads and parses a version by ID and/or stage.
func ReadValue(ctx context.Context, sm *secretsmanager.Client, arn, versionID, stage string) (secret.Value, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	if stage != "" {
		in.VersionStage = aws.String(stage)
	}
	out, err := sm.GetSecretValue(ctx, in)
	if err != nil {
		return secret.Value{}, err
	}
	return secret.Parse([]byte(aws.ToString(out.SecretString)))
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// StepCalls is how many calls of each Secrets Manager operation each step
// makes on the happy path: the fault points of the step.
type StepCalls map[string]map[string]int

// Discover runs one rotation of a fresh case step by step and counts the
// engine's Secrets Manager calls per step and operation.
func Discover(t testing.TB, strat Strategy) StepCalls {
	t.Helper()
	c := strat.New(t, rotationtest.Options{})
	for i := range strat.PreRotations {
		if err := c.Env.Rotate(t, c.ARN); err != nil {
			t.Fatalf("pre-rotation %d: %v", i+1, err)
		}
	}
	token := c.Env.Begin(t, c.ARN)
	ops := []string{"DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage", "GetRandomPassword"}
	calls := StepCalls{}
	for _, step := range Steps {
		c.Env.AWS.ResetCalls()
		if err := c.Env.Step(t, c.ARN, token, step); err != nil {
			t.Fatalf("discover %s: happy path step %s failed: %v", strat.Name, step, err)
		}
		calls[step] = map[string]int{}
		for _, op := range ops {
			if n := c.Env.AWS.Calls(op, ""); n > 0 {
				calls[step][op] = n
			}
		}
	}
	return calls
}

// Enumerate lists every schedule: each Secrets Manager call of each step
// refused, and each write applied with its response lost (reads are not
// applied, so "lost" is "refused" for them), each database trigger of
// setSecret dropped before and after, each with every retry mode given. With
// throttle, one absorbed throttle per call is added.
func Enumerate(calls StepCalls, triggers []string, retries []Retry, throttle bool) []Schedule {
	var out []Schedule
	for _, r := range retries {
		for _, step := range Steps {
			ops := make([]string, 0, len(calls[step]))
			for op := range calls[step] {
				ops = append(ops, op)
			}
			slices.Sort(ops)
			for _, op := range ops {
				for n := 1; n <= calls[step][op]; n++ {
					out = append(out, Schedule{Step: step, Kind: SMRefused, Op: op, Nth: n, Retry: r})
					if op == "PutSecretValue" || op == "UpdateSecretVersionStage" {
						out = append(out, Schedule{Step: step, Kind: SMLost, Op: op, Nth: n, Retry: r})
					}
					if throttle {
						out = append(out, Schedule{Step: step, Kind: SMThrottled, Op: op, Nth: n, Retry: r})
					}
				}
			}
			if step == localaws.StepSet {
				for _, tr := range triggers {
					for _, w := range []When{Before, After} {
						out = append(out, Schedule{Step: step, Kind: DBDrop, Trigger: tr, When: w, Retry: r})
					}
				}
			}
		}
	}
	return out
}
