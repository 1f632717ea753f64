package iamkey_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// TestNameTagRefused: an IAM user is global to its account but a secret name
// is unique only per region, so a rotary:secret tag holding the secret's
// name would give the user to the secret of that name in every region. A
// principal who may create a same-named secret in another region and knows
// the user's key IDs (CloudTrail shows them) would then have the real
// secret's AWSPREVIOUS key retired and a working key of the user minted into
// their secret. A name tag is refused at every step, in the secret's own
// region too, before anything changes; only the full ARN gives the user.
func TestNameTagRefused(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	// The user as its own secret (us-east-1) left it after a rotation:
	// AWSPREVIOUS's key and AWSCURRENT's key, tagged with the name.
	prev := tg.user(t, "deploy-bot")
	k, err := tg.srv.IssueUserKey(account, "deploy-bot")
	if err != nil {
		t.Fatal(err)
	}
	cur := prev.Clone()
	cur.Set(iamkey.KeyAccessKeyID, k.AccessKeyID)
	cur.Set(iamkey.KeySecretAccessKey, k.SecretAccessKey)
	tg.srv.TagUser(account, "deploy-bot", iamkey.TagSecret, "app/iam")
	before, _ := tg.srv.UserKeys(account, "deploy-bot")

	// What a same-named secret elsewhere can hold: the key IDs, not the keys.
	hostileCur := secret.Value{Engine: iamkey.Engine, Username: "deploy-bot"}
	hostileCur.Set(iamkey.KeyAccessKeyID, keyID(cur))
	hostileCur.Set(iamkey.KeySecretAccessKey, "unknown")
	hostilePrev := hostileCur.Clone()
	hostilePrev.Set(iamkey.KeyAccessKeyID, keyID(prev))

	for _, c := range []struct {
		name      string
		arn       string
		cur, prev secret.Value
	}{
		{"same name, other region", "arn:aws:secretsmanager:eu-west-1:" + account + ":secret:app/iam-ZzZzZz", hostileCur, hostilePrev},
		{"same region", secretARN, cur, prev},
	} {
		name := c.name
		rot := rotators.Rotation{SecretARN: c.arn, Token: "1a2b3c4d-7d3e-4f5a-9b8c-1d2e3f4a5b6c"}
		out, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: c.cur, Previous: loader(&c.prev)})
		if err == nil && tg.login(t.Context(), out.Pending) == nil {
			t.Errorf("%s: Create minted a working key of the user", name)
		}
		if !errors.Is(err, iamkey.ErrNotOwned) || !strings.Contains(err.Error(), "deploy-bot") ||
			!strings.Contains(err.Error(), iamkey.TagSecret) || !strings.Contains(err.Error(), "full ARN") {
			t.Errorf("%s: Create: %v, want ErrNotOwned naming the user, the tag and the full ARN", name, err)
		}
		if _, err := r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: c.cur, Pending: c.cur, Previous: loader(&c.prev)}); !errors.Is(err, iamkey.ErrNotOwned) {
			t.Errorf("%s: Set: %v, want ErrNotOwned", name, err)
		}
		if _, err := r.Finish(t.Context(), rotators.FinishRequest{Rotation: rot, Pending: loader(&c.cur), Current: loader(&c.cur), Previous: loader(&c.prev)}); !errors.Is(err, iamkey.ErrNotOwned) {
			t.Errorf("%s: Finish: %v, want ErrNotOwned", name, err)
		}
		if ids, _ := tg.srv.UserKeys(account, "deploy-bot"); !slices.Equal(ids, before) {
			t.Errorf("%s: the user's keys are %v, want %v unchanged", name, ids, before)
		}
		if tg.login(t.Context(), prev) != nil || tg.login(t.Context(), cur) != nil {
			t.Errorf("%s: a key of the real secret stopped working", name)
		}
		if err != nil && strings.Contains(err.Error(), k.SecretAccessKey) {
			t.Errorf("%s: the error holds a secret access key", name)
		}
	}

	// Tagged with the full ARN, the user's own secret rotates, and the
	// same-named secret of the other region is still refused.
	tg.srv.TagUser(account, "deploy-bot", iamkey.TagSecret, secretARN)
	if _, err := rotate(t, r, cur, &prev); err != nil {
		t.Errorf("the user's own secret, tagged with its ARN: %v", err)
	}
	other := rotators.Rotation{SecretARN: "arn:aws:secretsmanager:eu-west-1:" + account + ":secret:app/iam-ZzZzZz", Token: "1a2b3c4d-7d3e-4f5a-9b8c-1d2e3f4a5b6c"}
	if _, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: other, Current: hostileCur, Previous: loader(&hostilePrev)}); !errors.Is(err, iamkey.ErrNotOwned) {
		t.Errorf("other region, user tagged with the real ARN: Create: %v, want ErrNotOwned", err)
	}
}
