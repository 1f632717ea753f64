// Package iamx opens the IAM access-key API of the account a secret lives in
// (rotators.AccessKeyClients) for the iam-access-key rotator: the IAM client
// (one per account and region) uses the credentials awsx.Clients.Account gives
// for that secret's account, the same as its Secrets Manager client's (the
// member role assumed for its account in central mode, the function's own in
// account mode), never another account's, and sts:GetCallerIdentity is signed with the
// key being verified. It is its own package so that only the functions with
// the iam-access-key rotator link the IAM client: they pass Wire to start-up
// (lambdamain.Run).
//
// Errors never hold a secret access key.
package iamx

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
)

// Clients implements rotators.AccessKeyClients on awsx.Clients.
type Clients struct {
	clients *awsx.Clients
	iamOpts []func(*iam.Options)
	stsOpts []func(*sts.Options)
	cache   awsx.ClientCache[*iam.Client] // one IAM client per account and region
}

var _ rotators.AccessKeyClients = (*Clients)(nil)

// New returns the access-key clients of c's accounts.
func New(c *awsx.Clients) rotators.AccessKeyClients { return &Clients{clients: c} }

// NewWith is New with options for the IAM and STS clients (e.g. BaseEndpoint
// in tests).
func NewWith(c *awsx.Clients, iamOpts []func(*iam.Options), stsOpts []func(*sts.Options)) *Clients {
	return &Clients{clients: c, iamOpts: iamOpts, stsOpts: stsOpts}
}

// AccessKeys returns the API of secretARN's account: awsx.Clients.Account
// checks the account is allowed and gives its credentials (the member role,
// assumed with the session named after token, the rotation's
// ClientRequestToken, when fresh credentials are needed); the IAM client is
// built once per account and region.
func (c *Clients) AccessKeys(ctx context.Context, secretARN, token string) (rotators.AccessKeyAPI, error) {
	loc, err := awsx.ParseSecretARN(secretARN)
	if err != nil {
		return nil, err
	}
	acct, err := c.clients.Account(ctx, loc, token)
	if err != nil {
		return nil, err
	}
	client := c.cache.Get(acct, func(cfg aws.Config) *iam.Client { return iam.NewFromConfig(cfg, c.iamOpts...) })
	return &api{iam: client, base: c.clients.Base(), region: loc.Region, stsOpts: c.stsOpts}, nil
}

type api struct {
	iam     *iam.Client
	base    aws.Config
	region  string
	stsOpts []func(*sts.Options)
}

func (a *api) User(ctx context.Context, user string) (string, map[string]string, error) {
	out, err := a.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	if err != nil {
		return "", nil, err
	}
	if out.User == nil {
		return "", nil, errors.New("iam:GetUser returned no user")
	}
	tags := map[string]string{}
	for _, t := range out.User.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return aws.ToString(out.User.Arn), tags, nil
}

func (a *api) ListAccessKeys(ctx context.Context, user string) ([]rotators.AccessKey, error) {
	var keys []rotators.AccessKey
	p := iam.NewListAccessKeysPaginator(a.iam, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range out.AccessKeyMetadata {
			keys = append(keys, rotators.AccessKey{ID: aws.ToString(k.AccessKeyId), Active: k.Status == iamtypes.StatusTypeActive, Created: aws.ToTime(k.CreateDate)})
		}
	}
	return keys, nil
}

func (a *api) CreateAccessKey(ctx context.Context, user string) (string, string, error) {
	out, err := a.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return "", "", err
	}
	if out.AccessKey == nil || aws.ToString(out.AccessKey.AccessKeyId) == "" || aws.ToString(out.AccessKey.SecretAccessKey) == "" {
		return "", "", errors.New("iam:CreateAccessKey returned no key")
	}
	return aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey), nil
}

func (a *api) SetAccessKeyActive(ctx context.Context, user, id string, active bool) error {
	st := iamtypes.StatusTypeInactive
	if active {
		st = iamtypes.StatusTypeActive
	}
	_, err := a.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: st})
	return err
}

func (a *api) DeleteAccessKey(ctx context.Context, user, id string) error {
	_, err := a.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return nil
	}
	return err
}

func (a *api) TagUser(ctx context.Context, user, key, value string) error {
	_, err := a.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []iamtypes.Tag{{Key: aws.String(key), Value: aws.String(value)}}})
	return err
}

// CallerARN signs sts:GetCallerIdentity with the key. The SDK's error names
// the operation and code, never the secret key; only the ARN is returned.
func (a *api) CallerARN(ctx context.Context, id, secretKey string) (string, error) {
	client := sts.NewFromConfig(a.base, append([]func(*sts.Options){func(o *sts.Options) {
		o.Region = a.region
		o.Credentials = credentials.NewStaticCredentialsProvider(id, secretKey, "")
		o.RetryMaxAttempts = 1 // the rotator retries while the key propagates
	}}, a.stsOpts...)...)
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}

// Wire sets deps.AccessKeys to New(c); it is a lambdamain.Wiring, like
// elasticachex.Wire.
func Wire(c *awsx.Clients, deps *rotators.Deps) { deps.AccessKeys = New(c) }
