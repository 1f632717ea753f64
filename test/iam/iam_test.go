package iam

import (
	"errors"
	"fmt"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// builds holds the bootstrap binaries and the RIE, built once per test
// binary on first use.
var builds *lambdarie.Builds

func TestMain(m *testing.M) {
	builds = lambdarie.MustNewBuilds("rotary-iam-")
	code := m.Run()
	builds.Close()
	os.Exit(code)
}

// scenario is one logged request of a representative rotation.
type scenario struct {
	name string // the rotation it belongs to
	req  localaws.LoggedRequest
}

// scenarios runs the representative rotations once per test binary, with the
// emulator's request log on, and returns the requests the functions (and
// Secrets Manager, invoking them) made, and the CMK-encrypted secret.
var scenarioRun struct {
	once sync.Once
	reqs []scenario
	cmk  *rig.Secret
	err  string
}

// fleetRoles are the execution and member roles of the example deployment.
var fleetRoles = []string{
	roleARN(central, centralRoleName), roleARN(memberA, memberRol), roleARN(memberB, memberRol), roleARN(memberA, perAccountRole),
	roleARN(memberA, accountModeRole), roleARN(memberA, genericRole),
	roleARN(central, auditFnRole), roleARN(memberA, rig.AuditRoleName), roleARN(memberB, rig.AuditRoleName),
}

func scenarios(t *testing.T) ([]scenario, *rig.Secret) {
	t.Helper()
	// Skip here, not inside the once: a skip there would read as a failure
	// to every later test that needs the scenarios.
	dbtest.NeedsServers(t)
	// Fail before minutes of rotations when the evaluator is not installed.
	if _, err := Evaluate(t.Context(), ".", nil); err != nil {
		t.Fatal(err)
	}
	scenarioRun.once.Do(func() {
		ok := false
		defer func() {
			if !ok && scenarioRun.err == "" {
				scenarioRun.err = "the scenarios failed in " + t.Name() + " (see its log)"
			}
		}()
		scenarioRun.reqs, scenarioRun.cmk = runScenarios(t)
		ok = !t.Failed()
	})
	if scenarioRun.err != "" {
		t.Fatal(scenarioRun.err)
	}
	return scenarioRun.reqs, scenarioRun.cmk
}

// runScenarios rotates, through the built functions under the RIE: with the
// central function, a single-user secret in member A, an alternating-users
// secret in member B whose secret and master are encrypted with a customer
// managed key (infra/examples/member-secret-cmk.yaml), an alternating-users
// secret in A with an RDS-managed master, and a single-user secret of the
// central account itself, a Twilio API key in B with its admin secret; with
// the per-account function in A, an alternating-users secret in A; and an
// IAM user's access key in A (rotated twice) with the central function.
func runScenarios(t *testing.T) ([]scenario, *rig.Secret) {
	pg, maria := rig.Targets(t, false)
	bundle := filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := rig.WriteCABundle(bundle, pg, maria); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, pg)
	twilio := newTwilioFake(t)
	centralFunc := w.startFunction(t, "central", rig.FunctionConfig{
		Name: centralFn, Home: central, Mode: awsx.ModeCentral, Allowed: []string{memberA, memberB},
		ExternalID: rig.ExternalID, CABundle: bundle,
		Env: []string{awsx.EnvOrgID + "=" + orgID, "TWILIO_BASE_URL=" + twilio.srv.URL, "SAAS_VERIFY_WAIT=0s"},
	}, w.roleCredentials(t, central, centralRoleName, centralFn))
	perAccountFunc := w.startFunction(t, "postgres-multi", rig.FunctionConfig{
		Name: perAccountFn, Home: memberA, Mode: awsx.ModeAccount, CABundle: bundle,
	}, w.roleCredentials(t, memberA, perAccountRole, perAccountFn))

	var out []scenario
	run := func(name string, s *rig.Secret, fn *rig.Function) {
		w.AWS.ResetRequestLog()
		w.rotate(t, s, fn)
		for _, r := range w.AWS.RequestLog() {
			out = append(out, scenario{name, r})
		}
	}
	single := w.provision(t, rig.Case{Name: "orders/postgres-single", Account: memberA, Target: pg, Strategy: rotators.SingleUser})
	run("central, single user, member A", single, centralFunc)

	cmk := w.provision(t, rig.Case{Name: "billing/postgres-multi", Account: memberB, Target: pg, Strategy: rotators.AlternatingUsers})
	w.encrypt(t, memberB, cmk.ARN)
	w.encrypt(t, memberB, cmk.MasterARN)
	run("central, alternating users, CMK-encrypted secret and master, member B", cmk, centralFunc)
	run("central, alternating users, CMK-encrypted secret and master, member B (second rotation)", cmk, centralFunc)

	rds := w.provision(t, rig.Case{Name: "reports/postgres-rds", Account: memberA, Target: pg, Strategy: rotators.AlternatingUsers})
	w.makeRDSManaged(t, rds)
	run("central, alternating users, RDS-managed master, member A", rds, centralFunc)

	own := w.provision(t, rig.Case{Name: "fleet/postgres-single", Account: central, Target: pg, Strategy: rotators.SingleUser})
	run("central, single user, the central account's own secret", own, centralFunc)

	admin := w.createSecret(t, memberB, "vendor/twilio-admin", map[string]string{"accountSid": twilio.accountSID, "authToken": twilio.authToken}, "rotary:role", "admin")
	key := twilio.addKey("app")
	saas := &rig.Secret{Case: rig.Case{Name: "vendor/twilio-app", Account: memberB}, MasterARN: admin}
	saas.ARN = w.createSecret(t, memberB, saas.Name, map[string]string{
		"engine": "twilio", "masterarn": admin, "accountSid": twilio.accountSID, "apiKeyId": key.SID, "apiKeySecret": key.Secret,
	}, "rotary:rotate", "true")
	run("central, Twilio API key with its admin secret (rotary:role=admin), member B", saas, centralFunc)
	run("central, Twilio API key with its admin secret (rotary:role=admin), member B (second rotation)", saas, centralFunc)

	// An IAM user's access key (iam-access-key): the second rotation also
	// retires the key AWSPREVIOUS held (UpdateAccessKey, DeleteAccessKey).
	// The user is given to its secret by the secret's full ARN (tagged once
	// the secret exists): an IAM user is global, a name tag is refused.
	w.AWS.AddUser(localaws.IAMUser{Account: memberA, Name: "deploy-bot", Tags: map[string]string{"rotary:rotate": "true"}})
	ak, err := w.AWS.IssueUserKey(memberA, "deploy-bot")
	if err != nil {
		t.Fatal(err)
	}
	keys := &rig.Secret{Case: rig.Case{Name: "ci/deploy-bot", Account: memberA}}
	keys.ARN = w.createSecret(t, memberA, keys.Name, map[string]string{
		"engine": iamkey.Engine, "username": "deploy-bot", iamkey.KeyAccessKeyID: ak.AccessKeyID, iamkey.KeySecretAccessKey: ak.SecretAccessKey,
	}, "rotary:rotate", "true")
	w.AWS.TagUser(memberA, "deploy-bot", iamkey.TagSecret, keys.ARN)
	run("central, IAM user access key, member A", keys, centralFunc)
	run("central, IAM user access key, member A (second rotation)", keys, centralFunc)

	local := w.provision(t, rig.Case{Name: "local/postgres-multi", Account: memberA, Target: pg, Strategy: rotators.AlternatingUsers})
	run("per-account postgres-multi, alternating users, member A", local, perAccountFunc)
	return append(out, runSuites(t, pg, maria, bundle)...), cmk
}

