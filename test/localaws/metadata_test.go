package localaws_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/test/localaws"
)

func TestResourcePolicies(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	arn := aws.ToString(mustCreate(t, c, "p", "v").ARN)
	get := func() *string {
		out, err := c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return out.ResourcePolicy
	}
	if p := get(); p != nil {
		t.Fatalf("new secret has policy %q", *p)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	if _, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("p"), ResourcePolicy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
	if p := get(); p == nil || *p != doc {
		t.Fatalf("policy %v, want the stored document", p)
	}
	for _, bad := range []string{"not json", `{"Version":"2012-10-17"}`, `[]`} {
		_, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String("p"), ResourcePolicy: aws.String(bad)})
		if code(err) != "MalformedPolicyDocumentException" {
			t.Errorf("put %q: %v, want MalformedPolicyDocumentException", bad, err)
		}
	}
	if _, err := c.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: aws.String("p")}); err != nil {
		t.Fatal(err)
	}
	if p := get(); p != nil {
		t.Fatalf("deleted policy still %q", *p)
	}
	_, err := c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String("nope")})
	if code(err) != "ResourceNotFoundException" {
		t.Errorf("unknown secret: %v", err)
	}
}

func TestSetSecretState(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	arn := aws.ToString(mustCreate(t, c, "planted", "v").ARN)
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fn := "arn:aws:lambda:eu-west-1:123456789012:function:rotary-central"
	id, err := s.SetSecretState(localaws.DefaultAccount, region, arn, localaws.SecretState{
		Created: old, LastChanged: old, LastAccessed: old, LastRotated: old, NextRotation: old.Add(24 * time.Hour),
		KmsKeyID:      "alias/planted",
		Rotation:      &localaws.PlantedRotation{LambdaARN: fn, Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(7)}},
		Pending:       &localaws.PlantedPending{Created: old, WithValue: true},
		PrimaryRegion: region,
		Replicas:      []localaws.ReplicaStatus{{Region: "us-east-2", Status: "Failed", StatusMessage: "KMS key not found"}},
		OwningService: "rds",
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !d.CreatedDate.Equal(old), !d.LastChangedDate.Equal(old), !d.LastRotatedDate.Equal(old), !d.LastAccessedDate.Equal(old.Truncate(24 * time.Hour)):
		t.Errorf("dates %v %v %v %v, want %v", d.CreatedDate, d.LastChangedDate, d.LastRotatedDate, d.LastAccessedDate, old)
	case aws.ToString(d.KmsKeyId) != "alias/planted", !aws.ToBool(d.RotationEnabled), aws.ToString(d.RotationLambdaARN) != fn, aws.ToInt64(d.RotationRules.AutomaticallyAfterDays) != 7:
		t.Errorf("configuration %+v", d)
	case !slices.Equal(d.VersionIdsToStages[id], []string{"AWSPENDING"}):
		t.Errorf("stages %v, want %s pending", d.VersionIdsToStages, id)
	case aws.ToString(d.PrimaryRegion) != region, aws.ToString(d.OwningService) != "rds",
		len(d.ReplicationStatus) != 1 || d.ReplicationStatus[0].Status != smtypes.StatusTypeFailed:
		t.Errorf("replication %v %v %+v", d.PrimaryRegion, d.OwningService, d.ReplicationStatus)
	}
	l, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(l.Versions, func(v smtypes.SecretVersionsListEntry) bool { return aws.ToString(v.VersionId) == id }); i < 0 || !l.Versions[i].CreatedDate.Equal(old) {
		t.Errorf("versions %+v: want the valued pending version created %v", l.Versions, old)
	}
	ls, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
	if err != nil || len(ls.SecretList) != 1 || !ls.SecretList[0].LastAccessedDate.Equal(old.Truncate(24*time.Hour)) || aws.ToString(ls.SecretList[0].PrimaryRegion) != region {
		t.Errorf("ListSecrets %+v, %v", ls, err)
	}
	// A placeholder without a value is not listed, as RotateSecret's.
	if _, err := s.SetSecretState(localaws.DefaultAccount, region, arn, localaws.SecretState{Pending: &localaws.PlantedPending{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSecretState(localaws.DefaultAccount, region, "missing", localaws.SecretState{}); err == nil {
		t.Error("planting on a missing secret succeeded")
	}
}

func TestAccessDeniedFault(t *testing.T) {
	s := localaws.Start(t)
	c := noRetry(s, s.DefaultCredentials())
	s.InjectFault(localaws.Fault{Operation: "ListSecrets", Kind: localaws.AccessDenied, Count: 1})
	_, err := c.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{})
	if code(err) != "AccessDeniedException" {
		t.Fatalf("err %v, want AccessDeniedException", err)
	}
	if _, err := c.ListSecrets(t.Context(), &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("second call: %v", err)
	}
	role := s.AddRole(localaws.Role{Account: "222222222222", Name: "r", TrustedAccounts: []string{localaws.DefaultAccount}})
	s.InjectFault(localaws.Fault{Operation: "AssumeRole", Kind: localaws.AccessDenied, Count: 1})
	_, err = stsClient(s, s.DefaultCredentials()).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s")})
	if code(err) != "AccessDenied" {
		t.Fatalf("AssumeRole: %v, want AccessDenied", err)
	}
}

func TestRotateSecretSetsLastChanged(t *testing.T) {
	clk := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := localaws.Start(t, localaws.Options{Now: func() time.Time { return clk }})
	c := smClient(s, s.DefaultCredentials())
	mustCreate(t, c, "r", "v")
	fn := "arn:aws:lambda:eu-west-1:123456789012:function:f"
	s.RegisterFunction(fn, localaws.HandlerFunction(func(_ ctxT, _ []byte) ([]byte, error) { return nil, errFailing }))
	clk = clk.Add(48 * time.Hour)
	if _, err := c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String("r"), RotationLambdaARN: aws.String(fn)}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("r")})
	if err != nil || !d.LastChangedDate.Equal(clk) {
		t.Fatalf("LastChangedDate %v (err %v), want the RotateSecret call's %v", d.LastChangedDate, err, clk)
	}
}

type ctxT = context.Context

var errFailing = errors.New("failing")
