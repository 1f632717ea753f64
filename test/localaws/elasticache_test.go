package localaws_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/smithy-go"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestElastiCacheListTags: the official ElastiCache client reads a user's
// tags as AddElastiCacheUser registered them; another account's or region's
// user is UserNotFound, a malformed ARN or one of another kind InvalidARN.
// The request log holds DescribeUsers, ListTagsForResource and ModifyUser on
// the user's ARN with its tags as aws:ResourceTag/<key>, and no password.
func TestElastiCacheListTags(t *testing.T) {
	s := localaws.Start(t)
	owner := s.AddAccount("210987654321")
	other := s.AddAccount("310987654321")
	arn := s.AddElastiCacheUser(localaws.ElastiCacheUser{Account: owner.Account, Region: region, UserID: "app-user", UserName: "app",
		Tags: map[string]string{"rotary:secret": "app/cache", "rotary:rotate": "true"}}, 1)
	c := elasticache.NewFromConfig(s.AWSConfig(owner, region))
	s.ResetRequestLog()
	if _, err := c.DescribeUsers(t.Context(), &elasticache.DescribeUsersInput{UserId: aws.String("app-user")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListTagsForResource(t.Context(), &elasticache.ListTagsForResourceInput{ResourceName: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "pending-Password-00001"
	if _, err := c.ModifyUser(t.Context(), &elasticache.ModifyUserInput{UserId: aws.String("app-user"), Passwords: []string{pw}}); err != nil {
		t.Fatal(err)
	}
	log := s.RequestLog()
	want := []string{"elasticache:DescribeUsers", "elasticache:ListTagsForResource", "elasticache:ModifyUser"}
	if len(log) != len(want) {
		t.Fatalf("request log %+v, want %v", log, want)
	}
	for i, e := range log {
		if e.Action != want[i] || e.Resource != arn || e.ResourceAccount != owner.Account || e.PrincipalAccount != owner.Account ||
			len(e.Context["aws:ResourceTag/rotary:secret"]) != 1 || e.Context["aws:ResourceTag/rotary:secret"][0] != "app/cache" ||
			e.Context["aws:ResourceTag/rotary:rotate"][0] != "true" {
			t.Errorf("request log %d = %+v, want %s on %s with the user's tags", i, e, want[i], arn)
		}
		if b, _ := json.Marshal(e); strings.Contains(string(b), pw) {
			t.Errorf("request log %d holds the password", i)
		}
	}
	if len(out.TagList) != 2 || aws.ToString(out.TagList[0].Key) != "rotary:rotate" || aws.ToString(out.TagList[1].Value) != "app/cache" {
		t.Errorf("TagList = %+v, want rotary:rotate=true, rotary:secret=app/cache", out.TagList)
	}
	if n := s.Calls("ListTagsForResource", owner.Account); n != 1 {
		t.Errorf("%d ListTagsForResource calls counted, want 1", n)
	}
	for _, tc := range []struct {
		who  localaws.Credentials
		reg  string
		arn  string
		code string
	}{
		{other, region, arn, "UserNotFound"},
		{owner, "eu-central-1", arn, "UserNotFound"},
		{owner, region, arn + "x", "UserNotFound"},
		{owner, region, "app-user", "InvalidARN"},
		{owner, region, "arn:aws:elasticache:" + region + ":" + owner.Account + ":cluster:app-user", "InvalidARN"},
	} {
		_, err := elasticache.NewFromConfig(s.AWSConfig(tc.who, tc.reg)).ListTagsForResource(t.Context(), &elasticache.ListTagsForResourceInput{ResourceName: aws.String(tc.arn)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Errorf("ListTagsForResource(%s) as %s in %s: %v, want %s", tc.arn, tc.who.Account, tc.reg, err, tc.code)
		}
	}
}
