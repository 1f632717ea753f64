package localaws_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// noRetry returns a client that makes exactly one attempt per call.
func noRetry(s *localaws.Server, c localaws.Credentials) *secretsmanager.Client {
	cfg := s.AWSConfig(c, region)
	cfg.RetryMaxAttempts = 1
	return secretsmanager.NewFromConfig(cfg)
}

func TestFaults(t *testing.T) {
	get := func(c *secretsmanager.Client) func(t *testing.T) error {
		return func(t *testing.T) error {
			_, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("f")})
			return err
		}
	}
	tests := []struct {
		name      string
		fault     localaws.Fault
		retry     bool   // use the SDK's default retryer
		code      string // error the caller sees
		wantCalls int    // GetSecretValue calls the server saw
	}{
		{"throttle once, SDK retries", localaws.Fault{Operation: "GetSecretValue", Kind: localaws.Throttle, Count: 1}, true, "", 2},
		{"throttle without retries", localaws.Fault{Operation: "GetSecretValue", Kind: localaws.Throttle, Count: 1}, false, "ThrottlingException", 1},
		{"internal error without retries", localaws.Fault{Operation: "GetSecretValue", Kind: localaws.InternalError}, false, "InternalServiceError", 1},
		{"internal error exhausts the SDK's 3 attempts", localaws.Fault{Operation: "GetSecretValue", Kind: localaws.InternalError}, true, "InternalServiceError", 3},
		{"other operation untouched", localaws.Fault{Operation: "PutSecretValue", Kind: localaws.InternalError}, false, "", 1},
		{"other account untouched", localaws.Fault{Account: accountB, Kind: localaws.InternalError}, false, "", 1},
		{"after two calls", localaws.Fault{Operation: "GetSecretValue", Kind: localaws.Throttle, After: 2, Count: 1}, false, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := localaws.Start(t)
			mustCreate(t, smClient(s, s.DefaultCredentials()), "f", "v")
			s.InjectFault(tt.fault)
			c := noRetry(s, s.DefaultCredentials())
			if tt.retry {
				c = smClient(s, s.DefaultCredentials())
			}
			err := get(c)(t)
			if got := code(err); got != tt.code {
				t.Fatalf("error = %q (%v), want %q", got, err, tt.code)
			}
			if got := s.Calls("GetSecretValue", localaws.DefaultAccount); got != tt.wantCalls {
				t.Errorf("GetSecretValue calls = %d, want %d", got, tt.wantCalls)
			}
			if tt.code == "InternalServiceError" {
				var ise *types.InternalServiceError
				if !errors.As(err, &ise) {
					t.Errorf("error %T is not *types.InternalServiceError", err)
				}
			}
		})
	}
	t.Run("After then Count", func(t *testing.T) {
		s := localaws.Start(t)
		mustCreate(t, smClient(s, s.DefaultCredentials()), "f", "v")
		s.InjectFault(localaws.Fault{Operation: "GetSecretValue", Kind: localaws.Throttle, After: 2, Count: 1})
		c := noRetry(s, s.DefaultCredentials())
		var got []string
		for range 4 {
			got = append(got, code(get(c)(t)))
		}
		if diff := cmp.Diff([]string{"", "", "ThrottlingException", ""}, got); diff != "" {
			t.Errorf("codes (-want +got):\n%s", diff)
		}
		s.InjectFault(localaws.Fault{Kind: localaws.InternalError})
		s.ClearFaults()
		if err := get(c)(t); err != nil {
			t.Errorf("after ClearFaults: %v", err)
		}
	})
}

// TestAppliedThenFailed checks that the write happens, the caller sees an
// InternalServiceError, and the SDK's retry with the same token then succeeds
// as AWS's idempotency promises.
func TestAppliedThenFailed(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	mustCreate(t, c, "atf", "one")

	s.InjectFault(localaws.Fault{Operation: "PutSecretValue", Kind: localaws.AppliedThenFailed, Count: 1})
	out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("atf"), ClientRequestToken: aws.String(token("v2")), SecretString: aws.String("two"), VersionStages: []string{"AWSPENDING"}})
	if err != nil {
		t.Fatalf("PutSecretValue with an SDK retry: %v", err)
	}
	if s.Calls("PutSecretValue", "") != 2 || aws.ToString(out.VersionId) != token("v2") {
		t.Errorf("calls %d, version %s; want 2 calls and the token's version", s.Calls("PutSecretValue", ""), aws.ToString(out.VersionId))
	}

	// UpdateSecretVersionStage has no idempotency token: the SDK's retry
	// finds the label already moved and fails; the write stands.
	s.InjectFault(localaws.Fault{Operation: "UpdateSecretVersionStage", Kind: localaws.AppliedThenFailed, Count: 1})
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("atf"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token("v2")), RemoveFromVersionId: aws.String(token("v1"))})
	if code(err) != "InvalidParameterException" {
		t.Fatalf("UpdateSecretVersionStage retried after being applied: %v, want InvalidParameterException", err)
	}
	s.InjectFault(localaws.Fault{Operation: "UpdateSecretVersionStage", Kind: localaws.AppliedThenFailed, Count: 1})
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("atf"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(token("v2"))})
	if code(err) != "InvalidParameterException" {
		t.Fatalf("removing AWSPENDING retried after being applied: %v, want InvalidParameterException", err)
	}
	if diff := cmp.Diff(map[string][]string{token("v1"): {"AWSPREVIOUS"}, token("v2"): {"AWSCURRENT"}}, stagesOf(t, c, "atf")); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}

	t.Run("without retries the caller sees the error but the write stands", func(t *testing.T) {
		s.InjectFault(localaws.Fault{Operation: "PutSecretValue", Kind: localaws.AppliedThenFailed, Count: 1})
		_, err := noRetry(s, s.DefaultCredentials()).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("atf"), ClientRequestToken: aws.String(token("v3")), SecretString: aws.String("three")})
		if code(err) != "InternalServiceError" {
			t.Fatalf("error = %v, want InternalServiceError", err)
		}
		v, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("atf")})
		if err != nil || aws.ToString(v.SecretString) != "three" {
			t.Fatalf("AWSCURRENT after the failed call: %v; want the applied write", err)
		}
	})
}

