package iamkey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// TestNameTagOtherRegion: a rotary:secret name tag matches the secret of
// that name in every region (names are unique per region, IAM users are
// global). Once the user's own secret has re-keyed it, a secret of the same
// name in another region, holding only the user's key IDs (not secret), is
// refused before anything changes: without the check it retired the real
// secret's AWSPREVIOUS key and had a working key of the user minted into it.
func TestNameTagOtherRegion(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "deploy-bot")
	tg.srv.TagUser(account, "deploy-bot", iamkey.TagSecret, "app/iam")
	pend, err := rotate(t, r, cur, nil) // the user's own secret, us-east-1
	if err != nil {
		t.Fatal(err)
	}
	other := "arn:aws:secretsmanager:eu-west-1:" + account + ":secret:app/iam-ZzZzZz"
	hostileCur := secret.Value{Engine: iamkey.Engine, Username: "deploy-bot"}
	hostileCur.Set(iamkey.KeyAccessKeyID, keyID(pend))
	hostileCur.Set(iamkey.KeySecretAccessKey, "unknown")
	hostilePrev := hostileCur.Clone()
	hostilePrev.Set(iamkey.KeyAccessKeyID, keyID(cur))
	rot := rotators.Rotation{SecretARN: other, Token: "1a2b3c4d-7d3e-4f5a-9b8c-1d2e3f4a5b6c"}
	out, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: hostileCur, Previous: loader(&hostilePrev)})
	if err == nil {
		if tg.login(t.Context(), out.Pending) == nil {
			t.Error("a secret of the same name in another region had a working key of the user minted into it")
		}
	} else if !errors.Is(err, iamkey.ErrNotOwned) || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("Create: %v, want ErrNotOwned naming the region that re-keys the user", err)
	}
	if err := tg.login(t.Context(), cur); err != nil {
		t.Error("the real secret's AWSPREVIOUS key was retired")
	}
	if ids, _ := tg.srv.UserKeys(account, "deploy-bot"); len(ids) != 2 {
		t.Errorf("the user has %d keys, want the real secret's 2", len(ids))
	}
	for _, step := range []func() error{
		func() error {
			_, err := r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: hostileCur, Pending: hostileCur, Previous: loader(&hostilePrev)})
			return err
		},
		func() error {
			_, err := r.Finish(t.Context(), rotators.FinishRequest{Rotation: rot, Pending: loader(&hostileCur), Current: loader(&hostileCur), Previous: loader(&hostilePrev)})
			return err
		},
	} {
		if err := step(); !errors.Is(err, iamkey.ErrNotOwned) {
			t.Errorf("a later step of the other region's secret: %v, want ErrNotOwned", err)
		}
	}
	// The user's own secret goes on rotating.
	if _, err := rotate(t, r, pend, &cur); err != nil {
		t.Errorf("the user's own secret's next rotation: %v", err)
	}
}
