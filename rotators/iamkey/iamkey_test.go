package iamkey_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/iamx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const (
	account   = localaws.DefaultAccount
	secretARN = "arn:aws:secretsmanager:us-east-1:" + account + ":secret:app/iam-AbCdEf"
)

// errDenied is STS refusing a key.
var errDenied = errors.New("sts refused the key")

// iamTarget is a localaws server acting as the IAM API of the secret's
// account, reached through the production adapter (shared/awsx/iamx) with
// the official SDK.
type iamTarget struct {
	srv     *localaws.Server
	clients rotators.AccessKeyClients
}

func newTarget(t testing.TB) *iamTarget {
	t.Helper()
	srv := localaws.Start(t)
	base := srv.AWSConfig(srv.DefaultCredentials(), "us-east-1")
	c := awsx.New(base, awsx.Config{HomeAccount: account})
	return &iamTarget{srv: srv, clients: iamx.New(c)}
}

// user registers a user with one key and returns its starting secret.
func (tg *iamTarget) user(t testing.TB, name string) secret.Value {
	t.Helper()
	tg.srv.AddUser(localaws.IAMUser{Account: account, Name: name, Tags: map[string]string{iamkey.TagSecret: secretARN}})
	k, err := tg.srv.IssueUserKey(account, name)
	if err != nil {
		t.Fatal(err)
	}
	v := secret.Value{Engine: iamkey.Engine, Username: name}
	v.Set(iamkey.KeyAccessKeyID, k.AccessKeyID)
	v.Set(iamkey.KeySecretAccessKey, k.SecretAccessKey)
	return v
}

// login proves v's key with sts:GetCallerIdentity and checks it is v's user.
func (tg *iamTarget) login(ctx context.Context, v secret.Value) error {
	id, _ := v.Get(iamkey.KeyAccessKeyID)
	sk, _ := v.Get(iamkey.KeySecretAccessKey)
	cfg := tg.srv.AWSConfig(localaws.Credentials{}, "us-east-1")
	cfg.Credentials = credentials.NewStaticCredentialsProvider(id, sk, "")
	cfg.RetryMaxAttempts = 1
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return errDenied
	}
	if want := (localaws.IAMUser{Account: account, Name: v.Username}).ARN(); aws.ToString(out.Arn) != want {
		return errDenied
	}
	return nil
}

func (tg *iamTarget) registry() *rotators.Registry {
	var reg rotators.Registry
	reg.Register(iamkey.New(tg.clients, 0), rotators.APIKey, iamkey.Engine)
	return &reg
}

// TestConformance runs the conformance kit against localaws's IAM API: a
// fresh user per case, the keys' liveness checked by STS.
func TestConformance(t *testing.T) {
	tg := newTarget(t)
	n := 0
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           iamkey.Engine,
		KeepsPrevious:  true,
		IdentifierKeys: []string{secret.KeyUsername, iamkey.KeyAccessKeyID},
		New: func(t testing.TB) *rotatortest.Target {
			n++
			user := "app" + string(rune('a'+n%26)) + "-" + itoa(n)
			v := tg.user(t, user)
			return &rotatortest.Target{
				Rotators: tg.registry(),
				Value:    v,
				// The user is given to the stored secret by its full ARN.
				Bind: func(arn string, v secret.Value) (secret.Value, bool) {
					tg.srv.TagUser(account, user, iamkey.TagSecret, arn)
					return v, false
				},
				Login: tg.login,
				Credentials: func(context.Context) ([]string, error) {
					ids, _ := tg.srv.UserKeys(account, user)
					return ids, nil
				},
				Holds: func(ctx context.Context, id string, v secret.Value) (bool, error) {
					have, _ := v.Get(iamkey.KeyAccessKeyID)
					return have == id && tg.login(ctx, v) == nil, nil
				},
			}
		},
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func loader(v *secret.Value) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) {
		if v == nil {
			return secret.Value{}, false, nil
		}
		return *v, true, nil
	}
}