// fleetRequests returns the requests made by the fleet's roles and by Secrets
// Manager invoking the functions: what the shipped IAM must allow.
func fleetRequests(all []scenario) []scenario {
	var out []scenario
	for _, s := range all {
		switch {
		case s.req.Action == "sts:GetCallerIdentity": // needs no permission
		case s.req.Principal == localaws.ServicePrincipalSecretsManager, slices.Contains(fleetRoles, s.req.RoleARN):
			out = append(out, s)
		}
	}
	return out
}

// evaluate runs the oracle on cases and fails t when it cannot run.
func evaluate(t *testing.T, cases []Case) []Verdict {
	t.Helper()
	vs, err := Evaluate(t.Context(), ".", cases)
	if errors.Is(err, ErrNoEvaluator) {
		t.Fatalf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// explain says why a request was decided the way it was, naming the policies
// and statements.
func explain(c Case, v Verdict) string {
	var b strings.Builder
	if len(v.Errors) > 0 {
		fmt.Fprintf(&b, "the evaluator refused the case: %s", strings.Join(v.Errors, "; "))
		return b.String()
	}
	b.WriteString(v.Decision)
	for _, g := range v.Grants {
		fmt.Fprintf(&b, "; allowed by %s", g)
	}
	for _, d := range v.Denials {
		if d.Type == "Explicit" {
			fmt.Fprintf(&b, "; denied by %s", d)
		} else {
			fmt.Fprintf(&b, "; no statement of the %s policies allows it", d.Policy)
		}
	}
	for _, m := range v.NearMisses {
		fmt.Fprintf(&b, "; %s, statement %s matches the action and resource but not its condition %s", m.Policy, m.Sid, m.Condition)
	}
	var names []string
	for _, p := range c.IdentityPolicies {
		names = append(names, p.Name)
	}
	fmt.Fprintf(&b, " (identity policies: %s", orNone(names))
	if c.ResourcePolicyName != "" {
		fmt.Fprintf(&b, "; resource policy: %s", c.ResourcePolicyName)
	}
	fmt.Fprintf(&b, "; context: %v)", c.Context)
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// mustAllow evaluates reqs under d and returns one message per request that
// is not allowed.
func mustAllow(t *testing.T, d *Deployment, reqs []scenario) []string {
	t.Helper()
	var cases []Case
	for _, s := range reqs {
		cases = append(cases, d.Case(s.name+": "+Describe(s.req), s.req))
	}
	var bad []string
	for i, v := range evaluate(t, cases) {
		if !v.Allowed() {
			bad = append(bad, fmt.Sprintf("must allow %s: %s", cases[i].Name, explain(cases[i], v)))
		}
	}
	return bad
}

// TestMustAllow: every request the functions make in the representative
// rotations, and in the e2e suite's, make demo's and the fleet test's
// rotations (runSuites), is allowed by the shipped policies.
func TestMustAllow(t *testing.T) {
	all, cmk := scenarios(t)
	reqs := fleetRequests(all)
	seen := map[string]bool{}
	for _, s := range reqs {
		seen[s.req.Action] = true
		if role := s.req.Context["aws:ResourceTag/rotary:role"]; s.req.Action == "secretsmanager:GetSecretValue" && len(role) == 1 {
			seen["read "+role[0]] = true
		}
	}
	for _, what := range []string{"read master", "read admin"} {
		if !seen[what] {
			t.Errorf("the scenarios made no %s secret request", what)
		}
	}
	for _, a := range []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
		"secretsmanager:UpdateSecretVersionStage", "sts:AssumeRole", "kms:Decrypt", "kms:GenerateDataKey", "rds:DescribeDBInstances",
		"lambda:InvokeFunction", "iam:GetUser", "iam:ListAccessKeys", "iam:TagUser", "iam:CreateAccessKey", "iam:UpdateAccessKey",
		"iam:DeleteAccessKey"} {
		if !seen[a] {
			t.Errorf("the scenarios made no %s request: the verdict would not cover it", a)
		}
	}
	// The other suites' rotations (runSuites) reach the verdict too, with
	// the calls of a rotation made by the deployment's roles (a function
	// acting with other credentials would drop out of fleetRequests).
	for _, suite := range suites {
		n, actions := 0, map[string]bool{}
		for _, s := range reqs {
			if strings.HasPrefix(s.name, suite.prefix) {
				n++
				actions[s.req.Action] = true
			}
		}
		for _, a := range suite.actions {
			if !actions[a] {
				t.Errorf("no %s request of %q reached the verdict", a, suite.prefix)
			}
		}
		t.Logf("%4d requests of %s", n, suite.prefix)
	}
	for _, msg := range mustAllow(t, deploy(t, stacks(cmk)), reqs) {
		t.Error(msg)
	}
	t.Logf("%d requests of the fleet evaluated", len(reqs))
}

// TestNegativeControl: without the RDS describe statement, the must-allow
// verdict fails and names the RDS request.
func TestNegativeControl(t *testing.T) {
	all, cmk := scenarios(t)
	d := deploy(t, stacks(cmk))
	var removed int
	d.Policies, removed = WithoutStatement(d.Policies, "DescribeDatabasesOfThisAccount")
	if removed == 0 {
		t.Fatal("no statement DescribeDatabasesOfThisAccount in the rendered policies")
	}
	mustAllowFailsOnly(t, d, all, "the RDS describe statement", func(msg string) bool {
		return strings.Contains(msg, "rds:DescribeDBInstances by role "+roleARN(memberA, memberRol))
	})
}

// mustAllowFailsOnly runs the must-allow verdict over every scenario's
// requests against d, from which what was removed, and checks that it fails
// and that every failure is one expected accepts: a negative control that
// shows the verdict judges those requests, and only those depend on what.
func mustAllowFailsOnly(t *testing.T, d *Deployment, all []scenario, what string, expected func(msg string) bool) {
	t.Helper()
	bad := mustAllow(t, d, fleetRequests(all))
	if len(bad) == 0 {
		t.Fatalf("the must-allow verdict passed without %s", what)
	}
	for _, msg := range bad {
		if !expected(msg) {
			t.Errorf("unexpected failure without %s: %s", what, msg)
		}
	}
	t.Logf("as expected: %s", bad[0])
}

// TestNegativeControlIAM: without the statement that lets the member role
// write rotary:minting, the must-allow verdict fails on exactly the
// iam-access-key rotations' iam:TagUser requests (the scenarios' and the demo's) (localaws logs them with
// the user's tags and the tag keys they write).
func TestNegativeControlIAM(t *testing.T) {
	all, cmk := scenarios(t)
	d := deploy(t, stacks(cmk))
	var removed int
	d.Policies, removed = WithoutStatement(d.Policies, "RecordMintingIntentOnTaggedUsers")
	if removed == 0 {
		t.Fatal("no statement RecordMintingIntentOnTaggedUsers in the rendered policies")
	}
	// The IAM-key rotations of the scenarios (member A) and of the demo
	// (member B) each write the tag.
	mustAllowFailsOnly(t, d, all, "the minting-intent statement", func(msg string) bool {
		return strings.Contains(msg, "iam:TagUser by role "+roleARN(memberA, memberRol)) ||
			strings.Contains(msg, "iam:TagUser by role "+roleARN(memberB, memberRol))
	})
}
