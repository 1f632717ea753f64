package rig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// Version stages.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// CloneSuffix names the alternate user of alternating-users rotation (the
// same for PostgreSQL and MySQL).
const CloneSuffix = "_clone"

// Case is one secret to rotate.
type Case struct {
	Name     string // secret name, unique in its account
	Account  string // the account the secret lives in
	Target   Target
	Strategy string // rotators.SingleUser or rotators.AlternatingUsers
}

// Secret is a Case whose database user(s) and secret(s) exist. It remembers
// every password it has seen so FindLeak can look for them; none is exported.
type Secret struct {
	Case
	ARN       string // the secret's full ARN
	MasterARN string // the master secret's ARN (alternating users)
	User      string // the original user name

	passwords Planted
}

func (s *Secret) remember(values ...string) { s.passwords.Add(values...) }

// FindLeak returns an error if text holds any password of this secret seen so
// far (initial, master, rotated ones). The error does not show the value.
func (s *Secret) FindLeak(what, text string) error {
	if n, length := s.passwords.Find(text); n > 0 {
		return fmt.Errorf("%s holds password #%d (%d characters) of secret %s", what, n, length, s.Name)
	}
	return nil
}

// Rotary's marker tags (README "Deployment", infra/README.md "Marker tags"):
// the shipped IAM lets a function touch only the secrets carrying them.
const (
	// TagRotate=TagRotateValue marks a secret a Rotary function rotates.
	TagRotate      = "rotary:rotate"
	TagRotateValue = "true"
	// TagRole marks a secret a rotated secret's masterarn names, which the
	// function may only read: RoleMaster for a database master, RoleAdmin
	// for a SaaS admin secret.
	TagRole    = "rotary:role"
	RoleMaster = "master"
	RoleAdmin  = "admin"
)

// RotateTags are the tags of a secret rotated by Rotary.
func RotateTags() []types.Tag {
	return []types.Tag{{Key: aws.String(TagRotate), Value: aws.String(TagRotateValue)}}
}

// RoleTags are the tags of a master (RoleMaster) or admin (RoleAdmin) secret.
func RoleTags(role string) []types.Tag {
	return []types.Tag{{Key: aws.String(TagRole), Value: aws.String(role)}}
}

// Provision creates the database user (and, for alternating users, a master
// user with its own secret) and the secret in c.Account, in AWS's template
// shape with rotationStrategy set, tagged as the README tells users to: the
// secret rotary:rotate=true, its master rotary:role=master. The user first
// proves it can log in, after the target refused a wrong password.
func (w *World) Provision(ctx context.Context, c Case) (*Secret, error) {
	if c.Strategy != rotators.SingleUser && c.Strategy != rotators.AlternatingUsers && c.Strategy != rotators.APIKey {
		return nil, fmt.Errorf("provision %s: strategy %q is not single-user, alternating-users or api-key", c.Name, c.Strategy)
	}
	// A rotation against a target that takes any password proves nothing (an
	// emulator not verifying signatures takes any secretAccessKey).
	if err := c.Target.CheckPasswordEnforced(ctx); err != nil {
		return nil, fmt.Errorf("provision %s: %w", c.Name, err)
	}
	s := &Secret{Case: c, User: "app_" + RandomHex(4)}
	pw := NewPassword()
	s.remember(pw)
	if err := c.Target.CreateUser(ctx, s.User, pw, false); err != nil {
		return nil, fmt.Errorf("provision %s: %w", c.Name, err)
	}
	sm := w.SecretsManager(c.Account)
	v := c.Target.Secret(s.User, pw)
	cred := credential(c.Target, v)
	s.remember(cred)
	if err := c.Target.Login(ctx, s.User, cred); err != nil {
		return nil, fmt.Errorf("provision %s: the new user cannot log in: %w", c.Name, err)
	}
	v.Set(secret.KeyStrategy, c.Strategy)
	if c.Strategy == rotators.AlternatingUsers {
		master, mpw := "master_"+RandomHex(4), NewPassword()
		s.remember(mpw)
		if err := c.Target.CreateUser(ctx, master, mpw, true); err != nil {
			return nil, fmt.Errorf("provision %s: master user: %w", c.Name, err)
		}
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(c.Name + "-master"),
			SecretString: aws.String(c.Target.Secret(master, mpw).StoredJSON()),
			Tags:         RoleTags(RoleMaster),
		})
		if err != nil {
			return nil, fmt.Errorf("provision %s: create master secret: %w", c.Name, err)
		}
		s.MasterARN = aws.ToString(out.ARN)
		v.MasterARN = s.MasterARN
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(c.Name),
		SecretString: aws.String(v.StoredJSON()),
		Tags:         RotateTags(),
	})
	if err != nil {
		return nil, fmt.Errorf("provision %s: create secret: %w", c.Name, err)
	}
	s.ARN = aws.ToString(out.ARN)
	if b, ok := c.Target.(SecretBinder); ok {
		if err := b.BindSecret(ctx, s.User, s.ARN); err != nil {
			return nil, fmt.Errorf("provision %s: tag the user with the secret's ARN: %w", c.Name, err)
		}
	}
	return s, nil
}

