package localaws_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestIAMAccessKeys: keys issued by CreateAccessKey are credentials of the
// server tied to their user (sts:GetCallerIdentity answers the user), an
// Inactive or deleted key is refused, the quota is two keys, and a caller
// sees only the users of its own account; TagUser sets a user's tag and
// refuses a malformed one.
func TestIAMAccessKeys(t *testing.T) {
	s := localaws.Start(t, localaws.Options{VerifySignatures: true})
	admin := s.AddAccount("111111111111")
	other := s.AddAccount("222222222222")
	userARN := s.AddUser(localaws.IAMUser{Account: "111111111111", Name: "deploy-bot", Path: "/ci/"})
	if userARN != "arn:aws:iam::111111111111:user/ci/deploy-bot" {
		t.Fatalf("AddUser ARN %s", userARN)
	}
	c := iam.NewFromConfig(s.AWSConfig(admin, region))
	ctx := t.Context()
	user := aws.String("deploy-bot")

	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	if err != nil {
		t.Fatal(err)
	}
	key := localaws.Credentials{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
	who, err := stsClient(s, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != userARN || aws.ToString(who.Account) != "111111111111" {
		t.Fatalf("GetCallerIdentity with the new key: %v %v", who, err)
	}
	wrong := key
	wrong.SecretAccessKey = "not-the-secret-key-0123456789"
	if _, err := stsClient(s, wrong).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret key: %v", err)
	}
	got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user})
	if err != nil || aws.ToString(got.User.Arn) != userARN || aws.ToString(got.User.Path) != "/ci/" {
		t.Fatalf("GetUser: %v %v", got, err)
	}

	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user}); code(err) != "LimitExceeded" {
		t.Errorf("third key: %v, want LimitExceeded", err)
	}
	list, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
	if err != nil || len(list.AccessKeyMetadata) != 2 || list.AccessKeyMetadata[0].Status != iamtypes.StatusTypeActive {
		t.Fatalf("ListAccessKeys: %v %v", list, err)
	}

	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String(key.AccessKeyID), Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := stsClient(s, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("inactive key: %v, want InvalidClientTokenId", err)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: aws.String(key.AccessKeyID), Status: iamtypes.StatusTypeActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := stsClient(s, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("re-activated key: %v", err)
	}

	// Another account sees neither the user nor its keys.
	oc := iam.NewFromConfig(s.AWSConfig(other, region))
	if _, err := oc.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(key.AccessKeyID)}); code(err) != "NoSuchEntity" {
		t.Errorf("delete from another account: %v, want NoSuchEntity", err)
	}

	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(key.AccessKeyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := stsClient(s, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("deleted key: %v, want InvalidClientTokenId", err)
	}
	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: aws.String(key.AccessKeyID)}); code(err) != "NoSuchEntity" {
		t.Errorf("delete twice: %v, want NoSuchEntity", err)
	}
	if _, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("a'b")}); code(err) != "ValidationError" {
		t.Errorf("malformed user name: %v, want ValidationError", err)
	}
	if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")}); code(err) != "NoSuchEntity" {
		t.Errorf("unknown user: %v, want NoSuchEntity", err)
	}
	tag := func(key, value string) error {
		_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: user, Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
		return err
	}
	if err := tag("rotary:minting", "tok 1"); err != nil {
		t.Fatalf("TagUser: %v", err)
	}
	if got, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user}); err != nil || len(got.User.Tags) != 1 || aws.ToString(got.User.Tags[0].Value) != "tok 1" {
		t.Errorf("GetUser after TagUser: %v %v", got, err)
	}
	for _, bad := range [][2]string{{"", "x"}, {"bad*key", "x"}, {"k", "bad\nvalue"}, {string(make([]byte, 129)), "x"}} {
		if err := tag(bad[0], bad[1]); code(err) != "InvalidInput" {
			t.Errorf("TagUser %q=%q: %v, want InvalidInput", bad[0], bad[1], err)
		}
	}
	if _, err := oc.TagUser(ctx, &iam.TagUserInput{UserName: user, Tags: []iamtypes.Tag{{Key: aws.String("rotary:secret"), Value: aws.String("x")}}}); code(err) != "NoSuchEntity" {
		t.Errorf("TagUser from another account: %v, want NoSuchEntity", err)
	}
	if n := s.Calls("CreateAccessKey", "111111111111"); n != 3 {
		t.Errorf("%d CreateAccessKey calls counted, want 3", n)
	}
}

