package iamkey_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/shared/secret"
)

const token = "0f2a6b1c-7d3e-4f5a-9b8c-1d2e3f4a5b6c" // rotate's token

// createLost runs createSecret with tok and throws its answer away, as a
// function killed before PutSecretValue stored the version does; it returns
// the lost key's ID and secret.
func createLost(t *testing.T, r *iamkey.Rotator, cur secret.Value, tok string) (string, string) {
	t.Helper()
	out, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rotators.Rotation{SecretARN: secretARN, Token: tok}, Current: cur, Previous: loader(nil)})
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := out.Pending.Get(iamkey.KeySecretAccessKey)
	return keyID(out.Pending), sk
}

// TestLostKeyRetiredOnRetry: a createSecret killed after it created the key
// and before the version was stored leaves the user at IAM's two keys; the
// retry of the same rotation retires that key (logging its ID, never its
// secret) and completes, and AWSCURRENT works throughout.
func TestLostKeyRetiredOnRetry(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	lost, lostSK := createLost(t, r, cur, token)
	pend, err := rotate(t, r, cur, nil)
	if err != nil {
		t.Fatalf("retried rotation: %v", err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); !slices.Equal(ids, []string{keyID(cur), keyID(pend)}) || keyID(pend) == lost {
		t.Errorf("keys %v, want AWSCURRENT's and the new one (lost %s retired)", ids, lost)
	}
	if err := tg.login(t.Context(), cur); err != nil {
		t.Errorf("AWSCURRENT broken: %v", err)
	}
	if log := buf.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, lost) || strings.Contains(log, lostSK) {
		t.Errorf("log %q: want a WARN naming the retired key %s and no secret", log, lost)
	}
}

// refused checks a createSecret refused with ErrUnheldKey and left the
// user's keys as they were, all active.
func refused(t *testing.T, tg *iamTarget, r *iamkey.Rotator, user string, cur secret.Value, tok string) {
	t.Helper()
	before, _ := tg.srv.UserKeys(account, user)
	_, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rotators.Rotation{SecretARN: secretARN, Token: tok}, Current: cur, Previous: loader(nil)})
	if !errors.Is(err, iamkey.ErrUnheldKey) {
		t.Fatalf("Create: %v, want ErrUnheldKey", err)
	}
	after, active := tg.srv.UserKeys(account, user)
	if !slices.Equal(after, before) || slices.Contains(active, false) {
		t.Errorf("keys %v became %v (active %v); want them untouched", before, after, active)
	}
}

// TestLostKeyOfAnotherRotation: a lost key of an earlier rotation (another
// token) is not this rotation's to retire.
func TestLostKeyOfAnotherRotation(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	createLost(t, r, cur, "11111111-2222-3333-4444-555555555555")
	refused(t, tg, r, "app", cur, token)
}

// TestUnheldKeyOutsideWindow: a key created long before, or long after, the
// intent the tag records was not made by that attempt and is kept.
func TestUnheldKeyOutsideWindow(t *testing.T) {
	for _, shift := range []time.Duration{-time.Hour, -2 * time.Minute, 17 * time.Minute, 24 * time.Hour} {
		t.Run(shift.String(), func(t *testing.T) {
			tg := newTarget(t)
			r := iamkey.New(tg.clients, 0)
			cur := tg.user(t, "app")
			if _, err := tg.srv.IssueUserKey(account, "app"); err != nil { // created now
				t.Fatal(err)
			}
			// The intent is shift before the key: the key was created shift
			// after it.
			at := time.Now().Add(-shift).Unix()
			tg.srv.TagUser(account, "app", iamkey.TagMinting, token+" "+strconv.FormatInt(at, 10))
			refused(t, tg, r, "app", cur, token)
		})
	}
	// Inside the window the same key is attributed (the tests above fail
	// for the right reason).
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	if _, err := tg.srv.IssueUserKey(account, "app"); err != nil {
		t.Fatal(err)
	}
	tg.srv.TagUser(account, "app", iamkey.TagMinting, token+" "+strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))
	if _, err := rotate(t, r, cur, nil); err != nil {
		t.Fatalf("key created 10 minutes after the intent: %v", err)
	}
}

// TestMalformedIntentRefused: a minting tag that is not "<token> <seconds>"
// attributes nothing.
func TestMalformedIntentRefused(t *testing.T) {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	for _, tag := range []string{"", token, token + " ", token + " x" + now, " " + now, token + now, token + "  " + now} {
		tg := newTarget(t)
		r := iamkey.New(tg.clients, 0)
		cur := tg.user(t, "app")
		if _, err := tg.srv.IssueUserKey(account, "app"); err != nil {
			t.Fatal(err)
		}
		tg.srv.TagUser(account, "app", iamkey.TagMinting, tag)
		refused(t, tg, r, "app", cur, token)
	}
	// An empty token never matches an intent naming the empty token.
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	if _, err := tg.srv.IssueUserKey(account, "app"); err != nil {
		t.Fatal(err)
	}
	tg.srv.TagUser(account, "app", iamkey.TagMinting, " "+now)
	refused(t, tg, r, "app", cur, "")
}

// phantom adds a key to every listing, as if the user had a third key
// (IAM's limit is two, so only a fake can show two unheld keys beside
// AWSCURRENT's), and records the keys the rotator deactivates or deletes.
type phantom struct {
	rotators.AccessKeyClients
	touched []string
}

type phantomAPI struct {
	rotators.AccessKeyAPI
	p *phantom
}

func (p *phantom) AccessKeys(ctx context.Context, arn, tok string) (rotators.AccessKeyAPI, error) {
	api, err := p.AccessKeyClients.AccessKeys(ctx, arn, tok)
	return phantomAPI{api, p}, err
}

func (a phantomAPI) ListAccessKeys(ctx context.Context, user string) ([]rotators.AccessKey, error) {
	keys, err := a.AccessKeyAPI.ListAccessKeys(ctx, user)
	return append(keys, rotators.AccessKey{ID: "AKIAPHANTOMPHANTOM00", Active: true, Created: time.Now()}), err
}

func (a phantomAPI) SetAccessKeyActive(ctx context.Context, user, id string, active bool) error {
	a.p.touched = append(a.p.touched, id)
	return a.AccessKeyAPI.SetAccessKeyActive(ctx, user, id, active)
}

func (a phantomAPI) DeleteAccessKey(ctx context.Context, user, id string) error {
	a.p.touched = append(a.p.touched, id)
	return a.AccessKeyAPI.DeleteAccessKey(ctx, user, id)
}

// TestTwoUnheldKeysRefused: with two keys no version holds, even if the
// intent names this rotation, which one was lost is unknown: nothing is
// deleted.
func TestTwoUnheldKeysRefused(t *testing.T) {
	tg := newTarget(t)
	cur := tg.user(t, "app")
	createLost(t, iamkey.New(tg.clients, 0), cur, token)
	p := &phantom{AccessKeyClients: tg.clients}
	refused(t, tg, iamkey.New(p, 0), "app", cur, token)
	if len(p.touched) != 0 {
		t.Errorf("keys %v deactivated or deleted", p.touched)
	}
}