// rotate runs the four steps directly; it returns the pending value.
func rotate(t *testing.T, r *iamkey.Rotator, cur secret.Value, prev *secret.Value) (secret.Value, error) {
	t.Helper()
	ctx := t.Context()
	rot := rotators.Rotation{SecretARN: secretARN, Token: "0f2a6b1c-7d3e-4f5a-9b8c-1d2e3f4a5b6c"}
	out, err := r.Create(ctx, rotators.CreateRequest{Rotation: rot, Current: cur, Previous: loader(prev)})
	if err != nil {
		return secret.Value{}, err
	}
	if _, err := r.Set(ctx, rotators.SetRequest{Rotation: rot, Current: cur, Pending: out.Pending, Previous: loader(prev)}); err != nil {
		return out.Pending, err
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: out.Pending, Current: loader(&cur)}); err != nil {
		return out.Pending, err
	}
	_, err = r.Finish(ctx, rotators.FinishRequest{Rotation: rot, Pending: loader(&out.Pending), Current: loader(&cur), Previous: loader(prev)})
	return out.Pending, err
}

func keyID(v secret.Value) string { id, _ := v.Get(iamkey.KeyAccessKeyID); return id }

// TestRotations: three rotations keep the user at two keys (AWSCURRENT and
// AWSPREVIOUS), each new key authenticates as the user, and the key
// AWSPREVIOUS held is gone after the next rotation.
func TestRotations(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "deploy-bot")
	var prev *secret.Value
	for i := range 3 {
		pend, err := rotate(t, r, cur, prev)
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		if err := tg.login(t.Context(), pend); err != nil {
			t.Fatalf("rotation %d: new key: %v", i, err)
		}
		if err := tg.login(t.Context(), cur); err != nil {
			t.Fatalf("rotation %d: the key now AWSPREVIOUS stopped working: %v", i, err)
		}
		ids, _ := tg.srv.UserKeys(account, "deploy-bot")
		want := []string{keyID(cur), keyID(pend)}
		if !slices.Equal(ids, want) {
			t.Fatalf("rotation %d: user keys %v, want %v", i, ids, want)
		}
		if prev != nil && tg.login(t.Context(), *prev) == nil {
			t.Fatalf("rotation %d: the key AWSPREVIOUS held still works", i)
		}
		c := cur
		prev, cur = &c, pend
	}
}

// TestUnheldKeyReported: a third key no version holds stops the rotation
// with ErrUnheldKey, and it is not deleted (nor is any other key).
func TestUnheldKeyReported(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "ci")
	stray, err := tg.srv.IssueUserKey(account, "ci")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rotate(t, r, cur, nil)
	if !errors.Is(err, iamkey.ErrUnheldKey) {
		t.Fatalf("rotate: %v, want ErrUnheldKey", err)
	}
	ids, active := tg.srv.UserKeys(account, "ci")
	if !slices.Equal(ids, []string{keyID(cur), stray.AccessKeyID}) || !active[1] {
		t.Errorf("keys after the refusal: %v %v, want both untouched and active", ids, active)
	}
	// Also with an AWSPREVIOUS whose key is gone: the stray key is still not
	// taken for it.
	prev := cur.Clone()
	prev.Set(iamkey.KeyAccessKeyID, "AKIAGONEGONEGONEGONE")
	if _, err := rotate(t, r, cur, &prev); !errors.Is(err, iamkey.ErrUnheldKey) {
		t.Fatalf("rotate with previous: %v, want ErrUnheldKey", err)
	}
}

// TestForeignPreviousUntouched: an AWSPREVIOUS naming another user (a
// tampered version) is refused and that user's key is left alone.
func TestForeignPreviousUntouched(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	victim := tg.user(t, "admin")
	if _, err := rotate(t, r, cur, &victim); !errors.Is(err, iamkey.ErrForeignVersion) {
		t.Fatalf("rotate: %v, want ErrForeignVersion", err)
	}
	if err := tg.login(t.Context(), victim); err != nil {
		t.Errorf("the other user's key was touched: %v", err)
	}
}