// TestRequestLogIAM: every IAM action is logged on the user's ARN with its
// tags as they were before the call, TagUser with the tags it writes, and no
// entry holds a secret access key.
func TestRequestLogIAM(t *testing.T) {
	s := localaws.Start(t)
	arn := s.AddUser(localaws.IAMUser{Account: localaws.DefaultAccount, Name: "bot", Path: "/ci/", Tags: map[string]string{"rotary:rotate": "true"}})
	c := iam.NewFromConfig(s.AWSConfig(s.DefaultCredentials(), region), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	ctx, user := t.Context(), aws.String("bot")
	if _, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: user, Tags: []iamtypes.Tag{{Key: aws.String("rotary:minting"), Value: aws.String("tok 1")}}}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
	if err != nil {
		t.Fatal(err)
	}
	id := k.AccessKey.AccessKeyId
	_, _ = c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
	_, _ = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: id, Status: iamtypes.StatusTypeInactive})
	_, _ = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: id})
	_, _ = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
	var got []string
	for _, e := range s.RequestLog() {
		line := e.Action + " " + e.Resource + " " + e.ResourceAccount
		for _, key := range []string{"aws:ResourceTag/rotary:rotate", "aws:ResourceTag/rotary:minting", "aws:TagKeys", "aws:RequestTag/rotary:minting"} {
			if v, ok := e.Context[key]; ok {
				line += fmt.Sprintf(" %s=%v", key, v)
			}
		}
		got = append(got, line)
		if b, _ := json.Marshal(e); strings.Contains(string(b), aws.ToString(k.AccessKey.SecretAccessKey)) {
			t.Errorf("entry %s holds the secret access key", b)
		}
	}
	tagged := " " + localaws.DefaultAccount + " aws:ResourceTag/rotary:rotate=[true]"
	minted := tagged + " aws:ResourceTag/rotary:minting=[tok 1]"
	want := []string{
		"iam:GetUser " + arn + tagged,
		"iam:TagUser " + arn + tagged + " aws:TagKeys=[rotary:minting] aws:RequestTag/rotary:minting=[tok 1]",
		"iam:CreateAccessKey " + arn + minted,
		"iam:ListAccessKeys " + arn + minted,
		"iam:UpdateAccessKey " + arn + minted,
		"iam:DeleteAccessKey " + arn + minted,
		"iam:GetUser arn:aws:iam::" + localaws.DefaultAccount + ":user/nobody " + localaws.DefaultAccount,
	}
	if !slices.Equal(got, want) {
		t.Errorf("logged\n%q\nwant\n%q", got, want)
	}
}

// TestIAMFaults: injected faults answer with IAM's codes (ServiceFailure for
// a 5xx), and AppliedThenFailed applies the call before it fails.
func TestIAMFaults(t *testing.T) {
	s := localaws.Start(t)
	s.AddUser(localaws.IAMUser{Account: localaws.DefaultAccount, Name: "bot"})
	c := iam.NewFromConfig(s.AWSConfig(s.DefaultCredentials(), region), func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	user := aws.String("bot")
	for kind, want := range map[localaws.FaultKind]string{localaws.InternalError: "ServiceFailure", localaws.Throttle: "Throttling", localaws.AccessDenied: "AccessDenied"} {
		s.InjectFault(localaws.Fault{Operation: "GetUser", Kind: kind, Count: 1})
		if _, err := c.GetUser(t.Context(), &iam.GetUserInput{UserName: user}); code(err) != want {
			t.Errorf("fault %v: %v, want %s", kind, err, want)
		}
	}
	s.InjectFault(localaws.Fault{Operation: "TagUser", Kind: localaws.AppliedThenFailed, Count: 1})
	_, err := c.TagUser(t.Context(), &iam.TagUserInput{UserName: user, Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if code(err) != "ServiceFailure" {
		t.Errorf("AppliedThenFailed: %v, want ServiceFailure", err)
	}
	if got, err := c.GetUser(t.Context(), &iam.GetUserInput{UserName: user}); err != nil || len(got.User.Tags) != 1 {
		t.Errorf("the tag was not applied: %v %v", got, err)
	}
}
