package rig

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TagSecret is the tag that gives an ElastiCache or IAM user to one secret
// (rotators.TagSecret), as whoever administers the user would set it: the
// rig sets an ElastiCache user's to the secret's name and an IAM user's to
// the secret's full ARN (an IAM user is global, so a name tag is refused).
const TagSecret = rotators.TagSecret

// The API-driven cases of make demo's step 6 (and of the IAM oracle's replay
// of it): an ElastiCache RBAC user of MemberA, backed by the demo's
// redis-server, and an IAM user's access key in MemberB.
const (
	ElastiCacheSecretName = "cache/elasticache-user"
	IAMKeySecretName      = "deploy/iam-access-key"
)

// DemoAPICases are the ElastiCache and IAM access-key secrets make demo
// rotates besides the database ones: their users live in w's emulator (the
// ElastiCache user's passwords are applied to cache, a real redis-server),
// tagged rotary:rotate=true and rotary:secret=<the secret's name> (the
// ElastiCache user) or <the secret's full ARN> (the IAM user).
func DemoAPICases(w *World, cache Redis) []Case {
	return []Case{
		{Name: ElastiCacheSecretName, Account: MemberA, Target: &ElastiCache{Cache: cache, AWS: w.AWS, Account: MemberA, SecretName: ElastiCacheSecretName}, Strategy: rotators.SingleUser},
		{Name: IAMKeySecretName, Account: MemberB, Target: &IAMKey{AWS: w.AWS, Account: MemberB}, Strategy: rotators.APIKey},
	}
}

// CredentialHolder is implemented by a Target whose secrets hold the
// credential in another key than password (an access key's
// secretAccessKey): Provision, Verify and the leak checks use it instead.
type CredentialHolder interface {
	Credential(v secret.Value) string
}

// SecretBinder is implemented by a Target whose user is given to its secret
// by the secret's full ARN (an IAM user): Provision calls BindSecret once the
// secret is stored, before any rotation.
type SecretBinder interface {
	BindSecret(ctx context.Context, user, secretARN string) error
}

// credential is what t's Login takes as the password for v.
func credential(t Target, v secret.Value) string {
	if h, ok := t.(CredentialHolder); ok {
		return h.Credential(v)
	}
	return v.Password
}

// ElastiCache is an ElastiCache RBAC user Target: the user lives in the
// emulator's ElastiCache API in Account (Region), tagged rotary:rotate=true
// and TagSecret=SecretName, and ModifyUser applies its passwords to Cache
// with ACL SETUSER; a login is a Redis AUTH over verified TLS.
type ElastiCache struct {
	Cache      Redis
	AWS        *localaws.Server
	Account    string
	SecretName string

	mu  sync.Mutex
	ids map[string]string // user name -> ElastiCache user ID
}

var _ Target = (*ElastiCache)(nil)

// Engine returns "elasticache".
func (e *ElastiCache) Engine() string { return "elasticache" }

// Addr returns the redis-server's TLS address.
func (e *ElastiCache) Addr() string { return e.Cache.Addr() }

// CAFile returns the redis-server's CA file.
func (e *ElastiCache) CAFile() string { return e.Cache.CAFile() }