// TestCurrentKeyMustBeTheUsers: an AWSCURRENT whose key is not the user's
// (another user's key ID) is refused before any key is created.
func TestCurrentKeyMustBeTheUsers(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	other := tg.user(t, "other")
	cur.Set(iamkey.KeyAccessKeyID, keyID(other))
	if _, err := rotate(t, r, cur, nil); !errors.Is(err, iamkey.ErrCurrentKeyMissing) {
		t.Fatalf("rotate: %v, want ErrCurrentKeyMissing", err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); len(ids) != 1 {
		t.Errorf("user app has %d keys, want 1", len(ids))
	}
}

// TestHostileIdentifiers: malformed user names and key IDs are refused
// before any IAM call.
func TestHostileIdentifiers(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	good := tg.user(t, "app")
	tg.srv.ResetCalls()
	for _, bad := range []string{"", "a'b", `a"b`, "a\x00b", "a\nb", "a b", "*", "../admin", "a/b", string(make([]byte, 65))} {
		for _, k := range []string{secret.KeyUsername, iamkey.KeyAccessKeyID} {
			v := good.Clone()
			if k == secret.KeyUsername {
				v.Username = bad
			} else {
				v.Set(k, bad)
			}
			if _, err := rotate(t, r, v, nil); !errors.Is(err, iamkey.ErrInvalidSecret) {
				t.Errorf("%s=%q: %v, want ErrInvalidSecret", k, bad, err)
			}
		}
	}
	if n := tg.srv.TotalCalls(); n != 0 {
		t.Errorf("%d calls reached the API", n)
	}
}

// TestOtherAccountRefused: the IAM client is the secret's own account's; a
// secret of another account gets none (account mode), so no key of that
// account can be touched.
func TestOtherAccountRefused(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	rot := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:us-east-1:222222222222:secret:x-AbCdEf", Token: "t"}
	_, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: cur, Previous: loader(nil)})
	if !errors.Is(err, awsx.ErrAccountNotAllowed) {
		t.Fatalf("Create: %v, want ErrAccountNotAllowed", err)
	}
}

// TestNoIAM: a rotator built without an IAM client refuses clearly.
func TestNoIAM(t *testing.T) {
	var reg rotators.Registry
	if err := iamkey.Build(&reg, rotators.Deps{}); err != nil {
		t.Fatal(err)
	}
	r, err := reg.Lookup(secret.Value{Engine: iamkey.Engine})
	if err != nil {
		t.Fatal(err)
	}
	v := secret.Value{Engine: iamkey.Engine, Username: "app"}
	v.Set(iamkey.KeyAccessKeyID, "AKIAAAAAAAAAAAAAAAAA")
	v.Set(iamkey.KeySecretAccessKey, "x")
	_, err = r.Create(t.Context(), rotators.CreateRequest{Rotation: rotators.Rotation{SecretARN: secretARN}, Current: v})
	if !errors.Is(err, iamkey.ErrNoIAM) {
		t.Fatalf("Create: %v, want ErrNoIAM", err)
	}
}

// TestNotOwned: a user whose rotary:secret tag is missing, names another
// secret or holds only this secret's name (TestNameTagRefused) is refused before any key is created or retired: a secret cannot
// have another user's keys (an administrator's) created into it.
func TestNotOwned(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	for _, tag := range []string{"", "app/other", "app/iam", secretARN + "x", "arn:aws:secretsmanager:us-east-1:" + account + ":secret:app/other-AbCdEf"} {
		cur := tg.user(t, "admin")
		tg.srv.AddUser(localaws.IAMUser{Account: account, Name: "admin", Tags: map[string]string{iamkey.TagSecret: tag}})
		k, err := tg.srv.IssueUserKey(account, "admin")
		if err != nil {
			t.Fatal(err)
		}
		cur.Set(iamkey.KeyAccessKeyID, k.AccessKeyID)
		cur.Set(iamkey.KeySecretAccessKey, k.SecretAccessKey)
		if _, err := rotate(t, r, cur, nil); !errors.Is(err, iamkey.ErrNotOwned) {
			t.Errorf("tag %q: %v, want ErrNotOwned", tag, err)
		}
		if ids, _ := tg.srv.UserKeys(account, "admin"); len(ids) != 1 {
			t.Errorf("tag %q: admin has %d keys, want 1", tag, len(ids))
		}
	}
	// The secret's full ARN is accepted.
	cur := tg.user(t, "tagged")
	if _, err := rotate(t, r, cur, nil); err != nil {
		t.Errorf("user tagged with the secret's ARN: %v", err)
	}
}
