package iamkey_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestRetireFailsThenRetried: IAM failing the AWSPREVIOUS key's delete in
// createSecret leaves it deactivated; the retried step retires it and
// creates the new key, and AWSCURRENT works throughout.
func TestRetireFailsThenRetried(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	prev := tg.user(t, "app")
	cur, err := rotate(t, r, prev, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg.srv.InjectFault(localaws.Fault{Operation: "DeleteAccessKey", Kind: localaws.InternalError, Count: 10})
	if _, err := rotate(t, r, cur, &prev); err == nil {
		t.Fatal("rotation succeeded while IAM failed every DeleteAccessKey")
	}
	if err := tg.login(t.Context(), cur); err != nil {
		t.Fatalf("AWSCURRENT broken by the failed step: %v", err)
	}
	if tg.login(t.Context(), prev) == nil {
		t.Error("the AWSPREVIOUS key was not deactivated first")
	}
	tg.srv.ClearFaults()
	pend, err := rotate(t, r, cur, &prev)
	if err != nil {
		t.Fatalf("retried rotation: %v", err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); !slices.Equal(ids, []string{keyID(cur), keyID(pend)}) {
		t.Errorf("keys %v, want AWSCURRENT's and the new one", ids)
	}
}

// TestCreateAppliedThenFailed: IAM creating the key but losing the answer
// leaves a key no version holds; the retry of the same rotation (same
// token) attributes it by the minting tag, retires it and completes, and
// AWSCURRENT works throughout.
func TestCreateAppliedThenFailed(t *testing.T) {
	tg := newTarget(t)
	r := iamkey.New(tg.clients, 0)
	cur := tg.user(t, "app")
	tg.srv.InjectFault(localaws.Fault{Operation: "CreateAccessKey", Kind: localaws.AppliedThenFailed, Count: 1})
	if _, err := rotate(t, r, cur, nil); err == nil {
		t.Fatal("rotation succeeded although CreateAccessKey's answer was lost")
	}
	lost, _ := tg.srv.UserKeys(account, "app")
	if len(lost) != 2 {
		t.Fatalf("keys %v, want AWSCURRENT's and the lost one", lost)
	}
	if err := tg.login(t.Context(), cur); err != nil {
		t.Fatalf("AWSCURRENT broken: %v", err)
	}
	pend, err := rotate(t, r, cur, nil)
	if err != nil {
		t.Fatalf("retried rotation: %v", err)
	}
	if ids, _ := tg.srv.UserKeys(account, "app"); !slices.Equal(ids, []string{keyID(cur), keyID(pend)}) || keyID(pend) == lost[1] {
		t.Errorf("keys %v, want AWSCURRENT's and the new one (lost %s retired)", ids, lost[1])
	}
}

// flaky refuses the first n CallerARN calls, as STS does while a new key
// propagates.
type flaky struct {
	rotators.AccessKeyClients
	n     int32
	calls atomic.Int32
}

type flakyAPI struct {
	rotators.AccessKeyAPI
	f *flaky
}

func (f *flaky) AccessKeys(ctx context.Context, arn, token string) (rotators.AccessKeyAPI, error) {
	api, err := f.AccessKeyClients.AccessKeys(ctx, arn, token)
	return flakyAPI{api, f}, err
}

func (a flakyAPI) CallerARN(ctx context.Context, id, sk string) (string, error) {
	if a.f.calls.Add(1) <= a.f.n {
		return "", errDenied
	}
	return a.AccessKeyAPI.CallerARN(ctx, id, sk)
}

// TestVerifyWaitsForPropagation: testSecret retries a refused new key within
// the verify wait, and gives up when ctx ends.
func TestVerifyWaitsForPropagation(t *testing.T) {
	tg := newTarget(t)
	cur := tg.user(t, "app")
	f := &flaky{AccessKeyClients: tg.clients, n: 2}
	if _, err := rotate(t, iamkey.New(f, 10*time.Second), cur, nil); err != nil {
		t.Fatalf("rotation with a key refused twice: %v", err)
	}
	if f.calls.Load() != 3 {
		t.Errorf("%d verify calls, want 3", f.calls.Load())
	}

	cur2 := tg.user(t, "app2")
	f = &flaky{AccessKeyClients: tg.clients, n: 1000}
	r := iamkey.New(f, time.Minute)
	rot := rotators.Rotation{SecretARN: secretARN, Token: "tok"}
	out, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: cur2, Previous: loader(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = r.Test(ctx, rotators.TestRequest{Rotation: rot, Pending: out.Pending, Current: loader(&cur2)})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errDenied) {
		t.Fatalf("Test past its deadline: %v, want the refusal and DeadlineExceeded", err)
	}
	if sk, _ := out.Pending.Get(iamkey.KeySecretAccessKey); sk == "" || strings.Contains(err.Error(), sk) {
		t.Error("the error holds the secret access key")
	}
}
