package awsx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// ErrAccountNotAllowed reports a secret in an account the function may not
// reach: any other account in account mode, an account missing from
// ROTARY_ALLOWED_ACCOUNTS in central mode. No STS call is made for it.
var ErrAccountNotAllowed = errors.New("account not allowed")

// AccountNotAllowedError is the error for a secret in an account the
// configuration does not allow. errors.Is(err, ErrAccountNotAllowed) holds.
type AccountNotAllowedError struct {
	Account string // the secret's account
	Home    string // the function's own account
	Mode    Mode
}

// Error explains the refusal and how to allow the account.
func (e *AccountNotAllowedError) Error() string {
	if e.Mode == ModeCentral {
		return fmt.Sprintf("%s: secret is in account %s, which is not in %s (function account %s)", ErrAccountNotAllowed, e.Account, EnvAllowedAccounts, e.Home)
	}
	return fmt.Sprintf("%s: secret is in account %s but this function runs in account %s in %s mode; deploy a copy in that account or use the central function (%s=%s)", ErrAccountNotAllowed, e.Account, e.Home, ModeAccount, EnvMode, ModeCentral)
}

// Is makes errors.Is(err, ErrAccountNotAllowed) true.
func (e *AccountNotAllowedError) Is(target error) bool { return target == ErrAccountNotAllowed }

// AssumeRoleError reports a failed STS AssumeRole into a member account. The
// usual causes are a member role that does not exist, a trust policy that does
// not name the central role, a wrong ExternalId or an account outside the
// organization; STS does not say which.
type AssumeRoleError struct {
	Account string
	RoleARN string
	Err     error
}

// Error names the role and the likely causes, never the ExternalId.
func (e *AssumeRoleError) Error() string {
	return fmt.Sprintf("assume member role %s for account %s (check that the role exists, trusts the central function's role, and that %s and %s match its trust policy): %v", e.RoleARN, e.Account, EnvExternalID, EnvOrgID, e.Err)
}

// Unwrap returns the STS error.
func (e *AssumeRoleError) Unwrap() error { return e.Err }

// assumeDuration is the lifetime asked for assumed-role credentials. Lambda's
// execution-role credentials are themselves a role session, so this is role
// chaining, which STS caps at one hour; a rotation takes seconds.
const assumeDuration = 15 * time.Minute

