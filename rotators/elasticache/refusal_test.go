package elasticache_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

const (
	secretARN = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:app/cache-AbCdEf"
	userARN   = "arn:aws:elasticache:eu-west-1:111111111111:user:app-user"
)

// fakeAPI records calls; its user is named "app" and tagged for secretARN.
type fakeAPI struct {
	user      rotators.ElastiCacheUser
	tags      map[string]string
	describes int
	tagged    []string // the ARNs UserTags was asked for
	modified  [][]string
}

func (f *fakeAPI) DescribeUser(_ context.Context, _, _, id string) (rotators.ElastiCacheUser, error) {
	f.describes++
	u := f.user
	u.UserID = id
	u.ARN = "arn:aws:elasticache:eu-west-1:111111111111:user:" + id
	return u, nil
}

func (f *fakeAPI) UserTags(_ context.Context, _, _, arn string) (map[string]string, error) {
	f.tagged = append(f.tagged, arn)
	return f.tags, nil
}

func (f *fakeAPI) SetPasswords(_ context.Context, _, _, _ string, pw []string) error {
	f.modified = append(f.modified, pw)
	return nil
}

func newFake() *fakeAPI {
	return &fakeAPI{user: rotators.ElastiCacheUser{UserName: "app", Status: "active", Authentication: "password", PasswordCount: 1},
		tags: map[string]string{"rotary:rotate": "true", rotators.TagSecret: "app/cache"}}
}

func value(arn, name, pw string) secret.Value {
	v := secret.Value{Username: name, Password: pw}
	v.Set(elasticache.KeyUserARN, arn)
	return v
}

