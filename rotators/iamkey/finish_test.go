package iamkey_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// counted is a loader of v (nil: no such version) that counts its reads.
func counted(v *secret.Value, n *int) rotators.Loader {
	return func(ctx context.Context) (secret.Value, bool, error) {
		*n++
		return loader(v)(ctx)
	}
}

// TestFinishReadsNothingAfterCreate: when this rotation's createSecret
// minted the pending key (its intent names the token), finishSecret reads no
// version: createSecret already retired AWSPREVIOUS's key.
func TestFinishReadsNothingAfterCreate(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	prev := tg.user(t, "app")
	cur, err := rotate(t, r, prev, nil)
	if err != nil {
		t.Fatal(err)
	}
	rot := rotators.Rotation{SecretARN: secretARN, Token: "22222222-3333-4444-5555-666666666666"}
	out, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: cur, Previous: loader(&prev)})
	if err != nil {
		t.Fatal(err)
	}
	var reads int
	if _, err := r.Finish(t.Context(), rotators.FinishRequest{Rotation: rot, Pending: loader(&out.Pending), Current: counted(&cur, &reads), Previous: counted(&prev, &reads)}); err != nil {
		t.Fatal(err)
	}
	if reads != 0 {
		t.Errorf("Finish read %d versions, want 0", reads)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); !slices.Equal(ids, []string{keyID(cur), keyID(out.Pending)}) {
		t.Errorf("keys %v, want AWSCURRENT's and the new one", ids)
	}
}

// TestFinishWithoutCreate: a pending version this rotation's createSecret
// did not make (the intent names another token) gets the full check: the key
// AWSPREVIOUS held is retired when it is neither AWSCURRENT's nor
// AWSPENDING's, and kept when AWSCURRENT holds it; a foreign AWSCURRENT is
// refused.
func TestFinishWithoutCreate(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	prev := tg.user(t, "app")
	k, err := tg.srv.IssueUserKey(account, "app")
	if err != nil {
		t.Fatal(err)
	}
	pend := prev.Clone()
	pend.Set(iamkey.KeyAccessKeyID, k.AccessKeyID)
	pend.Set(iamkey.KeySecretAccessKey, k.SecretAccessKey)
	tg.srv.TagUser(account, "app", iamkey.TagMinting, "another-token 1764531000")
	rot := rotators.Rotation{SecretARN: secretARN, Token: "22222222-3333-4444-5555-666666666666"}

	// AWSCURRENT holds AWSPREVIOUS's key: kept.
	if _, err := r.Finish(t.Context(), rotators.FinishRequest{Rotation: rot, Pending: loader(&pend), Current: loader(&prev), Previous: loader(&prev)}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); len(ids) != 2 {
		t.Fatalf("keys %v: the AWSCURRENT key was retired", ids)
	}
	// A foreign AWSCURRENT: refused, nothing retired.
	other := tg.user(t, "other")
	if _, err := r.Finish(t.Context(), rotators.FinishRequest{Rotation: rot, Pending: loader(&pend), Current: loader(&other), Previous: loader(&prev)}); !errors.Is(err, iamkey.ErrForeignVersion) {
		t.Fatalf("foreign AWSCURRENT: %v, want ErrForeignVersion", err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); len(ids) != 2 {
		t.Fatalf("keys %v after the refusal", ids)
	}
	// AWSCURRENT holds another key (gone from the user): AWSPREVIOUS's is retired.
	cur := prev.Clone()
	cur.Set(iamkey.KeyAccessKeyID, "AKIAGONEGONEGONEGONE")
	if _, err := r.Finish(t.Context(), rotators.FinishRequest{Rotation: rot, Pending: loader(&pend), Current: loader(&cur), Previous: loader(&prev)}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); !slices.Equal(ids, []string{k.AccessKeyID}) {
		t.Errorf("keys %v, want only the pending one", ids)
	}
}
