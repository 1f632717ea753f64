package iamx_test

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/iamx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const (
	central    = "111111111111"
	memberA    = "222222222222"
	memberB    = "333333333333"
	externalID = "rotary-ext-Secret-1234"
	region     = "eu-west-1"
)

func arn(account string) string {
	return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:app/iam-AbCdEf"
}

// TestSecretsOwnAccount: in central mode the IAM calls for a member
// account's secret are made in that account, through its member role, and
// reach only that account's user of the name; a same-named user of the
// central account or of another member is untouched. A secret of an account
// not allowed gets no client (no STS call).
func TestSecretsOwnAccount(t *testing.T) {
	srv := localaws.Start(t)
	creds := srv.AddAccount(central)
	for _, acct := range []string{central, memberA, memberB} {
		if acct != central {
			srv.AddRole(localaws.Role{Account: acct, Name: awsx.DefaultRoleName, TrustedAccounts: []string{central}, ExternalID: externalID})
		}
		srv.AddUser(localaws.IAMUser{Account: acct, Name: "deploy-bot"})
		if _, err := srv.IssueUserKey(acct, "deploy-bot"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := awsx.Config{Mode: awsx.ModeCentral, AllowedAccounts: []string{memberA}, ExternalID: externalID, HomeAccount: central}
	var d rotators.Deps
	iamx.Wire(awsx.New(srv.AWSConfig(creds, region), cfg), &d)
	srv.ResetCalls()

	api, err := d.AccessKeys.AccessKeys(t.Context(), arn(memberA), "6f1c2e3d-0000-4000-8000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	id, sk, err := api.CreateAccessKey(t.Context(), "deploy-bot")
	if err != nil {
		t.Fatal(err)
	}
	who, err := api.CallerARN(t.Context(), id, sk)
	if err != nil || who != "arn:aws:iam::"+memberA+":user/deploy-bot" {
		t.Fatalf("CallerARN = %q, %v", who, err)
	}
	srv.TagUser(memberA, "deploy-bot", "rotary:secret", arn(memberA))
	if u, tags, err := api.User(t.Context(), "deploy-bot"); err != nil || u != who || tags["rotary:secret"] != arn(memberA) {
		t.Fatalf("User = %q %v, %v", u, tags, err)
	}
	for acct, want := range map[string]int{central: 1, memberA: 2, memberB: 1} {
		if ids, _ := srv.UserKeys(acct, "deploy-bot"); len(ids) != want {
			t.Errorf("account %s: user has %d keys, want %d", acct, len(ids), want)
		}
	}
	if n := srv.Calls("CreateAccessKey", memberA); n != 1 {
		t.Errorf("%d CreateAccessKey calls in member A, want 1", n)
	}
	if n := srv.Calls("CreateAccessKey", central); n != 0 {
		t.Errorf("%d CreateAccessKey calls in the central account, want 0", n)
	}
	if err := api.DeleteAccessKey(t.Context(), "deploy-bot", id); err != nil {
		t.Fatal(err)
	}
	if err := api.DeleteAccessKey(t.Context(), "deploy-bot", id); err != nil {
		t.Errorf("deleting a deleted key: %v, want nil", err)
	}

	before := srv.Calls("AssumeRole", central)
	if _, err := d.AccessKeys.AccessKeys(t.Context(), arn(memberB), "t"); !errors.Is(err, awsx.ErrAccountNotAllowed) {
		t.Fatalf("member B (not allowed): %v, want ErrAccountNotAllowed", err)
	}
	if n := srv.Calls("AssumeRole", central); n != before {
		t.Errorf("an AssumeRole was made for a not-allowed account")
	}
}