// stsAPI is the part of the STS client Clients uses.
type stsAPI interface {
	stscreds.AssumeRoleAPIClient
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

type clientKey struct{ account, region string }

// Clients hands out Secrets Manager clients for secret ARNs, assuming member
// roles in central mode. It is safe for concurrent use and meant to live for
// the whole warm container: it caches one credentials cache per role ARN and
// one client per (account, region).
type Clients struct {
	base aws.Config
	cfg  Config
	sts  stsAPI

	homeMu sync.Mutex
	home   string

	mu    sync.Mutex
	creds map[string]*aws.CredentialsCache // by role ARN
	sm    map[clientKey]*secretsmanager.Client
}

// New returns Clients that build on base (normally from LoadConfig): base's
// credentials for the function's own account, base's STS endpoint and region
// for AssumeRole.
func New(base aws.Config, cfg Config) *Clients {
	if cfg.Mode == "" {
		cfg.Mode = ModeAccount
	}
	if cfg.RoleName == "" {
		cfg.RoleName = DefaultRoleName
	}
	return &Clients{
		base:  base,
		cfg:   cfg,
		sts:   sts.NewFromConfig(base),
		home:  cfg.HomeAccount,
		creds: make(map[string]*aws.CredentialsCache),
		sm:    make(map[clientKey]*secretsmanager.Client),
	}
}

// SecretsManager returns a Secrets Manager client for the account and region
// of secretARN. token is the rotation's ClientRequestToken; its first
// characters name the STS session when a role has to be assumed.
//
// The account is checked before any STS call: a secret outside the allowed
// accounts returns an *AccountNotAllowedError (ErrAccountNotAllowed) and never
// reaches STS. A secret in the function's own account uses the base
// credentials. In central mode, a member account's role is assumed at most
// once per credential lifetime, whatever the number of concurrent callers, and
// a failure is returned as *AssumeRoleError.
func (c *Clients) SecretsManager(ctx context.Context, secretARN, token string) (*secretsmanager.Client, error) {
	loc, err := ParseSecretARN(secretARN)
	if err != nil {
		return nil, err
	}
	creds, err := c.credentialsFor(ctx, loc, token) // the checks are Account's (account.go)
	if err != nil {
		return nil, err
	}
	return c.client(loc, creds), nil
}

// HomeAccount returns the function's own account: ROTARY_HOME_ACCOUNT; else
// the account of the invoked function's ARN, which the Lambda runtime gives
// every invocation (lambdacontext), so a cold start makes no STS call; else
// (outside Lambda: tests, manual runs) the result of one STS
// GetCallerIdentity call. The first answer is cached.
func (c *Clients) HomeAccount(ctx context.Context) (string, error) { return c.homeAccount(ctx) }

// Base returns the SDK configuration the clients were made from (region,
// endpoints, the function's own credentials). A client of another service in
// a secret's account takes Account(…).Config() instead; Base is for clients
// that bring their own credentials (iamx's check of a new access key).
func (c *Clients) Base() aws.Config { return c.base }

func (c *Clients) homeAccount(ctx context.Context) (string, error) {
	c.homeMu.Lock()
	defer c.homeMu.Unlock()
	if c.home != "" {
		return c.home, nil
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		if acct, ok := functionAccount(lc.InvokedFunctionArn); ok {
			c.home = acct
			return acct, nil
		}
	}
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("find the function's own account with sts:GetCallerIdentity (set %s to skip this call): %w", EnvHomeAccount, err)
	}
	acct := aws.ToString(out.Account)
	if !validAccountID(acct) {
		return "", fmt.Errorf("find the function's own account: sts:GetCallerIdentity returned account %q", acct)
	}
	c.home = acct
	return acct, nil
}

// functionAccount returns the account of a Lambda function ARN,
// arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>].
func functionAccount(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[1] == "" || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
		return "", false
	}
	return parts[4], validAccountID(parts[4])
}

// roleCredentials returns the one credentials cache for roleARN.
func (c *Clients) roleCredentials(roleARN string) *aws.CredentialsCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.creds[roleARN]; ok {
		return cc
	}
	cc := aws.NewCredentialsCache(&assumeProvider{
		client:     c.sts,
		roleARN:    roleARN,
		externalID: c.cfg.ExternalID,
		function:   c.cfg.FunctionName,
	}, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = time.Minute // never start a step on credentials about to expire
	})
	c.creds[roleARN] = cc
	return cc
}

// client returns the cached Secrets Manager client for loc's account and
// region, creating it with creds (nil: the base credentials).
func (c *Clients) client(loc SecretLocation, creds aws.CredentialsProvider) *secretsmanager.Client {
	key := clientKey{loc.Account, loc.Region}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.sm[key]; ok {
		return cl
	}
	cl := secretsmanager.NewFromConfig(c.base, func(o *secretsmanager.Options) {
		o.Region = loc.Region
		if creds != nil {
			o.Credentials = creds
		}
		if c.cfg.SecretsManagerEndpoint != "" {
			o.BaseEndpoint = aws.String(c.cfg.SecretsManagerEndpoint)
		}
	})
	c.sm[key] = cl
	return cl
}

// tokenKey carries the rotation's ClientRequestToken to assumeProvider.
type tokenKey struct{}

// assumeProvider assumes one role with stscreds, naming each session after
// the function and the token of the rotation that needed fresh credentials.
// It is only ever used behind an aws.CredentialsCache, which serialises
// Retrieve calls.
type assumeProvider struct {
	client     stscreds.AssumeRoleAPIClient
	roleARN    string
	externalID string
	function   string
}

// Retrieve calls STS AssumeRole.
func (p *assumeProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	token, _ := ctx.Value(tokenKey{}).(string)
	prov := stscreds.NewAssumeRoleProvider(p.client, p.roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName(p.function, token)
		o.Duration = assumeDuration
		if p.externalID != "" {
			o.ExternalID = aws.String(p.externalID)
		}
	})
	return prov.Retrieve(ctx)
}
