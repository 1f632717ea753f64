package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// auditFleet is the demo's last step: it plants a rotation that keeps
// failing and a secret without rotation, audits the three local accounts as
// the scheduled audit function does (rig.Audit: metadata only, the members
// through their read-only audit roles) and prints the findings. It returns the number of failed checks.
func auditFleet(ctx context.Context, w *rig.World, fn *rig.Function) (int, error) {
	out.printf("\nStep 7/7  Auditing the fleet (functions/audit): every secret of the three accounts, metadata only\n")

	// A secret nobody set rotation on.
	sm := w.SecretsManager(rig.MemberA)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("reports/api-token"),
		SecretString: aws.String(`{"engine":"generic","password":"` + randomText() + `"}`)}); err != nil {
		return 0, fmt.Errorf("plant a secret without rotation: %w", err)
	}
	out.printf("  • planted reports/api-token in %s without rotation\n", rig.MemberA)

	// A rotation that fails: the central function has no rotator for this
	// engine, so createSecret fails and AWSPENDING stays; its start is then
	// dated two days back, as if it had kept failing since.
	stuck, err := w.CreateStuckSecret(ctx)
	if err != nil {
		return 0, fmt.Errorf("plant a stuck rotation: %w", err)
	}
	sm = w.SecretsManager(stuck.Account)
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(stuck.ARN), RotationLambdaARN: aws.String(fn.ARN),
		RotationRules: &smRules{AutomaticallyAfterDays: aws.Int64(30)}}); err != nil {
		return 0, fmt.Errorf("plant a stuck rotation: RotateSecret: %w", err)
	}
	w.AWS.WaitRotations()
	runs := w.AWS.Rotations(stuck.ARN)
	if len(runs) == 0 || runs[len(runs)-1].Outcome != localaws.Failed {
		return 0, fmt.Errorf("plant a stuck rotation: the rotation of billing/oracle-app did not fail")
	}
	if _, err := w.AWS.SetSecretState(stuck.Account, rig.Region, stuck.ARN, localaws.SecretState{LastChanged: time.Now().Add(-50 * time.Hour)}); err != nil {
		return 0, err
	}
	out.printf("  • planted billing/oracle-app in %s: its rotation fails at createSecret (no rotator for engine \"oracle\"), dated 2 days back\n", rig.MemberB)

	reads := w.AWS.Calls("GetSecretValue", "") + w.AWS.Calls("BatchGetSecretValue", "")
	rep := w.Audit(ctx, w.Account(rig.CentralAccount), fn.ARN, "rotary-*")
	reads = w.AWS.Calls("GetSecretValue", "") + w.AWS.Calls("BatchGetSecretValue", "") - reads

	out.printf("\n  Audit of %d secrets in %d accounts: %d findings\n\n", rep.Summary.Secrets, rep.Summary.Accounts, rep.Summary.Findings)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEVERITY\tCHECK\tACCOUNT\tSECRET\tFINDING")
	low := map[audit.Check]int{}
	for _, f := range rep.Findings {
		if f.Severity < audit.Medium {
			low[f.Check]++
			continue
		}
		what, _, _ := strings.Cut(f.Detail, "; fix: ")
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Severity, f.Check, f.Account, f.SecretName, what)
	}
	out.mu.Lock()
	_ = tw.Flush()
	out.mu.Unlock()
	var lows []string
	for c, n := range low {
		lows = append(lows, fmt.Sprintf("%d %s", n, c))
	}
	slices.Sort(lows)
	if len(lows) > 0 {
		out.printf("  + low: %s (the demo's secrets use the default key aws/secretsmanager)\n", strings.Join(lows, ", "))
	}
	out.printf("  The masters of the alternating-users secrets are flagged too: rotate them on their own schedule in production.\n")
	out.printf("  Each finding says what to do (`go run ./functions/audit` prints the fix; -json for pipelines, -fail-on to gate).\n")

	failed := 0
	has := func(name string, c audit.Check) bool {
		return slices.ContainsFunc(rep.Findings, func(f audit.Finding) bool { return f.SecretName == name && f.Check == c })
	}
	if !has("billing/oracle-app", audit.RotationStuck) {
		failed++
		out.printf("  ✗ the stuck rotation of billing/oracle-app was not found\n")
	}
	if !has("reports/api-token", audit.RotationDisabled) {
		failed++
		out.printf("  ✗ reports/api-token without rotation was not found\n")
	}
	for _, name := range []string{"orders/postgres-single", "billing/mariadb-single"} {
		if has(name, audit.RotationStuck) || has(name, audit.RotationDisabled) {
			failed++
			out.printf("  ✗ %s was rotated above but is flagged\n", name)
		}
	}
	if reads != 0 {
		failed++
		out.printf("  ✗ the audit read %d secret values\n", reads)
	} else {
		out.printf("  No secret value was read by the audit (0 GetSecretValue calls).\n")
	}
	return failed, nil
}

type smRules = smtypes.RotationRulesType

// randomText is a fresh throwaway value for the planted secrets.
func randomText() string { return "demo-" + rand.Text() }
