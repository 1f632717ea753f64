package chaos_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// builds holds the RIE and the function binaries, each built once per test
// binary when a case first needs it (TestMain makes and closes it).
var builds *lambdarie.Builds

// killer sits in front of the emulator and kills the function process at a
// chosen Secrets Manager call of the function: before the call reaches
// Secrets Manager, or after it was applied and before the answer is sent.
type killer struct {
	aws  *localaws.Server
	akid string // the function's access key ID

	mu    sync.Mutex
	op    string
	nth   int
	when  chaos.When
	seen  int
	kill  func()
	fired int
	step  string          // the step being invoked
	calls chaos.StepCalls // the function's Secrets Manager calls per step
}

func (k *killer) arm(op string, nth int, when chaos.When, kill func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.op, k.nth, k.when, k.seen, k.kill = op, nth, when, 0, kill
}

func (k *killer) disarm() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.op = ""
}

func (k *killer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Authorization"), "Credential="+k.akid+"/") {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
		k.mu.Lock()
		if k.step != "" && op != "" {
			k.calls[k.step][op]++
		}
		fire := k.op != "" && op == k.op
		if fire {
			k.seen++
			fire = k.seen == k.nth
		}
		when, kill := k.when, k.kill
		if fire {
			k.op = ""
			k.fired++
		}
		k.mu.Unlock()
		if fire && when == chaos.Before {
			kill()
			http.Error(w, "function killed", http.StatusServiceUnavailable)
			return
		}
		if fire {
			rec := httptest.NewRecorder()
			k.aws.ServeHTTP(rec, r)
			kill()
			for key, v := range rec.Header() {
				w.Header()[key] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
	}
	k.aws.ServeHTTP(w, r)
}

// rieSchedule is one kill point: a Secrets Manager call of a step (before or
// after it is applied), or the password statement of setSecret.
type rieSchedule struct {
	step, op string
	nth      int
	when     chaos.When
	trigger  string // DB statement instead of an SM call
	// fault, when set, arms a provider fault instead (its name in what) and
	// returns how many times it fired.
	fault func() (fired func() int)
	what  string
}

func (s rieSchedule) String() string {
	if s.fault != nil {
		return s.step + "/" + s.what
	}
	if s.trigger != "" {
		return s.step + "/kill-after-" + strings.ReplaceAll(s.trigger, " ", "_")
	}
	return s.step + "/" + s.op + "#" + itoa(int64(s.nth)) + "/kill-" + s.when.String()
}

// rieCase is a function under the RIE with its emulator, secret and target.
type rieCase struct {
	fn     string
	env    []string
	target chaos.Target
	single bool
	proxy  *dbtest.FaultProxy
	value  secret.Value
	// master, when set, is stored first and named by value's masterarn.
	master *secret.Value
	// pre rotations run before the schedule is armed (so finishSecret has
	// a previous credential to revoke).
	pre int
	// setup, when set, prepares the target in the emulator of the run and
	// returns the secret's value and the target (instead of value and
	// target). The secret is named "chaos/rie".
	setup func(t *testing.T, srv *localaws.Server) (secret.Value, chaos.Target)
	// bind, when set, runs once the secret is stored, with its ARN and
	// value (an IAM user is given to its secret by the full ARN, known only
	// now).
	bind func(t *testing.T, srv *localaws.Server, arn string, v secret.Value)
	// calls, when set, receives the function's Secrets Manager calls per
	// step on a run with no kill point (rieDiscover).
	calls *chaos.StepCalls
	// keepsPrevious: AWSPREVIOUS must authenticate at rest too.
	keepsPrevious bool
	// accountsAtRest: see chaos.Checker.AccountsAtRest.
	accountsAtRest bool
	// atRest, when set, adds the target's own at-rest invariants, checked
	// after the rotations (a violation is returned as an error).
	atRest func(ctx context.Context, sm *secretsmanager.Client, arn string) error
	// afterFirst, when set, is the operator's work once the secret's first
	// rotation completed and was checked, before the next one (Okta: delete
	// the hand-made client secret, as its README asks).
	afterFirst func(t *testing.T)
}

func runRIE(t *testing.T, c rieCase, s rieSchedule) {
	dbtest.NeedsServers(t)
	chaos.Counter.Add(1)
	rie := lambdarie.Need(t, builds.RIE)
	bin := lambdarie.Need(t, func() (string, error) { return builds.Function(c.fn) })
	ctx := t.Context()
	// VerifySignatures: a target that logs in with a secret access key (IAM) must
	// be refused a wrong one.
	srv := localaws.New(localaws.Options{RotationRetries: 2, InvokeTimeout: 20 * time.Second, VerifySignatures: true})
	fnCreds := srv.AddAccount(localaws.DefaultAccount)
	k := &killer{aws: srv, akid: fnCreds.AccessKeyID, calls: chaos.StepCalls{}}
	hs := httptest.NewServer(k)
	srv.URL = hs.URL
	t.Cleanup(func() {
		srv.WaitRotations()
		hs.Close()
	})
	fn, err := lambdarie.Start(ctx, rie, bin, append([]string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + fnCreds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + fnCreds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + hs.URL,
		"ROTARY_HOME_ACCOUNT=" + localaws.DefaultAccount,
	}, c.env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	kill := func() {
		if err := fn.KillRuntime(); err != nil {
			t.Errorf("kill: %v", err)
		}
	}

	sm := secretsmanager.NewFromConfig(srv.AWSConfig(srv.DefaultCredentials(), ""))
	if c.setup != nil {
		c.value, c.target = c.setup(t, srv)
	}
	if c.master != nil {
		mo, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("chaos/rie-master"), SecretString: aws.String(c.master.StoredJSON())})
		if err != nil {
			t.Fatal(err)
		}
		c.value.MasterARN = aws.ToString(mo.ARN)
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("chaos/rie"), SecretString: aws.String(c.value.StoredJSON())})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	if c.bind != nil {
		c.bind(t, srv, arn, c.value)
	}
	ck := &chaos.Checker{SM: sm, ARN: arn, Target: c.target, KeepsPrevious: c.keepsPrevious, AccountsAtRest: c.accountsAtRest}
	ck.Observe(ctx, "before the rotation", true)

	var mu sync.Mutex
	armed, dbFired := c.pre > 0, func() int { return 0 }
	invoke := localaws.HTTPFunction(fn.InvokeURL)
	const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:chaos"
	srv.RegisterFunction(fnARN, localaws.HandlerFunction(func(ctx context.Context, payload []byte) ([]byte, error) {
		var ev struct{ Step, ClientRequestToken string }
		_ = json.Unmarshal(payload, &ev)
		mu.Lock()
		if !armed && ev.Step == s.step {
			armed = true
			if s.fault != nil {
				dbFired = s.fault()
			} else if s.trigger != "" {
				dbFired = c.proxy.Arm(s.trigger, dbtest.After, kill)
			} else {
				k.arm(s.op, s.nth, s.when, kill)
			}
		}
		if ev.Step == localaws.StepSet && c.single {
			ck.Gap = true
		}
		ck.Token = ev.ClientRequestToken
		if c.calls != nil {
			// Count the first invocation of each step only: a schedule
			// arms that one.
			k.mu.Lock()
			k.step = ""
			if _, seen := k.calls[ev.Step]; !seen && ev.Step != "" {
				k.step = ev.Step
				k.calls[ev.Step] = map[string]int{}
			}
			k.mu.Unlock()
		}
		mu.Unlock()
		res, err := invoke.Invoke(ctx, payload)
		k.disarm()
		mu.Lock()
		ck.Observe(ctx, "after "+ev.Step, false)
		mu.Unlock()
		return res, err
	}))
	rotate := func(what string) localaws.RotationRun {
		if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(fnARN)}); err != nil {
			t.Fatalf("%s: RotateSecret: %v", what, err)
		}
		runs := srv.Rotations(arn)
		return runs[len(runs)-1]
	}
	for i := range c.pre {
		if pre := rotate("a pre-rotation"); pre.Outcome != localaws.Succeeded {
			t.Fatalf("pre-rotation %d failed: %s", i+1, pre.Error)
		}
		if i == 0 && c.afterFirst != nil {
			c.afterFirst(t)
		}
	}
	mu.Lock()
	armed = false
	mu.Unlock()
	k.mu.Lock()
	k.calls = chaos.StepCalls{} // count the schedule's rotation only
	k.mu.Unlock()
	run := rotate("the rotation")
	if c.calls != nil {
		k.mu.Lock()
		*c.calls = k.calls
		k.mu.Unlock()
	}
	ck.Gap = false
	if run.Outcome != localaws.Succeeded {
		ck.Violate("the rotation did not complete after %d attempts: %s", run.Attempts, run.Error)
		for _, v := range ck.Violations {
			t.Errorf("invariant violated: %s", v)
		}
		t.Fatalf("function logs:\n%s", fn.Logs())
	}
	ck.Observe(ctx, "after the rotation", true)
	checkAtRest := func(where string) {
		if c.atRest != nil {
			if err := c.atRest(ctx, sm, arn); err != nil {
				ck.Violate("%s: %v", where, err)
			}
		}
	}
	checkAtRest("after the rotation")
	if c.pre == 0 && c.afterFirst != nil {
		c.afterFirst(t)
	}
	if later := rotate("a later rotation"); later.Outcome != localaws.Succeeded {
		ck.Violate("a later rotation failed: %s", later.Error)
	}
	ck.Observe(ctx, "after a later rotation", true)
	checkAtRest("after a later rotation")
	for _, v := range ck.Violations {
		t.Errorf("invariant violated: %s", v)
	}
	k.mu.Lock()
	fired := k.fired
	k.mu.Unlock()
	if s.step == "" { // discovery: no kill point
		return
	}
	if fired+dbFired() == 0 {
		t.Errorf("the kill point was never reached: the schedule tested nothing")
	}
	if run.Attempts < 2 {
		t.Errorf("the faulted step did not fail the attempt (attempts = %d)", run.Attempts)
	}
	if t.Failed() {
		t.Logf("function logs:\n%s", fn.Logs())
	}
}