// CreateUser creates the ACL user on the cache and registers it with the
// emulator's ElastiCache API, tagged for SecretName. There are no masters.
func (e *ElastiCache) CreateUser(ctx context.Context, name, password string, master bool) error {
	if master {
		return errors.New("elasticache: no master users (single user only)")
	}
	if err := e.Cache.CreateUser(ctx, name, password, false); err != nil {
		return err
	}
	id := "app-" + RandomHex(4)
	cache := e.Cache
	e.AWS.AddElastiCacheUser(localaws.ElastiCacheUser{Account: e.Account, Region: Region, UserID: id, UserName: name,
		Apply: func(ctx context.Context, user string, passwords []string) error {
			c := cache.DB.NewAdminClient()
			defer c.Close()
			return localaws.RedisACL(c)(ctx, user, passwords)
		},
		Tags: map[string]string{TagRotate: TagRotateValue, TagSecret: e.SecretName}}, 1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ids == nil {
		e.ids = map[string]string{}
	}
	e.ids[name] = id
	return nil
}

// BindSecret gives the user to its secret: TagSecret=secretARN, the full
// ARN (a name would also match a same-named secret in another region).
func (k *IAMKey) BindSecret(_ context.Context, user, secretARN string) error {
	k.AWS.TagUser(k.Account, user, TagSecret, secretARN)
	return nil
}

// Login authenticates as user on the cache.
func (e *ElastiCache) Login(ctx context.Context, user, password string) error {
	return e.Cache.Login(ctx, user, password)
}

// KeepsPrevious reports true: the user holds the AWSCURRENT and AWSPREVIOUS
// passwords until the next rotation.
func (e *ElastiCache) KeepsPrevious(string) bool { return true }

// Secret is AWS's ElastiCache user secret: user_arn, username, password.
func (e *ElastiCache) Secret(user, password string) secret.Value {
	e.mu.Lock()
	id := e.ids[user]
	e.mu.Unlock()
	v := secret.Value{Engine: "elasticache", Username: user, Password: password}
	v.Set("user_arn", "arn:aws:elasticache:"+Region+":"+e.Account+":user:"+id)
	return v
}

// CheckPasswordEnforced is the cache's check.
func (e *ElastiCache) CheckPasswordEnforced(ctx context.Context) error {
	return e.Cache.CheckPasswordEnforced(ctx)
}

// IAMKey is an IAM user access-key Target in the emulator's IAM API: the user
// is tagged rotary:rotate=true, and TagSecret=<the secret's full ARN> once
// Provision stored the secret (BindSecret); its credential is a
// secretAccessKey, and a login is sts:GetCallerIdentity signed with one of the
// user's keys and that secret, answering the user's ARN.
type IAMKey struct {
	AWS     *localaws.Server
	Account string

	mu   sync.Mutex
	keys map[string]localaws.Credentials // user -> the key issued at CreateUser
}

var _ Target = (*IAMKey)(nil)

// Engine returns "iam-access-key".
func (k *IAMKey) Engine() string { return "iam-access-key" }

// Addr returns the emulator's URL (IAM and STS).
func (k *IAMKey) Addr() string { return k.AWS.URL }

// CAFile returns "": no TLS.
func (k *IAMKey) CAFile() string { return "" }

// CreateUser creates the IAM user, tagged rotary:rotate=true, with one access
// key (password is not used: IAM makes the secret). There are no masters.
// Its TagSecret tag is set by BindSecret once the secret exists.
func (k *IAMKey) CreateUser(_ context.Context, name, _ string, master bool) error {
	if master {
		return errors.New("iam-access-key: no master users")
	}
	k.AWS.AddUser(localaws.IAMUser{Account: k.Account, Name: name, Tags: map[string]string{TagRotate: TagRotateValue}})
	c, err := k.AWS.IssueUserKey(k.Account, name)
	if err != nil {
		return fmt.Errorf("iam-access-key: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]localaws.Credentials{}
	}
	k.keys[name] = c
	return nil
}

// Login succeeds when one of user's access keys, signing with
// secretAccessKey, makes sts:GetCallerIdentity answer the user's ARN; an
// inactive or deleted key is refused (ErrRejected).
func (k *IAMKey) Login(ctx context.Context, user, secretAccessKey string) error {
	want := "arn:aws:iam::" + k.Account + ":user/" + user
	ids, _ := k.AWS.UserKeys(k.Account, user)
	for _, id := range ids {
		cfg := k.AWS.AWSConfig(localaws.Credentials{AccessKeyID: id, SecretAccessKey: secretAccessKey}, Region)
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil && aws.ToString(out.Arn) == want {
			return nil
		}
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%w: no active access key of %s signs with this secret", ErrRejected, user)
}

// KeepsPrevious reports true: finishSecret retires the key AWSPREVIOUS held
// before the rotation, so the key just replaced works until the next one.
func (k *IAMKey) KeepsPrevious(string) bool { return true }

// Credential is the secret's secretAccessKey.
func (k *IAMKey) Credential(v secret.Value) string {
	sk, _ := v.Get("secretAccessKey")
	return sk
}

// Secret is the iam-access-key secret of user with the key CreateUser
// issued: username, accessKeyId, secretAccessKey (password is not used).
func (k *IAMKey) Secret(user, _ string) secret.Value {
	k.mu.Lock()
	c := k.keys[user]
	k.mu.Unlock()
	v := secret.Value{Engine: "iam-access-key", Username: user}
	v.Set("accessKeyId", c.AccessKeyID)
	v.Set("secretAccessKey", c.SecretAccessKey)
	return v
}

// CheckPasswordEnforced returns an error unless a made-up secret is refused
// for a key the emulator issued.
func (k *IAMKey) CheckPasswordEnforced(ctx context.Context) error {
	name := "probe-" + RandomHex(4)
	k.AWS.AddUser(localaws.IAMUser{Account: k.Account, Name: name})
	if _, err := k.AWS.IssueUserKey(k.Account, name); err != nil {
		return err
	}
	if err := k.Login(ctx, name, "wrong-"+RandomHex(8)); !errors.Is(err, ErrRejected) {
		return fmt.Errorf("iam: a wrong secret access key was not refused: %v", err)
	}
	return nil
}