// Rotation is the outcome of one RotateSecret call.
type Rotation struct {
	Run             localaws.RotationRun // the emulator's record of the steps
	PreviousVersion string               // the version that was AWSCURRENT before
}

// Rotate asks Secrets Manager, as the secret's owner, to rotate s now with the
// function fn, and returns the run. RotateSecret returns once the four steps
// ran; a failed rotation is a Run with Outcome Failed, not an error.
func (w *World) Rotate(ctx context.Context, s *Secret, fn *Function) (Rotation, error) {
	sm := w.SecretsManager(s.Account)
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.ARN)})
	if err != nil {
		return Rotation{}, fmt.Errorf("rotate %s: read AWSCURRENT: %w", s.Name, err)
	}
	before := len(w.AWS.Rotations(s.ARN))
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String(s.ARN),
		RotationLambdaARN: aws.String(fn.ARN),
	}); err != nil {
		return Rotation{}, fmt.Errorf("rotate %s: RotateSecret: %w", s.Name, err)
	}
	w.AWS.WaitRotations()
	runs := w.AWS.Rotations(s.ARN)
	if len(runs) <= before {
		return Rotation{}, fmt.Errorf("rotate %s: RotateSecret started no rotation", s.Name)
	}
	return Rotation{Run: runs[len(runs)-1], PreviousVersion: aws.ToString(cur.VersionId)}, nil
}

// Check is the verified outcome of one rotation. It holds no secret value.
type Check struct {
	Rotated     bool   // the rotation succeeded and the stages moved as they must
	NewWorks    bool   // the AWSCURRENT credential logs in
	OldRejected bool   // single user: the previous password is refused
	OldKept     bool   // alternating users: the AWSPREVIOUS credential still logs in
	NewUser     string // AWSCURRENT's user name
	OldUser     string // AWSPREVIOUS's user name
	Problems    []string
}

// OK reports whether every check passed: rotated, the new credential works,
// and the old one is refused (single user) or kept (alternating users).
func (c Check) OK() bool { return len(c.Problems) == 0 }

func (c *Check) fail(format string, args ...any) {
	c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
}

// Err returns the problems as one error, or nil.
func (c Check) Err() error {
	if c.OK() {
		return nil
	}
	return errors.New(strings.Join(c.Problems, "; "))
}

