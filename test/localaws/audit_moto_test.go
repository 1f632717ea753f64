package localaws_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// auditMotoExceptions are the audit checks whose state moto_server cannot
// hold; they are tested against localaws only (shared/audit's
// TestChecksAgainstLocalaws). Keep in sync with README.md.
var auditMotoExceptions = map[audit.Check]string{
	audit.RotationOverdue:    "needs a LastRotatedDate/CreatedDate in the past; moto dates everything with its own clock",
	audit.Unused:             "needs an old LastAccessedDate; moto's ListSecrets/DescribeSecret have no LastAccessedDate",
	audit.ReplicationFailed:  "moto's ReplicateSecretToRegions always reports InSync",
	audit.MalformedPolicy:    "AWS refuses a malformed policy (MalformedPolicyDocumentException), so localaws holds one only when planted; moto accepts any string",
	audit.AccountUnreachable: "moto has no trust policies or ExternalId checks (covered by TestBadInputPerAccount)",
	audit.SecretUnreadable:   "needs a denied call; moto has no IAM (covered by TestBadInputPerAccount)",
}

type oneClient struct{ c *secretsmanager.Client }

func (o oneClient) Client(context.Context, string, string) (audit.SecretsManagerAPI, error) {
	return o.c, nil
}

// TestAuditDifferentialMoto plants the same states through the API in
// moto_server and in localaws, audits each with the same metadata calls and
// compares the findings.
func TestAuditDifferentialMoto(t *testing.T) {
	motoURL := startMoto(t)
	s := localaws.Start(t)
	failing := localaws.HandlerFunction(func(context.Context, []byte) ([]byte, error) { return nil, errors.New("target unreachable") })
	const fleetFn = "arn:aws:lambda:eu-west-1:123456789012:function:rotary-central"
	const foreignFn = "arn:aws:lambda:eu-west-1:999999999999:function:exfiltrate"
	s.RegisterFunction(fleetFn, failing)
	s.RegisterFunction(foreignFn, failing)
	ours := secretsmanager.NewFromConfig(s.AWSConfig(s.DefaultCredentials(), region))
	moto := secretsmanager.NewFromConfig(aws.Config{
		Region: region, BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAMOTOMOTOMOTO0001", "moto-secret", ""),
	})

	plant := func(t *testing.T, c *secretsmanager.Client, isMoto bool) {
		ctx := t.Context()
		create := func(name, kms string, tags ...string) string {
			in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("never-read")}
			if kms != "" {
				in.KmsKeyId = aws.String(kms)
			}
			for _, k := range tags {
				in.Tags = append(in.Tags, smTag(k))
			}
			out, err := c.CreateSecret(ctx, in)
			if err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			return aws.ToString(out.ARN)
		}
		// rotate starts a rotation that fails: localaws invokes the failing
		// function; moto cannot invoke it and answers an error, leaving the
		// same configuration and AWSPENDING version behind.
		rotate := func(id, fn string) {
			_, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(id), RotationLambdaARN: aws.String(fn),
				RotationRules: &smRules{AutomaticallyAfterDays: aws.Int64(30)}})
			if err != nil && !isMoto {
				t.Fatalf("rotate %s: %v", id, err)
			}
		}
		policy := func(id, doc string) {
			if _, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(id), ResourcePolicy: aws.String(doc)}); err != nil {
				t.Fatalf("put policy %s: %v", id, err)
			}
		}
		create("app/no-rotation", "", "team")                               // rotation-disabled, aws-managed-key
		create("app/cmk", "alias/app", "team")                              // rotation-disabled only
		create("Legacy_Name", "alias/app", "team")                          // name-convention
		create("app/untagged", "alias/app")                                 // missing-tags
		rotate(create("app/stuck-fleet", "alias/app", "team"), fleetFn)     // rotation-stuck
		rotate(create("app/stuck-foreign", "alias/app", "team"), foreignFn) // rotation-stuck, outside fleet
		cleared := create("app/pending-cleared", "alias/app", "team")
		rotate(cleared, fleetFn)
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(cleared)})
		if err != nil {
			t.Fatal(err)
		}
		for id, st := range d.VersionIdsToStages {
			if slices.Contains(st, "AWSPENDING") && !slices.Contains(st, "AWSCURRENT") {
				if _, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(cleared),
					VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(id)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		policy(create("app/public", "alias/app", "team"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
		policy(create("app/external", "alias/app", "team"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`)
		policy(create("app/org-only", "alias/app", "team"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}}]}`)
		doomed := create("app/doomed", "alias/app", "team")
		rotate(doomed, fleetFn)
		if _, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(doomed), VersionStage: aws.String("AWSPENDING"),
			RemoveFromVersionId: aws.String(pendingOf(t, c, doomed))}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(doomed), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := audit.DefaultConfig()
	cfg.StuckAfter = 0  // both servers date the pending version "now"
	cfg.UnusedAfter = 0 // moto has no LastAccessedDate
	cfg.RequiredTags = []string{"team"}
	cfg.OrgID = "o-abcdefghij"
	cfg.NamePattern = regexpMust(`[a-z]+/[a-z0-9/-]+`)
	run := func(t *testing.T, c *secretsmanager.Client, isMoto bool) ([]string, map[audit.Check]bool) {
		plant(t, c, isMoto)
		rep := (&audit.Scanner{Config: cfg, Clients: oneClient{c}, Home: localaws.DefaultAccount,
			Accounts: []string{localaws.DefaultAccount}, Regions: []string{region}}).Run(t.Context())
		var lines []string
		seen := map[audit.Check]bool{}
		for _, f := range rep.Findings {
			lines = append(lines, fmt.Sprintf("%s %s %s", f.SecretName, f.Check, f.Severity))
			seen[f.Check] = true
		}
		slices.Sort(lines)
		return lines, seen
	}
	got, seen := run(t, ours, false)
	fromMoto, _ := run(t, moto, true)
	if diff := cmp.Diff(fromMoto, got); diff != "" {
		t.Errorf("audit findings differ (-moto +localaws):\n%s", diff)
	}
	t.Logf("same findings on both:\n%s", strings.Join(got, "\n"))
	for _, c := range audit.Checks {
		_, excepted := auditMotoExceptions[c.Check]
		if seen[c.Check] == excepted {
			t.Errorf("check %s: found on both servers = %v, listed as a moto exception = %v", c.Check, seen[c.Check], excepted)
		}
	}
	if n := s.Calls("GetSecretValue", ""); n != 0 {
		t.Errorf("%d GetSecretValue calls", n)
	}
}

func pendingOf(t *testing.T, c *secretsmanager.Client, id string) string {
	t.Helper()
	d, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	for v, st := range d.VersionIdsToStages {
		if slices.Contains(st, "AWSPENDING") && !slices.Contains(st, "AWSCURRENT") {
			return v
		}
	}
	t.Fatalf("%s has no pending version", id)
	return ""
}

type smRules = smtypes.RotationRulesType

func smTag(k string) smtypes.Tag { return smtypes.Tag{Key: aws.String(k), Value: aws.String("x")} }

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + s + `)$`) }