// TestAppliedThenFailedRotateSecret: the rotation ran inside the first
// attempt; the SDK's retry with the same token must not start another one.
func TestAppliedThenFailedRotateSecret(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	arn := aws.ToString(mustCreate(t, c, "rot/atf", `{"password":"old"}`).ARN)
	inProcess(s, c, nil, nil)
	s.InjectFault(localaws.Fault{Operation: "RotateSecret", Kind: localaws.AppliedThenFailed, Count: 1})
	out, err := rotate(t, c, arn, token("r1"))
	if err != nil || aws.ToString(out.VersionId) != token("r1") {
		t.Fatalf("RotateSecret with an SDK retry = %v, %v", out, err)
	}
	if runs := s.Rotations(arn); len(runs) != 1 || runs[0].Outcome != localaws.Succeeded {
		t.Fatalf("runs = %+v, want exactly one success", runs)
	}
	if got := s.Calls("RotateSecret", ""); got != 2 {
		t.Errorf("RotateSecret calls = %d, want 2", got)
	}
}

func TestFaultLatencyAndSTS(t *testing.T) {
	s := localaws.Start(t)
	c := noRetry(s, s.DefaultCredentials())
	ctx := t.Context()
	s.InjectFault(localaws.Fault{Operation: "ListSecrets", Kind: localaws.Latency, Latency: 60 * time.Millisecond, Count: 1})
	start := time.Now()
	if _, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("ListSecrets took %v, want at least the injected 60ms", d)
	}
	s.AddRole(localaws.Role{Account: accountB, Name: "R", TrustedAccounts: []string{localaws.DefaultAccount}})
	s.InjectFault(localaws.Fault{Operation: "AssumeRole", Kind: localaws.Throttle, Count: 1})
	cfg := s.AWSConfig(s.DefaultCredentials(), region)
	cfg.RetryMaxAttempts = 1
	_, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + accountB + ":role/R"), RoleSessionName: aws.String("s1")})
	if code(err) != "Throttling" {
		t.Errorf("AssumeRole under a throttle fault: %v, want Throttling", err)
	}
}

// TestFaultSeed checks that probabilistic faults repeat with the same seed.
func TestFaultSeed(t *testing.T) {
	pattern := func(seed uint64) string {
		s := localaws.Start(t, localaws.Options{Seed: seed})
		mustCreate(t, smClient(s, s.DefaultCredentials()), "f", "v")
		s.InjectFault(localaws.Fault{Operation: "GetSecretValue", Kind: localaws.Throttle, Probability: 0.3})
		c := noRetry(s, s.DefaultCredentials())
		out := make([]byte, 40)
		for i := range out {
			out[i] = '.'
			if _, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("f")}); err != nil {
				out[i] = 'x'
			}
		}
		return string(out)
	}
	a, b, other := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Errorf("seed 7 gave %s then %s", a, b)
	}
	if a == other {
		t.Errorf("seeds 7 and 8 gave the same pattern %s", a)
	}
	n := 0
	for _, ch := range a {
		if ch == 'x' {
			n++
		}
	}
	if n < 4 || n > 24 {
		t.Errorf("%d of 40 calls faulted at probability 0.3: %s", n, a)
	}
}

func TestCounters(t *testing.T) {
	s := localaws.Start(t)
	credsB := s.AddAccount(accountB)
	a, b := smClient(s, s.DefaultCredentials()), smClient(s, credsB)
	ctx := t.Context()
	mustCreate(t, a, "x", "v")
	mustCreate(t, b, "x", "v")
	for range 3 {
		if _, err := a.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := stsClient(s, credsB).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		op, account string
		want        int
	}{
		{"GetSecretValue", localaws.DefaultAccount, 3},
		{"GetSecretValue", accountB, 1},
		{"GetSecretValue", "", 4},
		{"CreateSecret", "", 2},
		{"", accountB, 3},
		{"GetCallerIdentity", accountB, 1},
		{"", "", 7},
	}
	for _, tt := range tests {
		t.Run(tt.op+"/"+tt.account, func(t *testing.T) {
			if got := s.Calls(tt.op, tt.account); got != tt.want {
				t.Errorf("Calls(%q, %q) = %d, want %d", tt.op, tt.account, got, tt.want)
			}
		})
	}
	if got := s.TotalCalls(); got != 7 {
		t.Errorf("TotalCalls = %d, want 7", got)
	}
	s.ResetCalls()
	if got := s.TotalCalls() + s.Calls("", ""); got != 0 {
		t.Errorf("after ResetCalls: %d", got)
	}
}
