// Package elasticache rotates the password of an Amazon ElastiCache (Redis
// OSS, Valkey) RBAC user through the ElastiCache API, with the secret of AWS's
// SecretsManagerElasticacheUserRotation template unchanged:
//
//	{"user_arn": "arn:aws:elasticache:<region>:<account>:user:<user-id>",
//	 "username": "<user name>", "password": "<password>"}
//
// (an "engine": "elasticache" key is optional: a secret with an ElastiCache
// user_arn and no engine is routed here). A user may hold two passwords:
// setSecret gives the user exactly the pending and the current one (ModifyUser
// Passwords), so clients holding either keep working through the rotation
// and the password before the current one stops working; the user's access
// string and authentication mode are never sent. The user must be in the
// secret's own account and region (the API client is that account's,
// rotators.Deps.ElastiCache), its name must be the secret's username, and it
// must carry the tag TagSecret naming the secret: createSecret and setSecret
// read the user's tags (ListTagsForResource) and refuse with ErrNotOwned
// before anything is made or changed, so a secret naming another team's user
// cannot take it over.
//
// It never calls Secrets Manager and imports no AWS SDK.
package elasticache

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Engine is the engine key value this package rotates.
const Engine = "elasticache"

// Engines are the engine key values this package rotates.
var Engines = []string{Engine}

// KeyUserARN is the secret key naming the ElastiCache user (AWS's template).
const KeyUserARN = "user_arn"

// TagSecret is the ElastiCache user tag that gives a user to one secret
// (rotators.TagSecret): its value must be the secret's name or full ARN. It
// is set by whoever administers the user, never by Rotary.
const TagSecret = rotators.TagSecret

// Settings, named as in AWS's template.
const (
	// EnvMaxWait bounds the wait for the user to become "active" (seconds,
	// default 600; the step's deadline bounds it too).
	EnvMaxWait = "MAX_WAITING_TIME_FOR_ACTIVE_IN_SECONDS"
	// EnvRetryInterval is the pause between DescribeUsers calls while
	// waiting (seconds, default 10; 0 in tests).
	EnvRetryInterval = "WAITING_RETRY_INTERVAL_IN_SECONDS"
)

// defaultExclude are the characters left out of generated passwords, as in
// AWS's template: ElastiCache refuses '/', '"' and '@'.
const defaultExclude = `/@"'\`

// ElastiCache's password limits (CreateUser/ModifyUser Passwords).
const (
	minPasswordLength = 16
	maxPasswordLength = 128
)

var (
	// ErrNoClient reports a function started without the ElastiCache API.
	ErrNoClient = errors.New("this function has no ElastiCache client")
	// ErrBadUserARN reports a user_arn that is not an ElastiCache user ARN.
	ErrBadUserARN = errors.New("user_arn is not an ElastiCache user ARN")
	// ErrForeignUser reports a user_arn outside the secret's own partition,
	// region and account.
	ErrForeignUser = errors.New("user_arn must name a user in the secret's own account and region")
	// ErrUserMismatch reports a user whose name (or kind) is not the one
	// the secret holds: the secret does not own that user.
	ErrUserMismatch = errors.New("the ElastiCache user is not the secret's user")
	// ErrNotActive reports a user that did not become active in time.
	ErrNotActive = errors.New("the ElastiCache user did not become active")
	// ErrNotOwned reports an ElastiCache user whose TagSecret tag does not
	// name the rotated secret: no secret may set the passwords of a user
	// that was not given to it.
	ErrNotOwned = errors.New("the ElastiCache user is not tagged for this secret")
)

// Rotator rotates an ElastiCache RBAC user's password.
type Rotator struct {
	api      rotators.ElastiCacheUsers
	policy   password.Policy
	maxWait  time.Duration
	interval time.Duration
}

var _ rotators.Rotator = (*Rotator)(nil)

// New returns a Rotator using api. maxWait and interval bound the wait for
// the user to be active.
func New(api rotators.ElastiCacheUsers, policy password.Policy, maxWait, interval time.Duration) *Rotator {
	return &Rotator{api: api, policy: policy, maxWait: maxWait, interval: interval}
}

// Build reads the settings through deps.Getenv (password policy of AWS's
// template variables, EnvMaxWait, EnvRetryInterval) and registers the rotator
// for the single-user strategy, its only one, with deps.ElastiCache.
func Build(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
	for _, s := range strategies {
		if s != rotators.SingleUser {
			return fmt.Errorf("elasticache: unknown rotation strategy %q (have %s)", s, rotators.SingleUser)
		}
	}
	policy, err := password.FromEnv(deps.Env, defaultExclude)
	if err != nil {
		return err
	}
	if policy.Length < minPasswordLength || policy.Length > maxPasswordLength {
		return fmt.Errorf("%w: %s must be from %d to %d for ElastiCache", password.ErrPolicy, password.EnvLength, minPasswordLength, maxPasswordLength)
	}
	if policy.IncludeSpace {
		return fmt.Errorf("%w: ElastiCache passwords cannot hold spaces (%s)", password.ErrPolicy, password.EnvIncludeSpace)
	}
	maxWait, err := seconds(deps.Env, EnvMaxWait, 600)
	if err != nil {
		return err
	}
	interval, err := seconds(deps.Env, EnvRetryInterval, 10)
	if err != nil {
		return err
	}
	reg.Register(New(deps.ElastiCache, policy, maxWait, interval), rotators.SingleUser, Engines...)
	return nil
}

// seconds reads a whole number of seconds.
func seconds(getenv func(string) string, name string, def int) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return time.Duration(def) * time.Second, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 3600 {
		return 0, fmt.Errorf("elasticache: %s must be a whole number of seconds from 0 to 3600", name)
	}
	return time.Duration(n) * time.Second, nil
}

// user is the secret's user, checked.
type user struct {
	id   string // the ElastiCache user ID from user_arn
	name string // the secret's username
}

// userIDPattern is ElastiCache's user ID syntax: a letter, then letters,
// digits and single hyphens, not ending in a hyphen.
var userIDPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$`)

