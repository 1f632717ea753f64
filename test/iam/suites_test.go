package iam

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/fleet"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The names of runSuites' requests start with the suite part they belong
// to; TestMustAllow requires each part to bring at least the given actions
// to the verdict.
const (
	suiteCentral = "e2e TestCentralRotatesMemberSecrets and make demo"
	suiteAccount = "e2e TestAccountMode"
	suiteGeneric = "e2e TestGenericUnderRIE"
	suiteDemoAPI = "make demo step 6, ElastiCache user and IAM access key"
	suiteStuck   = "make demo step 7, stuck rotation"
	suiteAudit   = "make demo step 7, fleet audit"
	suiteFleet   = "fleet test"
)

var (
	rotationActions = []string{"lambda:InvokeFunction", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
		"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
	suites = []struct {
		prefix  string
		actions []string
	}{
		{suiteCentral, append(slices.Clone(rotationActions), "sts:AssumeRole")},
		{suiteDemoAPI, append(slices.Clone(rotationActions),
			"elasticache:DescribeUsers", "elasticache:ListTagsForResource", "elasticache:ModifyUser")},
		{suiteAccount, rotationActions},
		{suiteGeneric, rotationActions},
		// Fails at createSecret, before any write.
		{suiteStuck, []string{"lambda:InvokeFunction", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}},
		{suiteAudit, []string{"sts:AssumeRole", "secretsmanager:ListSecrets", "secretsmanager:ListSecretVersionIds"}},
		{suiteFleet, append(slices.Clone(rotationActions), "sts:AssumeRole")},
	}
)

// runSuites replays, with the request log on, the rotations of the other
// suites from their own scenario definitions, with every function acting as
// its execution role of the example deployment: the e2e suite's central
// rotations (rig.CentralCases, rig.CentralRounds times each: also `make
// demo`'s step 6, which rotates the same list once, and the demo's
// ElastiCache user and IAM access key, rig.DemoAPICases), its account-mode
// rotations (rig.AccountCases with rig.AccountConfig), TestGenericUnderRIE's
// rotation (the generic function deployed in member A with
// infra/per-account.yaml, Rotator=generic, rather than in the emulator's
// default account), the demo's step 7 (the rotation that fails for its
// engine, rig.CreateStuckSecret, and the fleet audit, rig.Audit, as the audit
// function's execution role through the members' rig.AuditRoleName roles),
// and a small fleet run (test/fleet). It returns every request logged.
//
// Not replayed: the e2e refusals (account not allowed: no request; wrong
// ExternalId and a dropped RotationToken: refused, the must-deny side).
func runSuites(t *testing.T, pg rig.Postgres, maria rig.MariaDB, bundle string) []scenario {
	start := time.Now()
	defer func() { t.Logf("the other suites' rotations took %s", time.Since(start).Round(time.Millisecond)) }()
	w := newWorld(t, pg)
	var out []scenario
	collect := func(name string) {
		for _, r := range w.AWS.RequestLog() {
			out = append(out, scenario{name, r})
		}
		w.AWS.ResetRequestLog()
	}

	cfg := rig.CentralConfig(bundle)
	centralFunc := w.startFunction(t, "central", cfg, w.roleCredentials(t, central, centralRoleName, cfg.Name))
	acfg := rig.AccountConfig(bundle)
	accountFunc := w.startFunction(t, "central", acfg, w.roleCredentials(t, acfg.Home, accountModeRole, acfg.Name))
	gcfg := rig.FunctionConfig{Name: genericFn, Home: memberA, Mode: awsx.ModeAccount}
	genericFunc := w.startFunction(t, "generic", gcfg, w.roleCredentials(t, gcfg.Home, genericRole, gcfg.Name))
	w.AWS.ResetRequestLog()

	for _, c := range rig.CentralCases(pg, maria) {
		s, err := w.Provision(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		for round := 1; round <= rig.CentralRounds; round++ {
			w.rotate(t, s, centralFunc)
			collect(fmt.Sprintf("%s: %s (%s, %s) in %s, rotation %d", suiteCentral,
				c.Name, c.Target.Engine(), c.Strategy, c.Account, round))
		}
	}
	// make demo's step 6 also rotates an ElastiCache user (its passwords on
	// a throwaway redis-server) and an IAM user's access key, once each.
	cache, stopCache, err := rig.StartRedis(t.Context())
	t.Cleanup(stopCache)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rig.DemoAPICases(w.World, cache) {
		s, err := w.Provision(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		w.rotate(t, s, centralFunc)
		collect(fmt.Sprintf("%s: %s (%s, %s) in %s", suiteDemoAPI, c.Name, c.Target.Engine(), c.Strategy, c.Account))
	}
	for _, c := range rig.AccountCases(pg, maria) {
		s, err := w.Provision(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		w.rotate(t, s, accountFunc)
		collect(fmt.Sprintf("%s: %s (%s, %s) in %s", suiteAccount, c.Name, c.Target.Engine(), c.Strategy, c.Account))
	}

	created, err := w.SecretsManager(memberA).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(rig.GenericSecretName), SecretString: aws.String(rig.GenericSecretValue()), Tags: rig.RotateTags(),
	})
	if err != nil {
		t.Fatal(err)
	}
	gen := &rig.Secret{Case: rig.Case{Name: rig.GenericSecretName, Account: memberA}, ARN: aws.ToString(created.ARN)}
	w.rotate(t, gen, genericFunc)
	collect(suiteGeneric + ": " + gen.Name + " in " + gen.Account + " by the generic function")

	stuck, err := w.CreateStuckSecret(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Rotate(t.Context(), stuck, centralFunc)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Outcome != localaws.Failed {
		t.Fatalf("the demo's stuck rotation of %s: outcome %s, want Failed", stuck.Name, r.Run.Outcome)
	}
	collect(suiteStuck + ": " + stuck.Name + " in " + stuck.Account + ", whose rotation fails for its engine")

	auditCreds := w.roleCredentials(t, central, auditFnRole, rig.AuditFunctionName)
	w.AWS.ResetRequestLog()
	rep := w.Audit(t.Context(), auditCreds, centralFunc.ARN, "rotary-*")
	if rep.Summary.AccountsFailed != 0 || rep.Summary.Accounts != 3 {
		t.Fatalf("the demo's fleet audit: %d of %d accounts failed", rep.Summary.AccountsFailed, rep.Summary.Accounts)
	}
	collect(suiteAudit + " of the central account and members A and B")

	return append(out, runFleet(t)...)
}

// runFleet is a small run of the fleet test (test/fleet) in the example
// deployment: the central engine acting as the central role, members A and
// B with the ExternalId, in the organization; throttling and latency as in
// the fleet test.
func runFleet(t *testing.T) []scenario {
	var srv *localaws.Server
	res, err := fleet.Run(t.Context(), fleet.Config{
		Secrets: 12, Concurrency: 4, Seed: 12, Timeout: 2 * time.Minute,
		Central: central, Members: []string{memberA, memberB}, ExternalID: rig.ExternalID,
		Prepare: func(s *localaws.Server) (localaws.Credentials, error) {
			srv = s
			s.SetOrganization(orgID, central, memberA, memberB)
			return assumeExecutionRole(t.Context(), s, central, centralRoleName, centralFn)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || res.Lost != 0 {
		t.Fatalf("fleet run: %s", res.Summary())
	}
	var out []scenario
	for _, r := range srv.RequestLog() {
		out = append(out, scenario{suiteFleet + " (small run, central mode, members A and B)", r})
	}
	return out
}

// assumeExecutionRole creates role name in account, trusted by the account,
// and returns a session of it, as Lambda gives a function its execution
// role.
func assumeExecutionRole(ctx context.Context, s *localaws.Server, account, name, session string) (localaws.Credentials, error) {
	arn := s.AddRole(localaws.Role{Account: account, Name: name, TrustedAccounts: []string{account}})
	c := sts.NewFromConfig(s.AWSConfig(s.AddAccount(account), region))
	out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String(session)})
	if err != nil {
		return localaws.Credentials{}, fmt.Errorf("assume %s: %w", arn, err)
	}
	cr := out.Credentials
	return localaws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken, Account: account}, nil
}

// TestNegativeControlSuites: without the statements that let the roles
// rotate tagged secrets, the must-allow verdict fails for requests of every
// suite runSuites replays, naming them: the suites' requests are judged, not
// only logged.
func TestNegativeControlSuites(t *testing.T) {
	all, cmk := scenarios(t)
	d := deploy(t, stacks(cmk))
	var removed, n int
	for _, sid := range []string{"RotateTaggedSecrets", "RotateTaggedSecretsOfThisAccount"} {
		d.Policies, n = WithoutStatement(d.Policies, sid)
		if n == 0 {
			t.Fatalf("no statement %s in the rendered policies", sid)
		}
		removed += n
	}
	bad := mustAllow(t, d, fleetRequests(all))
	for _, suite := range suites {
		if suite.prefix == suiteAudit {
			continue // reads metadata only, with its own statements
		}
		found := ""
		for _, msg := range bad {
			if strings.HasPrefix(msg, "must allow "+suite.prefix) && strings.Contains(msg, "secretsmanager:") {
				found = msg
				break
			}
		}
		if found == "" {
			t.Errorf("without the %d RotateTaggedSecrets* statements, no request of %q failed the verdict", removed, suite.prefix)
			continue
		}
		t.Logf("as expected: %s", found)
	}
}

// TestNegativeControlElastiCache: without elasticache:ListTagsForResource in
// RotateTaggedElastiCacheUsers, the must-allow verdict fails for the demo's
// ElastiCache rotation and names that request: the elasticache rotator's
// real requests are judged.
func TestNegativeControlElastiCache(t *testing.T) {
	all, cmk := scenarios(t)
	d := deployEdited(t, stacks(cmk), "RotateTaggedElastiCacheUsers", func(st map[string]any) {
		var keep []any
		for _, a := range st["Action"].([]any) {
			if a != "elasticache:ListTagsForResource" {
				keep = append(keep, a)
			}
		}
		st["Action"] = keep
	})
	mustAllowFailsOnly(t, d, all, "elasticache:ListTagsForResource", func(msg string) bool {
		return strings.HasPrefix(msg, "must allow "+suiteDemoAPI) && strings.Contains(msg, "elasticache:ListTagsForResource")
	})
}
