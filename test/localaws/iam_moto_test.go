package localaws_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestIAMDifferentialMoto runs the access-key sequence the iam-access-key
// rotator makes against localaws's IAM and moto_server's, and compares what
// each answers (error codes, key counts and statuses, who a new key is, the
// tags TagUser writes).
func TestIAMDifferentialMoto(t *testing.T) {
	motoURL := startMoto(t)
	s := localaws.Start(t)
	s.AddUser(localaws.IAMUser{Account: localaws.DefaultAccount, Name: "diff-user"})
	oursCfg := s.AWSConfig(s.DefaultCredentials(), region)
	oursCfg.RetryMaxAttempts = 1
	motoCfg := aws.Config{
		Region: region, BaseEndpoint: aws.String(motoURL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAMOTOMOTOMOTO0000", "moto-secret", ""),
	}
	moto := iam.NewFromConfig(motoCfg)
	if _, err := moto.CreateUser(t.Context(), &iam.CreateUserInput{UserName: aws.String("diff-user")}); err != nil {
		t.Fatal(err)
	}
	run := func(cfg aws.Config) []string {
		ctx := context.Background()
		c := iam.NewFromConfig(cfg)
		user := aws.String("diff-user")
		var lines []string
		add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
		list := func() {
			out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: user})
			if err != nil {
				add("list: %s", code(err))
				return
			}
			var st []string
			for _, k := range out.AccessKeyMetadata {
				st = append(st, string(k.Status))
			}
			slices.Sort(st)
			add("list: %v", st)
		}
		k1, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
		add("create 1: %s", code(err))
		if err != nil {
			return lines
		}
		id1 := k1.AccessKey.AccessKeyId
		who := cfg.Copy()
		who.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(id1), aws.ToString(k1.AccessKey.SecretAccessKey), "")
		me, err := sts.NewFromConfig(who).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			add("caller: user/%s", aws.ToString(me.Arn)[len("arn:aws:iam::")+12+len(":user/"):])
		} else {
			add("caller: %s", code(err))
		}
		_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
		add("create 2: %s", code(err))
		_, err = c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})
		add("create 3: %s", code(err))
		list()
		_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: id1, Status: iamtypes.StatusTypeInactive})
		add("deactivate: %s", code(err))
		list()
		_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: id1})
		add("delete: %s", code(err))
		_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: user, AccessKeyId: id1})
		add("delete again: %s", code(err))
		list()
		_, err = c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("nobody")})
		add("list unknown user: %s", code(err))
		_, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("nobody")})
		add("get unknown user: %s", code(err))
		tag := func(user, key, value string) error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
			return err
		}
		add("tag: %s", code(tag("diff-user", "rotary:minting", "0f2a6b1c-7d3e-4f5a-9b8c-1d2e3f4a5b6c 1764531000")))
		add("retag: %s", code(tag("diff-user", "rotary:minting", "other 1764531001")))
		add("tag unknown user: %s", code(tag("nobody", "rotary:minting", "x")))
		// (moto accepts any tag key; localaws refuses the characters IAM
		// does not allow with InvalidInput, checked in TestIAMAccessKeys.)
		if u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: user}); err != nil {
			add("get tags: %s", code(err))
		} else {
			var tags []string
			for _, t := range u.User.Tags {
				tags = append(tags, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
			}
			add("get tags: %v", tags)
		}
		return lines
	}
	got, want := run(oursCfg), run(motoCfg)
	if !slices.Equal(got, want) {
		t.Errorf("localaws and moto differ:\nlocalaws: %q\nmoto:     %q", got, want)
	}
	t.Logf("both: %q", got)
}
