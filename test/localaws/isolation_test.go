package localaws_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const accountB = "222222222222"

func TestAccountIsolation(t *testing.T) {
	s := localaws.Start(t)
	credsA := s.DefaultCredentials()
	credsB := s.AddAccount(accountB)
	a, b := smClient(s, credsA), smClient(s, credsB)
	ctx := t.Context()
	mustCreate(t, a, "app/db", "value-a")
	arnB := aws.ToString(mustCreate(t, b, "app/db", "value-b").ARN)
	mustCreate(t, b, "only-in-b", "value-b2")
	if !strings.Contains(arnB, ":"+accountB+":") {
		t.Fatalf("B's ARN %s is not in account %s", arnB, accountB)
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"A reads its own secret by name", func() error {
			out, err := a.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
			if err == nil && aws.ToString(out.SecretString) != "value-a" {
				t.Errorf("A read %q, want its own value", aws.ToString(out.SecretString))
			}
			return err
		}, ""},
		{"A cannot read B's secret by ARN", func() error {
			_, err := a.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arnB)})
			return err
		}, "AccessDeniedException"},
		{"A cannot describe B's secret by ARN", func() error {
			_, err := a.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arnB)})
			return err
		}, "AccessDeniedException"},
		{"A cannot write B's secret by ARN", func() error {
			_, err := a.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arnB), SecretString: aws.String("x")})
			return err
		}, "AccessDeniedException"},
		{"A cannot delete B's secret by ARN", func() error {
			_, err := a.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arnB), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}, "AccessDeniedException"},
		{"A does not see B's names", func() error {
			_, err := a.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("only-in-b")})
			return err
		}, "ResourceNotFoundException"},
		{"A lists only its own secrets", func() error {
			out, err := a.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			if err == nil && (len(out.SecretList) != 1 || strings.Contains(aws.ToString(out.SecretList[0].ARN), accountB)) {
				t.Errorf("A lists %d secrets (first %s), want only its own", len(out.SecretList), aws.ToString(out.SecretList[0].ARN))
			}
			return err
		}, ""},
		{"A's batch get of B's ARN is an error entry", func() error {
			out, err := a.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{arnB}})
			if err == nil && (len(out.SecretValues) != 0 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "AccessDeniedException") {
				t.Errorf("batch: %d values, errors %+v; want one AccessDeniedException", len(out.SecretValues), out.Errors)
			}
			return err
		}, ""},
		{"the same account in another region is another store", func() error {
			other := secretsmanager.NewFromConfig(s.AWSConfig(credsA, "us-west-2"))
			_, err := other.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")})
			return err
		}, "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(tt.call()); got != tt.code {
				t.Fatalf("error = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestAssumeRole(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s := localaws.Start(t, localaws.Options{Now: clk.Now})
	credsA := s.DefaultCredentials()
	credsB := s.AddAccount(accountB)
	mustCreate(t, smClient(s, credsB), "member/db", "value-b")
	roleARN := s.AddRole(localaws.Role{Account: accountB, Name: "RotaryMember", TrustedAccounts: []string{localaws.DefaultAccount}, ExternalID: "rotary-ext-1"})
	untrusting := s.AddRole(localaws.Role{Account: accountB, Name: "Other", TrustedAccounts: []string{"333333333333"}})
	stsA := stsClient(s, credsA)
	ctx := t.Context()
	tests := []struct {
		name string
		in   sts.AssumeRoleInput
		code string
	}{
		{"unknown role", sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + accountB + ":role/Nope"), RoleSessionName: aws.String("rotary"), ExternalId: aws.String("rotary-ext-1")}, "AccessDenied"},
		{"role not trusting the caller", sts.AssumeRoleInput{RoleArn: aws.String(untrusting), RoleSessionName: aws.String("rotary")}, "AccessDenied"},
		{"wrong ExternalId", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("rotary"), ExternalId: aws.String("rotary-ext-2")}, "AccessDenied"},
		{"missing ExternalId", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("rotary")}, "AccessDenied"},
		{"invalid session name", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("a b!"), ExternalId: aws.String("rotary-ext-1")}, "ValidationError"},
		{"duration over the role's maximum", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("rotary"), ExternalId: aws.String("rotary-ext-1"), DurationSeconds: aws.Int32(7200)}, "ValidationError"},
		{"trusted with the right ExternalId", sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("rotary"), ExternalId: aws.String("rotary-ext-1")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stsA.AssumeRole(ctx, &tt.in)
			if got := code(err); got != tt.code {
				t.Fatalf("AssumeRole error = %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "AccessDenied" && !strings.Contains(message(err), "is not authorized to perform: sts:AssumeRole on resource: ") {
				t.Errorf("message %q lacks AWS's text", message(err))
			}
		})
	}

	out, err := stsA.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("rotary"), ExternalId: aws.String("rotary-ext-1"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	assumed := localaws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken),
	}
	if !strings.HasPrefix(assumed.AccessKeyID, "ASIA") || !out.Credentials.Expiration.Equal(clk.Now().Add(15*time.Minute)) {
		t.Errorf("credentials %s expiring %v; want ASIA… expiring in 15 minutes", assumed.AccessKeyID, out.Credentials.Expiration)
	}
	if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::"+accountB+":assumed-role/RotaryMember/rotary"; got != want {
		t.Errorf("AssumedRoleUser.Arn = %s, want %s", got, want)
	}
	t.Run("assumed credentials act in the role's account", func(t *testing.T) {
		id, err := stsClient(s, assumed).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(id.Account) != accountB {
			t.Fatalf("GetCallerIdentity = %v, %v; want account %s", id, err, accountB)
		}
		v, err := smClient(s, assumed).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("member/db")})
		if err != nil || aws.ToString(v.SecretString) != "value-b" {
			t.Fatalf("GetSecretValue as the role = %v; want B's secret", err)
		}
	})
	t.Run("a wrong session token is refused", func(t *testing.T) {
		bad := assumed
		bad.SessionToken = "forged"
		_, err := smClient(s, bad).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		if code(err) != "UnrecognizedClientException" {
			t.Fatalf("ListSecrets with a forged session token: %v, want UnrecognizedClientException", err)
		}
	})
	t.Run("expired credentials are refused", func(t *testing.T) {
		clk.Advance(16 * time.Minute)
		_, err := smClient(s, assumed).ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
		if code(err) != "ExpiredTokenException" {
			t.Fatalf("ListSecrets with expired credentials: %v, want ExpiredTokenException", err)
		}
	})
	if got := s.Calls("AssumeRole", localaws.DefaultAccount); got != len(tests)+1 {
		t.Errorf("Calls(AssumeRole, A) = %d, want %d", got, len(tests)+1)
	}
}