// rieDiscover counts the function's Secrets Manager calls per step on an
// undisturbed run of c (the rotation after c.pre ones, the one a schedule
// arms), for the full kill schedule.
func rieDiscover(t *testing.T, c rieCase) chaos.StepCalls {
	t.Helper()
	var calls chaos.StepCalls
	c.calls = &calls
	t.Run("discover", func(t *testing.T) { runRIE(t, c, rieSchedule{}) })
	t.Logf("%s: Secrets Manager calls per step: %v", c.fn, calls)
	return calls
}

func rieSchedules(calls chaos.StepCalls, triggers []string) []rieSchedule {
	var out []rieSchedule
	for _, step := range chaos.Steps {
		for _, op := range []string{"DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"} {
			for n := 1; n <= calls[step][op]; n++ {
				out = append(out, rieSchedule{step: step, op: op, nth: n, when: chaos.Before})
				if op == "PutSecretValue" || op == "UpdateSecretVersionStage" {
					out = append(out, rieSchedule{step: step, op: op, nth: n, when: chaos.After})
				}
			}
		}
		if step == localaws.StepSet {
			for _, tr := range triggers {
				out = append(out, rieSchedule{step: step, trigger: tr})
			}
		}
	}
	return out
}

// TestKilledUnderRIE kills the real function process (the built bootstrap
// under the Lambda Runtime Interface Emulator) at each Secrets Manager call
// of each step and, for the databases, right after the password statement; the
// service's retries must complete the rotation with every invariant held.
// The quick subset kills PostgreSQL's function after ALTER ROLE and after
// PutSecretValue was applied, and MariaDB's after SET PASSWORD;
// ROTARY_CHAOS=full runs every kill point of the three functions (generic,
// postgres-single, mysql-single).
func TestKilledUnderRIE(t *testing.T) {
	dbtest.NeedsServers(t)
	t.Parallel()
	genericCalls := chaos.StepCalls{
		localaws.StepCreate: {"DescribeSecret": 1, "GetSecretValue": 1, "PutSecretValue": 1},
		localaws.StepSet:    {"GetSecretValue": 2},
		localaws.StepTest:   {"GetSecretValue": 1},
		localaws.StepFinish: {"DescribeSecret": 1, "UpdateSecretVersionStage": 1},
	}
	quick := map[string]bool{
		"createSecret/PutSecretValue#1/kill-after": true,
		"setSecret/kill-after-ALTER_ROLE":          true,
		"setSecret/kill-after-SET_PASSWORD":        true,
	}
	t.Run("generic", func(t *testing.T) {
		for _, s := range rieSchedules(genericCalls, nil) {
			if !chaos.Full() {
				continue // the quick subset kills the PostgreSQL function only
			}
			t.Run(s.String(), func(t *testing.T) {
				runRIE(t, rieCase{fn: "generic", target: chaos.NoTarget,
					value: secret.Value{Engine: "generic", Password: "initial-" + randomHex(8)}}, s)
			})
		}
	})
	t.Run("postgres-single", func(t *testing.T) {
		pg := dbtest.SharedPostgres(t)
		for _, s := range rieSchedules(genericCalls, []string{"ALTER ROLE"}) {
			if !chaos.Full() && !quick[s.String()] {
				continue
			}
			t.Run(s.String(), func(t *testing.T) {
				user, pw := "chaos_rie_"+randomHex(4), "Init-"+randomHex(12)
				pg.CreateRole(t, user, pw)
				v := secret.Value{Engine: "postgres", Username: user, Password: pw, DBName: "postgres"}
				proxy := proxied(t, &v, pg.Addr())
				runRIE(t, rieCase{fn: "postgres-single", single: true, proxy: proxy, value: v,
					target: &pgTarget{pg: pg, super: pg.Super(t), users: []string{user}}}, s)
			})
		}
	})
	t.Run("mysql-single", func(t *testing.T) {
		m := dbtest.SharedMariaDB(t)
		for _, s := range rieSchedules(genericCalls, []string{"SET PASSWORD"}) {
			if !chaos.Full() && !quick[s.String()] {
				continue
			}
			t.Run(s.String(), func(t *testing.T) {
				user, pw := dbtest.NewMySQLUserName("chaosrie"), "Init-"+randomHex(12)
				m.Exec(t, "CREATE USER ?@'%' IDENTIFIED BY ?", user, pw)
				t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS ?@'%'", user) })
				v := secret.Value{Engine: "mariadb", Username: user, Password: pw}
				proxy := proxied(t, &v, m.Addr())
				runRIE(t, rieCase{fn: "mysql-single", single: true, proxy: proxy, value: v,
					target: &mariaTarget{m: m, root: m.RootDB(t), users: []string{user, user + "_clone"}}}, s)
			})
		}
	})
}
