package iamx

import (
	"testing"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestOneIAMClientPerAccount: a warm container builds one IAM client per
// account and region, whatever the number of rotations, and assumes a member
// role once.
func TestOneIAMClientPerAccount(t *testing.T) {
	const central, member, region = "111111111111", "222222222222", "eu-west-1"
	srv := localaws.Start(t)
	creds := srv.AddAccount(central)
	srv.AddRole(localaws.Role{Account: member, Name: awsx.DefaultRoleName, TrustedAccounts: []string{central}})
	for _, acct := range []string{central, member} {
		srv.AddUser(localaws.IAMUser{Account: acct, Name: "deploy-bot"})
	}
	c := NewWith(awsx.New(srv.AWSConfig(creds, region), awsx.Config{Mode: awsx.ModeCentral, AllowedAccounts: []string{member}, HomeAccount: central, FunctionName: "rotary-central"}), nil, nil)
	srv.ResetCalls()
	tokens := []string{"6f1c2e3d-0000-4000-8000-000000000001", "7a2b3c4d-0000-4000-8000-000000000002", "8b3c4d5e-0000-4000-8000-000000000003"}
	for _, tok := range tokens {
		for _, acct := range []string{central, member} {
			api, err := c.AccessKeys(t.Context(), "arn:aws:secretsmanager:"+region+":"+acct+":secret:app/iam-AbCdEf", tok)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := api.ListAccessKeys(t.Context(), "deploy-bot"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := c.cache.Builds(); got != 2 {
		t.Errorf("IAM clients built = %d, want 2 (one per account)", got)
	}
	if got := srv.Calls("AssumeRole", ""); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
	if got := srv.Calls("ListAccessKeys", member); got != len(tokens) {
		t.Errorf("ListAccessKeys calls in the member = %d, want %d", got, len(tokens))
	}
}