func rotator(api rotators.ElastiCacheUsers) *elasticache.Rotator {
	return elasticache.New(api, password.Default(`/@"'\`), time.Second, 0)
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name string
		v    secret.Value
		user func(*rotators.ElastiCacheUser)
		want error
		api  bool // the API is asked (DescribeUsers) before the refusal
	}{
		{"other account", value("arn:aws:elasticache:eu-west-1:222222222222:user:app-user", "app", "current-Password-0001"), nil, elasticache.ErrForeignUser, false},
		{"other region", value("arn:aws:elasticache:us-east-1:111111111111:user:app-user", "app", "current-Password-0001"), nil, elasticache.ErrForeignUser, false},
		{"other partition", value("arn:aws-cn:elasticache:eu-west-1:111111111111:user:app-user", "app", "current-Password-0001"), nil, elasticache.ErrForeignUser, false},
		{"not a user ARN", value("arn:aws:elasticache:eu-west-1:111111111111:usergroup:admins", "app", "current-Password-0001"), nil, elasticache.ErrBadUserARN, false},
		{"hostile user id", value("arn:aws:elasticache:eu-west-1:111111111111:user:app--x", "app", "current-Password-0001"), nil, elasticache.ErrBadUserARN, false},
		{"name mismatch", value(userARN, "app", "current-Password-0001"), func(u *rotators.ElastiCacheUser) { u.UserName = "admin" }, elasticache.ErrUserMismatch, true},
		{"iam user", value(userARN, "app", "current-Password-0001"), func(u *rotators.ElastiCacheUser) { u.Authentication = "iam" }, elasticache.ErrUserMismatch, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFake()
			if tc.user != nil {
				tc.user(&api.user)
			}
			r := rotator(api)
			ctx := t.Context()
			rot := rotators.Rotation{SecretARN: secretARN, Token: "t1"}
			_, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: tc.v, Passwords: password.Local{}})
			if !errors.Is(err, tc.want) {
				t.Errorf("Create: %v, want %v", err, tc.want)
			}
			pending := tc.v.Clone()
			pending.Password = "pending-Password-00001"
			_, err = r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: tc.v, Pending: pending})
			if !errors.Is(err, tc.want) {
				t.Errorf("Set: %v, want %v", err, tc.want)
			}
			if len(api.modified) != 0 {
				t.Errorf("ModifyUser called %d times", len(api.modified))
			}
			if !tc.api && api.describes != 0 {
				t.Errorf("DescribeUsers called %d times before the refusal", api.describes)
			}
		})
	}
}

// TestNotOwned: a secret naming a user of its account whose rotary:secret
// tag does not name it (another team's user, tagged rotary:rotate=true for
// its own secret) is refused at createSecret and setSecret, after the tags
// were read and before any ModifyUser; the refusal names the user and the
// tag, never a password.
func TestNotOwned(t *testing.T) {
	for name, tags := range map[string]map[string]string{
		"other secret":     {"rotary:rotate": "true", rotators.TagSecret: "team-b/cache"},
		"no rotary:secret": {"rotary:rotate": "true"},
		"empty":            {"rotary:rotate": "true", rotators.TagSecret: ""},
		"prefix of name":   {"rotary:rotate": "true", rotators.TagSecret: "app/cach"},
		"other ARN":        {"rotary:rotate": "true", rotators.TagSecret: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:app/cache-XyZxYz"},
	} {
		t.Run(name, func(t *testing.T) {
			api := newFake()
			api.tags = tags
			r := rotator(api)
			rot := rotators.Rotation{SecretARN: secretARN, Token: "t1"}
			cur := value(userARN, "app", "current-Password-0001")
			_, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}})
			if !errors.Is(err, elasticache.ErrNotOwned) {
				t.Errorf("Create: %v, want ErrNotOwned", err)
			}
			pending := value(userARN, "app", "pending-Password-00001")
			_, err = r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: cur, Pending: pending})
			if !errors.Is(err, elasticache.ErrNotOwned) {
				t.Errorf("Set: %v, want ErrNotOwned", err)
			}
			if len(api.modified) != 0 {
				t.Errorf("ModifyUser called %d times", len(api.modified))
			}
			if len(api.tagged) != 2 || api.tagged[0] != userARN {
				t.Errorf("UserTags asked for %v, want the user's ARN once per step", api.tagged)
			}
			if err != nil && (strings.Contains(err.Error(), "Password-0") || !strings.Contains(err.Error(), "app-user") || !strings.Contains(err.Error(), rotators.TagSecret)) {
				t.Errorf("Set's error %q must name the user and the tag and no password", err)
			}
		})
	}
	// The secret's name or its full ARN both give the user to it.
	for _, v := range []string{"app/cache", secretARN} {
		api := newFake()
		api.tags[rotators.TagSecret] = v
		rot := rotators.Rotation{SecretARN: secretARN, Token: "t1"}
		_, err := rotator(api).Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: value(userARN, "app", "current-Password-0001"), Pending: value(userARN, "app", "pending-Password-00001")})
		if err != nil || len(api.modified) != 1 {
			t.Errorf("tag %s=%s: Set: %v, %d ModifyUser calls; want one", rotators.TagSecret, v, err, len(api.modified))
		}
	}
}

// TestSetPendingOtherUser: a pending value naming another user than the
// current one is refused and nothing is modified.
func TestSetPendingOtherUser(t *testing.T) {
	api := newFake()
	cur := value(userARN, "app", "current-Password-0001")
	pending := value("arn:aws:elasticache:eu-west-1:111111111111:user:admin", "app", "pending-Password-00001")
	_, err := rotator(api).Set(t.Context(), rotators.SetRequest{Rotation: rotators.Rotation{SecretARN: secretARN, Token: "t"}, Current: cur, Pending: pending})
	if !errors.Is(err, elasticache.ErrUserMismatch) || len(api.modified) != 0 {
		t.Fatalf("Set: %v, %d ModifyUser calls; want ErrUserMismatch and none", err, len(api.modified))
	}
}

// TestSetPasswords: pending first, then current; twice gives the same list;
// the first rotation of a secret without a password sends the pending alone.
func TestSetPasswords(t *testing.T) {
	api := newFake()
	r := rotator(api)
	rot := rotators.Rotation{SecretARN: secretARN, Token: "t"}
	cur := value(userARN, "app", "current-Password-0001")
	pending := value(userARN, "app", "pending-Password-00001")
	for range 2 {
		if _, err := r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: cur, Pending: pending}); err != nil {
			t.Fatal(err)
		}
	}
	first := value(userARN, "app", "")
	if _, err := r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: first, Pending: pending}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{pending.Password, cur.Password}, {pending.Password, cur.Password}, {pending.Password}}
	if len(api.modified) != len(want) {
		t.Fatalf("modified %d times, want %d", len(api.modified), len(want))
	}
	for i := range want {
		if len(api.modified[i]) != len(want[i]) || api.modified[i][0] != want[i][0] || api.modified[i][len(want[i])-1] != want[i][len(want[i])-1] {
			t.Errorf("ModifyUser %d: wrong password list (%d entries)", i, len(api.modified[i]))
		}
	}
}

// TestNoClient: a function without the ElastiCache API refuses clearly.
func TestNoClient(t *testing.T) {
	_, err := rotator(nil).Create(t.Context(), rotators.CreateRequest{Rotation: rotators.Rotation{SecretARN: secretARN}, Current: value(userARN, "app", "x"), Passwords: password.Local{}})
	if !errors.Is(err, elasticache.ErrNoClient) {
		t.Fatalf("Create: %v, want ErrNoClient", err)
	}
}

// TestWaitHonoursDeadline: a user that stays "modifying" ends the wait at
// the step's deadline with ErrNotActive, without modifying it.
func TestWaitHonoursDeadline(t *testing.T) {
	api := newFake()
	api.user.Status = "modifying"
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := elasticache.New(api, password.Default(""), time.Hour, time.Millisecond).Set(ctx, rotators.SetRequest{
		Rotation: rotators.Rotation{SecretARN: secretARN}, Current: value(userARN, "app", "current-Password-0001"), Pending: value(userARN, "app", "pending-Password-00001")})
	if !errors.Is(err, elasticache.ErrNotActive) || len(api.modified) != 0 {
		t.Fatalf("Set: %v, %d modifications; want ErrNotActive and none", err, len(api.modified))
	}
}

// TestUserOfEveryPartition: a user in the secret's own partition, region and
// account is accepted in every partition the engine accepts secrets of,
// including aws-eusc, whose region names begin with four letters.
func TestUserOfEveryPartition(t *testing.T) {
	for _, loc := range []string{"aws:eu-west-1", "aws-cn:cn-north-1", "aws-us-gov:us-gov-west-1", "aws-iso-e:eu-isoe-west-1", "aws-eusc:eusc-de-east-1"} {
		t.Run(loc, func(t *testing.T) {
			part, region, _ := strings.Cut(loc, ":")
			secARN := "arn:" + part + ":secretsmanager:" + region + ":111111111111:secret:app/cache-AbCdEf"
			usrARN := "arn:" + part + ":elasticache:" + region + ":111111111111:user:app-user"
			api := newFake()
			rot := rotators.Rotation{SecretARN: secARN, Token: "t1"}
			if _, err := rotator(api).Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: value(usrARN, "app", "current-Password-0001"), Passwords: password.Local{}}); err != nil {
				t.Errorf("Create: %v", err)
			}
		})
	}
}
