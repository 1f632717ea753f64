// Package elasticachex is the ElastiCache user API of each secret's own
// account (rotators.ElastiCacheUsers) for the elasticache rotator: its
// credentials are those awsx.Clients gives for the secret (an assumed member
// role in central mode), its region the secret's. It is its own package so
// that only the functions carrying the elasticache rotator link the
// ElastiCache client.
//
// It reads no secret value; the passwords it sends are never logged.
package elasticachex

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
)

// Users implements rotators.ElastiCacheUsers with awsx.Clients.
type Users struct {
	clients *awsx.Clients
	opts    []func(*elasticache.Options)
	cache   awsx.ClientCache[*elasticache.Client] // one client per account and region
}

var _ rotators.ElastiCacheUsers = (*Users)(nil)

// New returns the API of c's accounts; optFns adjust the client (e.g.
// BaseEndpoint in tests).
func New(c *awsx.Clients, optFns ...func(*elasticache.Options)) *Users {
	return &Users{clients: c, opts: optFns}
}

// Wire is start-up's hook (lambdamain.Run) for functions carrying the
// elasticache rotator: it puts the API into deps.
func Wire(c *awsx.Clients, deps *rotators.Deps) { deps.ElastiCache = New(c) }

// client returns the ElastiCache client of secretARN's account and region:
// that account's credentials (awsx.Clients.Account: the allow-list check,
// the member role in central mode, its session named after token, the
// rotation's ClientRequestToken), one client per account and region.
func (u *Users) client(ctx context.Context, secretARN, token string) (*elasticache.Client, error) {
	loc, err := awsx.ParseSecretARN(secretARN)
	if err != nil {
		return nil, err
	}
	acct, err := u.clients.Account(ctx, loc, token)
	if err != nil {
		return nil, err
	}
	return u.cache.Get(acct, func(cfg aws.Config) *elasticache.Client {
		return elasticache.NewFromConfig(cfg, u.opts...)
	}), nil
}

// DescribeUser returns the user userID (DescribeUsers).
func (u *Users) DescribeUser(ctx context.Context, secretARN, token, userID string) (rotators.ElastiCacheUser, error) {
	c, err := u.client(ctx, secretARN, token)
	if err != nil {
		return rotators.ElastiCacheUser{}, err
	}
	out, err := c.DescribeUsers(ctx, &elasticache.DescribeUsersInput{UserId: aws.String(userID)})
	if err != nil {
		return rotators.ElastiCacheUser{}, err
	}
	if len(out.Users) != 1 {
		return rotators.ElastiCacheUser{}, fmt.Errorf("DescribeUsers returned %d users for %s", len(out.Users), userID)
	}
	x := out.Users[0]
	got := rotators.ElastiCacheUser{
		ARN: aws.ToString(x.ARN), UserID: aws.ToString(x.UserId), UserName: aws.ToString(x.UserName),
		Status: aws.ToString(x.Status), Engine: aws.ToString(x.Engine),
	}
	if x.Authentication != nil {
		got.Authentication = string(x.Authentication.Type)
		got.PasswordCount = int(aws.ToInt32(x.Authentication.PasswordCount))
	}
	return got, nil
}

// UserTags returns the tags of the user userARN (ListTagsForResource).
func (u *Users) UserTags(ctx context.Context, secretARN, token, userARN string) (map[string]string, error) {
	c, err := u.client(ctx, secretARN, token)
	if err != nil {
		return nil, err
	}
	out, err := c.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: aws.String(userARN)})
	if err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(out.TagList))
	for _, t := range out.TagList {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// SetPasswords replaces the user's passwords (ModifyUser with Passwords
// only: the access string and authentication mode are not sent).
func (u *Users) SetPasswords(ctx context.Context, secretARN, token, userID string, passwords []string) error {
	c, err := u.client(ctx, secretARN, token)
	if err != nil {
		return err
	}
	_, err = c.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String(userID), Passwords: passwords})
	return err
}
