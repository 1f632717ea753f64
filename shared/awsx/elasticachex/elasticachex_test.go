package elasticachex_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestCentralModeUsesTheSecretsAccount: in central mode the ElastiCache
// calls for a secret in member account B are made with B's assumed role, in
// the secret's region, and reach B's user; a secret in an account the
// function may not reach gets no ElastiCache call at all.
func TestCentralModeUsesTheSecretsAccount(t *testing.T) {
	const memberB, denied, region = "222222222222", "444444444444", "eu-west-1"
	s := localaws.Start(t)
	s.AddAccount(memberB)
	s.AddRole(localaws.Role{Account: memberB, Name: awsx.DefaultRoleName, TrustedAccounts: []string{localaws.DefaultAccount}})
	var applied []string
	userARN := s.AddElastiCacheUser(localaws.ElastiCacheUser{Account: memberB, Region: region, UserID: "app-user", UserName: "app",
		Apply: func(_ context.Context, _ string, pw []string) error { applied = pw; return nil },
		Tags:  map[string]string{"rotary:rotate": "true", "rotary:secret": "app/cache"}}, 1)
	base := s.AWSConfig(s.DefaultCredentials(), "us-east-1")
	clients := awsx.New(base, awsx.Config{Mode: awsx.ModeCentral, AllowedAccounts: []string{memberB}, HomeAccount: localaws.DefaultAccount})
	users := elasticachex.New(clients)
	secretB := "arn:aws:secretsmanager:" + region + ":" + memberB + ":secret:app/cache-AbCdEf"

	s.ResetCalls()
	u, err := users.DescribeUser(t.Context(), secretB, "token-1", "app-user")
	if err != nil {
		t.Fatal(err)
	}
	if u.UserName != "app" || u.Status != "active" || u.Authentication != "password" || u.PasswordCount != 1 {
		t.Errorf("DescribeUser = %+v", u)
	}
	if u.ARN != userARN {
		t.Errorf("DescribeUser ARN = %q, want %q", u.ARN, userARN)
	}
	tags, err := users.UserTags(t.Context(), secretB, "token-1", u.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 2 || tags["rotary:secret"] != "app/cache" || tags["rotary:rotate"] != "true" {
		t.Errorf("UserTags = %v", tags)
	}
	if n := s.Calls("ListTagsForResource", memberB); n != 1 {
		t.Errorf("%d ListTagsForResource calls in %s, want 1", n, memberB)
	}
	if err := users.SetPasswords(t.Context(), secretB, "token-1", "app-user", []string{"pending-Password-00001", "current-Password-0001"}); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 {
		t.Errorf("the cache got %d passwords, want 2", len(applied))
	}
	if n := s.Calls("ModifyUser", memberB); n != 1 {
		t.Errorf("%d ModifyUser calls in %s, want 1", n, memberB)
	}
	if n := s.Calls("DescribeUsers", localaws.DefaultAccount); n != 0 {
		t.Errorf("%d DescribeUsers calls in the central account, want 0", n)
	}

	s.ResetCalls()
	_, err = users.DescribeUser(t.Context(), "arn:aws:secretsmanager:"+region+":"+denied+":secret:x-AbCdEf", "token-1", "app-user")
	if !errors.Is(err, awsx.ErrAccountNotAllowed) {
		t.Fatalf("DescribeUser in a denied account: %v, want ErrAccountNotAllowed", err)
	}
	if n := s.TotalCalls(); n != 0 {
		t.Errorf("%d calls for a denied account, want 0", n)
	}
}