// parseUser checks v's user_arn and username against the secret's ARN:
// nothing is sent to the API for a secret that fails. The user's partition,
// region and account must be the secret's own, which the engine has checked
// (and the API client checks again before any call), so they are compared,
// not validated a second time here.
func parseUser(secretARN string, v secret.Value) (user, error) {
	raw, ok := v.Get(KeyUserARN)
	if !ok || raw == "" {
		return user{}, &secret.KeyError{Key: KeyUserARN, Problem: "is missing or empty (the ElastiCache user's ARN)"}
	}
	p := strings.Split(raw, ":")
	if len(p) != 7 || p[0] != "arn" || p[2] != "elasticache" || p[5] != "user" || len(p[6]) > 40 || !userIDPattern.MatchString(p[6]) {
		return user{}, fmt.Errorf("%w: want arn:<partition>:elasticache:<region>:<account>:user:<user id>", ErrBadUserARN)
	}
	s := strings.Split(secretARN, ":")
	if len(s) < 7 || s[1] != p[1] || s[3] != p[3] || s[4] != p[4] {
		return user{}, fmt.Errorf("%w: the user is in %s/%s/%s", ErrForeignUser, p[1], p[3], p[4])
	}
	name := v.Username
	if name == "" {
		return user{}, &secret.KeyError{Key: secret.KeyUsername, Problem: "is missing or empty (the ElastiCache user name)"}
	}
	if len(name) > 120 || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return user{}, &secret.KeyError{Key: secret.KeyUsername, Problem: "is not an ElastiCache user name (at most 120 printable ASCII characters, no spaces)"}
	}
	return user{id: p[6], name: name}, nil
}

// check makes sure the API's user is the secret's: its name is the secret's
// username and it authenticates with passwords.
func check(u user, got rotators.ElastiCacheUser) error {
	if got.UserID != u.id {
		return fmt.Errorf("%w: DescribeUsers returned user %q for %q", ErrUserMismatch, got.UserID, u.id)
	}
	if got.UserName != u.name {
		return fmt.Errorf("%w: user %s is named %q, the secret's username is %q", ErrUserMismatch, u.id, got.UserName, u.name)
	}
	if got.Authentication != "" && got.Authentication != "password" {
		return fmt.Errorf("%w: user %s authenticates with %q, not passwords", ErrUserMismatch, u.id, got.Authentication)
	}
	return nil
}