// Verify checks a rotation of s against Secrets Manager and the database: the
// run succeeded; the run's version is AWSCURRENT, the one before it
// AWSPREVIOUS, no other version holds AWSPENDING; the password changed (and the user
// alternated, for alternating users); the new credential logs in; the old one
// is refused (single user) or still logs in (alternating users).
func (w *World) Verify(ctx context.Context, s *Secret, r Rotation) Check {
	var c Check
	if r.Run.Outcome != localaws.Succeeded {
		c.fail("rotation %s: %s", r.Run.Outcome, r.Run.Error)
		return c
	}
	sm := w.SecretsManager(s.Account)
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.ARN)})
	if err != nil {
		c.fail("DescribeSecret: %v", err)
		return c
	}
	stages := d.VersionIdsToStages
	if got := stages[r.Run.Token]; !slices.Contains(got, StageCurrent) {
		c.fail("the rotation's version has stages %v, want AWSCURRENT", got)
	}
	if got := stages[r.PreviousVersion]; !slices.Contains(got, StagePrevious) {
		c.fail("the version current before the rotation has stages %v, want AWSPREVIOUS", got)
	}
	// AWSPENDING may stay on the new current version (a finished rotation,
	// as AWS sees it); on any other version the rotation is unfinished.
	for id, st := range stages {
		if id != r.Run.Token && slices.Contains(st, StagePending) {
			c.fail("version %s still holds AWSPENDING", id)
		}
	}
	cur, err := w.read(ctx, sm, s, StageCurrent)
	if err != nil {
		c.fail("%v", err)
		return c
	}
	prev, err := w.read(ctx, sm, s, StagePrevious)
	if err != nil {
		c.fail("%v", err)
		return c
	}
	c.NewUser, c.OldUser = cur.Username, prev.Username
	curCred, prevCred := credential(s.Target, cur), credential(s.Target, prev)
	if curCred == prevCred {
		c.fail("the password did not change")
	}
	wantUser := prev.Username
	if s.Strategy == rotators.AlternatingUsers {
		wantUser = strings.TrimSuffix(prev.Username, CloneSuffix)
		if wantUser == prev.Username {
			wantUser += CloneSuffix
		}
	}
	if cur.Username != wantUser {
		c.fail("AWSCURRENT's user is %s, want %s", cur.Username, wantUser)
	}
	c.Rotated = len(c.Problems) == 0

	if err := s.Target.Login(ctx, cur.Username, curCred); err != nil {
		c.fail("the new credential (%s) does not work: %v", cur.Username, err)
	} else {
		c.NewWorks = true
	}
	err = s.Target.Login(ctx, prev.Username, prevCred)
	keeps := s.Strategy == rotators.AlternatingUsers
	if k, ok := s.Target.(PreviousKeeper); ok && k.KeepsPrevious(s.Strategy) {
		keeps = true
	}
	switch {
	case keeps && err == nil:
		c.OldKept = true
	case keeps:
		c.fail("AWSPREVIOUS (%s) no longer works, but %s must keep it until the next rotation: %v", prev.Username, s.Strategy, err)
	case errors.Is(err, ErrRejected):
		c.OldRejected = true
	case err == nil:
		c.fail("the old password of %s still works after a single-user rotation", prev.Username)
	default:
		c.fail("the old password of %s failed for another reason than the password: %v", prev.Username, err)
	}
	return c
}

func (w *World) read(ctx context.Context, sm *secretsmanager.Client, s *Secret, stage string) (secret.Value, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.ARN), VersionStage: aws.String(stage)})
	if err != nil {
		return secret.Value{}, fmt.Errorf("read %s: %w", stage, err)
	}
	v, err := secret.Parse([]byte(aws.ToString(out.SecretString)))
	if err != nil {
		return secret.Value{}, fmt.Errorf("parse %s: %w", stage, err)
	}
	s.remember(v.Password)
	if s.Target != nil {
		s.remember(credential(s.Target, v))
	}
	return v, nil
}

// Current returns the secret's AWSCURRENT value, read by its owner. It holds
// the password: never log it.
func (w *World) Current(ctx context.Context, s *Secret) (secret.Value, error) {
	return w.read(ctx, w.SecretsManager(s.Account), s, StageCurrent)
}

// Unchanged returns an error unless a rotation left s as it was: the version
// current before r is still AWSCURRENT, no version became AWSPREVIOUS, no
// AWSPENDING version holds a value, and the current credential still logs in.
// Use it after a rotation that must fail before writing anything.
func (w *World) Unchanged(ctx context.Context, s *Secret, r Rotation) error {
	sm := w.SecretsManager(s.Account)
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.ARN)})
	if err != nil {
		return fmt.Errorf("DescribeSecret: %w", err)
	}
	var problems []string
	if got := d.VersionIdsToStages[r.PreviousVersion]; !slices.Contains(got, StageCurrent) {
		problems = append(problems, fmt.Sprintf("the version current before has stages %v, want AWSCURRENT", got))
	}
	for id, st := range d.VersionIdsToStages {
		if slices.Contains(st, StagePrevious) {
			problems = append(problems, fmt.Sprintf("version %s became AWSPREVIOUS", id))
		}
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.ARN), VersionStage: aws.String(StagePending)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		problems = append(problems, fmt.Sprintf("AWSPENDING holds a value (or could not be read: %v)", err))
	}
	cur, err := w.read(ctx, sm, s, StageCurrent)
	if err != nil {
		problems = append(problems, err.Error())
	} else if err := s.Target.Login(ctx, cur.Username, credential(s.Target, cur)); err != nil {
		problems = append(problems, fmt.Sprintf("the current credential no longer works: %v", err))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// PreviousKeeper is implemented by a Target whose strategy keeps the
// AWSPREVIOUS credential working until the next rotation even for a single
// user (Redis ACL users hold several passwords), so Verify expects the old
// credential to log in rather than be refused.
type PreviousKeeper interface {
	KeepsPrevious(strategy string) bool
}
