package awsx

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// regionPartitions maps a region name's prefix to its partition; a region
// matching none is in "aws". Longest prefixes first.
var regionPartitions = []struct{ prefix, partition string }{
	{"us-isob-", "aws-iso-b"},
	{"us-isof-", "aws-iso-f"},
	{"eu-isoe-", "aws-iso-e"},
	{"us-iso-", "aws-iso"},
	{"us-gov-", "aws-us-gov"},
	{"eusc-", "aws-eusc"},
	{"cn-", "aws-cn"},
}

// Location returns the location of account in region, its partition the
// one the region's name implies (cn-north-1: aws-cn, us-gov-west-1:
// aws-us-gov, eu-west-1: aws, …). It refuses an account that is not 12
// digits and a region that is not a region name.
func Location(account, region string) (SecretLocation, error) {
	if !validAccountID(account) {
		return SecretLocation{}, fmt.Errorf("account %s is not a 12-digit account ID", quoteShort(account))
	}
	if !regionRE.MatchString(region) {
		return SecretLocation{}, fmt.Errorf("region %s is not a region name such as us-east-1", quoteShort(region))
	}
	p := "aws"
	for _, r := range regionPartitions {
		if strings.HasPrefix(region, r.prefix) {
			p = r.partition
			break
		}
	}
	return SecretLocation{Partition: p, Region: region, Account: account}, nil
}

// Account is what a function may use in one account and region: that
// account's credentials (the function's own for its home account, the
// assumed member role's otherwise) and its region. Clients.Account hands it
// out after the same checks as Clients.SecretsManager.
type Account struct {
	// Location is the account, region and partition.
	Location SecretLocation
	// Credentials are the account's: nil for the home account (the base
	// configuration's), else the member role's credentials cache, shared
	// with every other client of that role, which refreshes them before they
	// expire.
	Credentials aws.CredentialsProvider

	clients *Clients
}

// Config returns the base SDK configuration with the account's region and
// credentials, for a client of any service in that account
// (elasticache.NewFromConfig(a.Config()), …).
func (a *Account) Config() aws.Config {
	cfg := a.clients.base.Copy()
	cfg.Region = a.Location.Region
	if a.Credentials != nil {
		cfg.Credentials = a.Credentials
	}
	return cfg
}

// SecretsManager returns the account's cached Secrets Manager client, the
// one Clients.SecretsManager returns for a secret of that account and
// region.
func (a *Account) SecretsManager() *secretsmanager.Client {
	return a.clients.client(a.Location, a.Credentials)
}

// Account returns the credentials and region of loc's account, with exactly
// the checks of SecretsManager, before any STS call: an account outside the
// allowed ones is an *AccountNotAllowedError (ErrAccountNotAllowed); in
// central mode a member account's role is assumed at most once per
// credential lifetime (the same cache as SecretsManager's), and a refused
// AssumeRole is an *AssumeRoleError. Build loc with Location, or take it
// from ParseSecretARN.
//
// token names the STS session when the role has to be assumed, as in
// SecretsManager: pass the rotation's ClientRequestToken (a version ID, not a
// secret), or "" where no rotation is at hand (the session is then named
// after the function only). Never pass the RotationToken.
func (c *Clients) Account(ctx context.Context, loc SecretLocation, token string) (*Account, error) {
	creds, err := c.credentialsFor(ctx, loc, token)
	if err != nil {
		return nil, err
	}
	return &Account{Location: loc, Credentials: creds, clients: c}, nil
}

// credentialsFor checks loc against the configuration and returns its
// credentials: nil for the home account, the member role's cache (resolved
// now, so a refused AssumeRole surfaces here with the role's name) for an
// allowed member account.
func (c *Clients) credentialsFor(ctx context.Context, loc SecretLocation, token string) (aws.CredentialsProvider, error) {
	if !KnownPartition(loc.Partition) || !regionRE.MatchString(loc.Region) || !validAccountID(loc.Account) {
		return nil, fmt.Errorf("account location %s/%s/%s: partition, region or account is not well-formed",
			quoteShort(loc.Partition), quoteShort(loc.Region), quoteShort(loc.Account))
	}
	home, err := c.homeAccount(ctx)
	if err != nil {
		return nil, err
	}
	if loc.Account == home {
		return nil, nil
	}
	if c.cfg.Mode != ModeCentral || !c.cfg.allows(loc.Account) {
		return nil, &AccountNotAllowedError{Account: loc.Account, Home: home, Mode: c.cfg.Mode}
	}
	roleARN, err := loc.RoleARN(c.cfg.RoleName)
	if err != nil {
		return nil, err
	}
	creds := c.roleCredentials(roleARN)
	// Cached credentials make this free; fresh ones name the session after
	// token (assumeProvider).
	if _, err := creds.Retrieve(context.WithValue(ctx, tokenKey{}, token)); err != nil {
		return nil, &AssumeRoleError{Account: loc.Account, RoleARN: roleARN, Err: err}
	}
	return creds, nil
}

// ClientCache keeps one client of a service per account location, built on
// first need from that Account's Config. A client holds the account's
// credentials cache, not a copy of the credentials, so it stays valid when
// they are refreshed. Get it from Clients.Account every time (the
// allow-list check and the credential refresh happen there); the cache only
// saves the construction. The zero value is ready; it is safe for concurrent
// use.
type ClientCache[T any] struct {
	mu     sync.Mutex
	m      map[SecretLocation]T
	builds int
}

// Get returns a's client, building it with build(a.Config()) the first time.
func (cc *ClientCache[T]) Get(a *Account, build func(aws.Config) T) T {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cl, ok := cc.m[a.Location]; ok {
		return cl
	}
	if cc.m == nil {
		cc.m = make(map[SecretLocation]T)
	}
	cl := build(a.Config())
	cc.m[a.Location] = cl
	cc.builds++
	return cl
}

// Builds returns how many clients the cache has built.
func (cc *ClientCache[T]) Builds() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.builds
}
