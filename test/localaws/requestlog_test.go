package localaws_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestRequestLog checks what the request log records for the IAM oracle
// (test/iam): the assumed-role principal, the action, the secret's ARN, its
// tags and rotation function, the KMS call behind a customer managed key, the
// ExternalId and organization of an AssumeRole, and the JSON lines file.
func TestRequestLog(t *testing.T) {
	file := filepath.Join(t.TempDir(), "requests.jsonl")
	s := localaws.Start(t, localaws.Options{Region: region, RequestLogFile: file})
	const member, org = "222222222222", "o-exampleorg1"
	home := s.DefaultCredentials()
	s.AddRole(localaws.Role{Account: member, Name: "rotary-member", TrustedAccounts: []string{localaws.DefaultAccount}, ExternalID: "ext-id"})
	s.SetOrganization(org, localaws.DefaultAccount, member)
	memberCreds := s.AddAccount(member)

	const key = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	out, err := smClient(s, memberCreds).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String(`{"password":"never-logged"}`), KmsKeyId: aws.String(key),
		Tags: []smtypes.Tag{{Key: aws.String("rotary:rotate"), Value: aws.String("true")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	role, err := stsClient(s, home).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/rotary-member"), RoleSessionName: aws.String("rotary-test"), ExternalId: aws.String("ext-id"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := role.Credentials
	assumed := localaws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken, Account: member}
	s.ResetRequestLog()
	if _, err := stsClient(s, home).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::222222222222:role/rotary-member"), RoleSessionName: aws.String("no-ext"),
	}); code(err) != "AccessDenied" {
		t.Fatalf("AssumeRole without ExternalId: %v, want AccessDenied", err)
	}
	if _, err := smClient(s, assumed).GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: out.ARN}); err != nil {
		t.Fatal(err)
	}

	log := s.RequestLog()
	if len(log) != 3 {
		t.Fatalf("logged %d requests, want 3: %+v", len(log), log)
	}
	ar, get, dec := log[0], log[1], log[2]
	if ar.Action != "sts:AssumeRole" || ar.Resource != "arn:aws:iam::222222222222:role/rotary-member" || ar.Context["sts:ExternalId"] != nil ||
		!slices.Equal(ar.Context["aws:PrincipalOrgID"], []string{org}) || ar.PrincipalAccount != localaws.DefaultAccount {
		t.Errorf("AssumeRole logged as %+v", ar)
	}
	if get.Action != "secretsmanager:GetSecretValue" || get.Resource != *out.ARN || get.RoleARN != "arn:aws:iam::222222222222:role/rotary-member" ||
		get.Session != "rotary-test" || get.Principal != "arn:aws:sts::222222222222:assumed-role/rotary-member/rotary-test" ||
		!slices.Equal(get.Context["aws:ResourceTag/rotary:rotate"], []string{"true"}) || get.ResourceAccount != member {
		t.Errorf("GetSecretValue logged as %+v", get)
	}
	if dec.Action != "kms:Decrypt" || dec.Resource != key || dec.Via != "secretsmanager" ||
		!slices.Equal(dec.Context["kms:ViaService"], []string{"secretsmanager.eu-west-1.amazonaws.com"}) {
		t.Errorf("KMS call logged as %+v", dec)
	}

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []localaws.LoggedRequest
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var e localaws.LoggedRequest
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sc.Text(), "never-logged") {
			t.Fatal("a secret value reached the log")
		}
		lines = append(lines, e)
	}
	if len(lines) < 3 || lines[len(lines)-1].Action != "kms:Decrypt" {
		t.Errorf("the JSON lines file holds %d entries, the last %+v", len(lines), lines[len(lines)-1:])
	}
}

// TestRequestLogRDS: an RDS describe call is logged with the DB ARN it names
// (or the account's db:* when it names none), whoever answers it.
func TestRequestLogRDS(t *testing.T) {
	s := localaws.Start(t, localaws.Options{Region: region})
	c := rds.NewFromConfig(s.AWSConfig(s.DefaultCredentials(), region), func(o *rds.Options) { o.RetryMaxAttempts = 1 })
	const db = "arn:aws:rds:eu-west-1:123456789012:db:orders"
	_, _ = c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(db)})
	_, _ = c.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("reports")})
	_, _ = c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{})
	var got []string
	for _, e := range s.RequestLog() {
		got = append(got, e.Action+" "+e.Resource+" "+e.PrincipalAccount)
	}
	want := []string{
		"rds:DescribeDBInstances " + db + " 123456789012",
		"rds:DescribeDBClusters arn:aws:rds:eu-west-1:123456789012:cluster:reports 123456789012",
		"rds:DescribeDBInstances arn:aws:rds:eu-west-1:123456789012:db:* 123456789012",
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}