// TestRecoveryWindow: a secret scheduled for deletion is gone for good once
// its recovery window ends, and its name is free again.
func TestRecoveryWindow(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	s := localaws.Start(t, localaws.Options{Now: clk.Now})
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	mustCreate(t, c, "old", "v")
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("old"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(6 * 24 * time.Hour)
	if _, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("old")}); err != nil {
		t.Fatalf("inside the window: %v", err)
	}
	clk.Advance(24 * time.Hour)
	if _, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("old")}); code(err) != "ResourceNotFoundException" {
		t.Fatalf("after the window: %v, want ResourceNotFoundException", err)
	}
	mustCreate(t, c, "old", "new")
}

// TestVerifySignatures: with VerifySignatures, the SDK's requests (JSON and
// Query, long-term and assumed-role keys) pass, and a wrong secret key fails.
func TestVerifySignatures(t *testing.T) {
	s := localaws.Start(t, localaws.Options{VerifySignatures: true})
	good := s.DefaultCredentials()
	s.AddAccount(accountB)
	roleARN := s.AddRole(localaws.Role{Account: accountB, Name: "R", TrustedAccounts: []string{localaws.DefaultAccount}})
	ctx := t.Context()
	mustCreate(t, smClient(s, good), "signed", "v")
	out, err := stsClient(s, good).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("sig")})
	if err != nil {
		t.Fatalf("AssumeRole with a valid signature: %v", err)
	}
	assumed := localaws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}
	if _, err := smClient(s, assumed).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("ListSecrets with assumed-role keys: %v", err)
	}
	bad := good
	bad.SecretAccessKey = "wrong" + good.SecretAccessKey[5:]
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"Secrets Manager", func() error {
			_, err := smClient(s, bad).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("signed")})
			return err
		}, "InvalidSignatureException"},
		{"STS", func() error {
			_, err := stsClient(s, bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(tt.call()); got != tt.code {
				t.Fatalf("error = %q, want %q", got, tt.code)
			}
		})
	}
}