// Create checks the user and returns the current value with a new password.
// It changes nothing on ElastiCache.
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	u, err := r.user(ctx, req.SecretARN, req.Current)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	got, err := r.describe(ctx, req.Rotation, u)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	if err := r.owned(ctx, req.Rotation, u, got); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	pw, err := req.Passwords.Generate(ctx, r.policy)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: generate password: %w", err)
	}
	pending := req.Current.Clone()
	pending.Password = pw
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set waits for the user to be active, then gives it exactly the pending
// and the current password (the current one alone is left out when the
// secret has none yet). Calling it twice sends the same list.
func (r *Rotator) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	u, err := r.user(ctx, req.SecretARN, req.Current)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	pu, err := parseUser(req.SecretARN, req.Pending)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: pending value: %w", err)
	}
	if pu != u {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w: the pending value names another user than the current one", ErrUserMismatch)
	}
	if req.Pending.Password == "" {
		return rotators.SetResponse{}, &secret.KeyError{Key: secret.KeyPassword, Problem: "is missing from the pending value"}
	}
	if n := len(req.Pending.Password); n < minPasswordLength || n > maxPasswordLength {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", &secret.KeyError{Key: secret.KeyPassword, Problem: fmt.Sprintf("of the pending value is %d characters; ElastiCache takes %d to %d", n, minPasswordLength, maxPasswordLength)})
	}
	got, err := r.waitActive(ctx, req.Rotation, u)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if err := r.owned(ctx, req.Rotation, u, got); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	passwords := []string{req.Pending.Password}
	if c := req.Current.Password; c != "" && c != req.Pending.Password {
		passwords = append(passwords, c)
	}
	if err := r.api.SetPasswords(ctx, req.SecretARN, req.Token, u.id, passwords); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: modify user %s: %w", u.id, err)
	}
	return rotators.SetResponse{}, nil
}

// Test waits for the user to be active again, which means ElastiCache has
// applied the passwords on every cluster of the user's groups (AWS's
// template does the same: the API cannot check a password).
func (r *Rotator) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	u, err := r.user(ctx, req.SecretARN, req.Pending)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	got, err := r.waitActive(ctx, req.Rotation, u)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	if got.PasswordCount < 1 {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: user %s has no password", u.id)
	}
	return rotators.TestResponse{}, nil
}

// user parses v's user and checks that the function has an API client.
func (r *Rotator) user(_ context.Context, secretARN string, v secret.Value) (user, error) {
	u, err := parseUser(secretARN, v)
	if err != nil {
		return user{}, err
	}
	if r.api == nil {
		return user{}, ErrNoClient
	}
	return u, nil
}

// describe asks the API for u and checks it is the secret's user.
func (r *Rotator) describe(ctx context.Context, rot rotators.Rotation, u user) (rotators.ElastiCacheUser, error) {
	got, err := r.api.DescribeUser(ctx, rot.SecretARN, rot.Token, u.id)
	if err != nil {
		return got, fmt.Errorf("describe user %s: %w", u.id, err)
	}
	return got, check(u, got)
}

// owned checks that got, the API's description of u, carries the tag
// TagSecret naming the secret (its name or full ARN), reading the tags of the
// user's ARN as DescribeUsers gave it.
func (r *Rotator) owned(ctx context.Context, rot rotators.Rotation, u user, got rotators.ElastiCacheUser) error {
	if !strings.HasSuffix(got.ARN, ":user:"+u.id) {
		return fmt.Errorf("%w: DescribeUsers gave user %s the ARN %q", ErrUserMismatch, u.id, got.ARN)
	}
	tags, err := r.api.UserTags(ctx, rot.SecretARN, rot.Token, got.ARN)
	if err != nil {
		return fmt.Errorf("list tags of user %s: %w", u.id, err)
	}
	if !rotators.TagNamesSecret(tags[TagSecret], rot.SecretARN) {
		return fmt.Errorf("%w: user %s must carry the tag %s with this secret's name or ARN", ErrNotOwned, u.id, TagSecret)
	}
	return nil
}

// waitActive describes u until it is active, for at most maxWait and never
// past ctx's deadline.
func (r *Rotator) waitActive(ctx context.Context, rot rotators.Rotation, u user) (rotators.ElastiCacheUser, error) {
	ctx, cancel := context.WithTimeout(ctx, r.maxWait)
	defer cancel()
	for {
		got, err := r.describe(ctx, rot, u)
		if err != nil {
			return got, err
		}
		if got.Status == "active" {
			return got, nil
		}
		t := time.NewTimer(r.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return got, fmt.Errorf("%w: user %s is %q: %w", ErrNotActive, u.id, got.Status, ctx.Err())
		case <-t.C:
		}
	}
}
