package iam

import (
	"context"
	"fmt"
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

// suiteStuck starts the names of the demo's stuck rotation's requests.
const suiteStuck = "make demo step 7"

// suitePrefixes start the scenario names of runSuites, one per suite part.
var suitePrefixes = []string{
	"e2e TestCentralRotatesMemberSecrets and make demo", "e2e TestAccountMode", "e2e TestGenericUnderRIE",
	suiteStuck, "fleet test",
}

// runSuites replays, with the request log on, the rotations of the other
// suites from their own scenario definitions, with every function acting as
// its execution role of the example deployment: the e2e suite's central
// rotations (rig.CentralCases, rig.CentralRounds times each: also `make
// demo`'s step 6, which rotates the same list once), its account-mode
// rotations (rig.AccountCases with rig.AccountConfig), the demo's rotation
// that fails for its engine (rig.CreateStuckSecret), and a small fleet run
// (test/fleet). It returns every request logged.
//
// Not replayed: the e2e refusals (account not allowed: no request; wrong
// ExternalId and a dropped RotationToken: refused, the must-deny side), the
// demo's audit step (the audit function and its role are not part of this
// deployment). TestGenericUnderRIE's generic function runs in member A,
// deployed with infra/per-account.yaml (Rotator=generic), not in the
// emulator's default account as in the e2e test.
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
			collect(fmt.Sprintf("e2e TestCentralRotatesMemberSecrets and make demo: %s (%s, %s) in %s, rotation %d",
				c.Name, c.Target.Engine(), c.Strategy, c.Account, round))
		}
	}
	for _, c := range rig.AccountCases(pg, maria) {
		s, err := w.Provision(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		w.rotate(t, s, accountFunc)
		collect(fmt.Sprintf("e2e TestAccountMode: %s (%s, %s) in %s", c.Name, c.Target.Engine(), c.Strategy, c.Account))
	}

	created, err := w.SecretsManager(memberA).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(rig.GenericSecretName), SecretString: aws.String(rig.GenericSecretValue()), Tags: rig.RotateTags(),
	})
	if err != nil {
		t.Fatal(err)
	}
	gen := &rig.Secret{Case: rig.Case{Name: rig.GenericSecretName, Account: memberA}, ARN: aws.ToString(created.ARN)}
	w.rotate(t, gen, genericFunc)
	collect("e2e TestGenericUnderRIE: " + gen.Name + " in " + gen.Account + " by the generic function")

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
		out = append(out, scenario{"fleet test (small run, central mode, members A and B)", r})
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
	for _, suite := range suitePrefixes {
		found := ""
		for _, msg := range bad {
			if strings.HasPrefix(msg, "must allow "+suite) && strings.Contains(msg, "secretsmanager:") {
				found = msg
				break
			}
		}
		if found == "" {
			t.Errorf("without the %d RotateTaggedSecrets* statements, no request of %q failed the verdict", removed, suite)
			continue
		}
		t.Logf("as expected: %s", found)
	}
}
