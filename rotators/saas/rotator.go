package saas

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// KeyPrefix starts the name of every key Rotary mints.
const KeyPrefix = "rotary-"

// maxNameLen is the longest name every provider accepts (Twilio: 64).
const maxNameLen = 64

// cleanupTimeout bounds the revocation of a key minted by a failing step,
// which runs even when the step's context is already done.
const cleanupTimeout = 15 * time.Second

// SecretPrefix is the start of the name of every key minted for one secret:
// KeyPrefix, 8 hex digits of a hash of the secret's ARN, and "-". Keys of other
// secrets under the same provider account never share it.
func SecretPrefix(secretARN string) string {
	sum := sha256.Sum256([]byte(secretARN))
	return KeyPrefix + hex.EncodeToString(sum[:4]) + "-"
}

// KeyName is the name of the key minted for a rotation: SecretPrefix and the
// token (a version ID, never secret), or a hash of the token when the name
// would be longer than 64 characters.
func KeyName(secretARN, token string) string {
	p := SecretPrefix(secretARN)
	if len(p)+len(token) <= maxNameLen {
		return p + token
	}
	sum := sha256.Sum256([]byte(token))
	return p + hex.EncodeToString(sum[:16])
}

// chosenSecret is the secret Rotary gives the key it mints for a rotation at
// a provider that accepts a chosen secret: an HMAC-SHA256, keyed with the
// admin secret's credentials, of the secret's ARN and the token, so only a
// holder of the admin credential can know it, and a retried attempt with the
// same token finds the key an attempt whose answer was lost minted. Without a
// credential to key it (never, in practice) it is random.
func chosenSecret(admin secret.Value, secretARN, token string) string {
	creds := admin.Secrets()
	if len(creds) == 0 {
		return rand.Text() + rand.Text()
	}
	slices.Sort(creds)
	k := sha256.New()
	for _, c := range creds {
		fmt.Fprintf(k, "%d:%s;", len(c), c)
	}
	m := hmac.New(sha256.New, k.Sum(nil))
	fmt.Fprintf(m, "rotary chosen key secret v1\x00%s\x00%s", secretARN, token)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Rotator runs the four rotation steps for any Adapter:
//
//   - Create revokes keys an earlier attempt minted for this secret (found by
//     name: a retry with the same token, or a rotation that was abandoned),
//     makes room when the provider keeps few keys, mints a key named
//     KeyName(secret, token), and revokes it again if anything after the mint
//     fails.
//   - Set has nothing to apply: the key is live once minted.
//   - Test verifies the pending key with the provider.
//   - Finish revokes the key that was AWSPREVIOUS before this rotation and
//     keeps the current one alive, so consumers get one rotation period of
//     overlap.
type Rotator struct {
	adapter Adapter
	spec    Spec

	// VerifyWait is the most testSecret waits, in all, for a new key the
	// provider still refuses (401) to start working, since new keys can
	// take seconds to propagate. Zero: a refusal fails at once.
	VerifyWait time.Duration
	// Sleep waits between verification attempts; nil waits for real.
	Sleep func(ctx context.Context, d time.Duration) error
}

var (
	_ rotators.Minter    = (*Rotator)(nil)
	_ rotators.Finisher  = (*Rotator)(nil)
	_ rotators.Discarder = (*Rotator)(nil)
)

// NewRotator returns the Rotator for a.
func NewRotator(a Adapter) *Rotator {
	return &Rotator{adapter: a, spec: a.Spec()}
}

// Adapter returns the rotator's adapter.
func (r *Rotator) Adapter() Adapter { return r.adapter }

func (r *Rotator) errorf(step, format string, args ...any) error {
	return fmt.Errorf("%s %s: %w", r.spec.Engine, step, fmt.Errorf(format, args...))
}

// key reads the key fields of v.
func (r *Rotator) key(v secret.Value) Key {
	id, _ := v.Get(r.spec.IDKey)
	sec, _ := v.Get(r.spec.SecretKey)
	return Key{ID: id, Secret: sec}
}

func (r *Rotator) check(v secret.Value) error {
	if err := v.Require(append([]string{r.spec.IDKey, r.spec.SecretKey}, r.spec.Required...)...); err != nil {
		return err
	}
	// The key ID names a key at the provider: refuse a malformed one before
	// anything is minted, not a rotation later when it is revoked.
	id, _ := v.Get(r.spec.IDKey)
	return checkID(r.spec.IDKey, id)
}

// admin reads the admin secret and checks it may be used for the rotated
// secret v (its allowedSecretArns, and the adapter's account and allow-list
// checks), before any provider call.
func (r *Rotator) admin(ctx context.Context, load rotators.Loader, secretARN string, v secret.Value) (secret.Value, error) {
	if load == nil {
		return secret.Value{}, &secret.KeyError{Key: secret.KeyMasterARN, Problem: "must name the admin secret holding the provider credential"}
	}
	a, ok, err := load(ctx)
	if err != nil {
		return secret.Value{}, fmt.Errorf("read the admin secret: %w", err)
	}
	if !ok {
		return secret.Value{}, &secret.KeyError{Key: secret.KeyMasterARN, Problem: "must name the admin secret holding the provider credential"}
	}
	if err := allowed(a, AllowSecretARNs, "secret", secretARN); err != nil {
		return secret.Value{}, err
	}
	if err := r.adapter.Permit(v, a); err != nil {
		return secret.Value{}, err
	}
	return a, nil
}

// ownership asks the provider whether the key version v holds is one Rotary
// minted for the secret.
func (r *Rotator) ownership(ctx context.Context, secretARN string, v, admin secret.Value) (ownership, error) {
	key := r.key(v)
	info, err := r.adapter.Describe(ctx, DescribeKeyRequest{Secret: v, Admin: admin, Key: key})
	if err != nil {
		return forged, fmt.Errorf("check whose key %s is: %w", key.ID, err)
	}
	return r.ownedBy(info, secretARN, v), nil
}

// Create mints the pending key. Safe to call twice with the same token: the
// second call revokes what the first minted before minting again, so at most
// one key minted under the token is alive afterwards. On every failure after a
// mint, the minted key is revoked before Create returns. It revokes only keys
// Rotary minted for this secret: keys named for it (named providers), the
// AWSPREVIOUS key when the provider confirms it is this secret's, and keys
// holding the secret Create chose (providers without names).
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	const step = "createSecret"
	cur := req.Current
	if err := r.check(cur); err != nil {
		return rotators.CreateResponse{}, r.errorf(step, "current version: %w", err)
	}
	admin, err := r.admin(ctx, req.Master, req.SecretARN, cur)
	if err != nil {
		return rotators.CreateResponse{}, r.errorf(step, "%w", err)
	}
	curKey := r.key(cur)
	prevID := ""
	var prev secret.Value
	if req.Previous != nil {
		p, ok, err := req.Previous(ctx)
		if err != nil {
			return rotators.CreateResponse{}, r.errorf(step, "read the previous version: %w", err)
		}
		if ok {
			if id := r.key(p).ID; id != curKey.ID {
				prevID, prev = id, p
			}
		}
	}
	name := KeyName(req.SecretARN, req.Token)
	prefix := SecretPrefix(req.SecretARN)
	keep := compact(curKey.ID, prevID)

	// Keys an earlier attempt minted for this secret that AWSCURRENT and
	// AWSPREVIOUS do not hold were never stored (or were abandoned). Without
	// names, nothing tells them from keys someone else made: they stay.
	if r.spec.Named {
		if err := r.sweep(ctx, cur, admin, FindKeysRequest{Name: prefix, Prefix: true, Keep: keep}); err != nil {
			return rotators.CreateResponse{}, r.errorf(step, "revoke keys left by an earlier attempt: %w", err)
		}
	}
	if r.spec.MaxKeys > 0 && prevID != "" {
		verdict, err := r.ownership(ctx, req.SecretARN, prev, admin)
		if err != nil {
			return rotators.CreateResponse{}, r.errorf(step, "%w", err)
		}
		switch verdict {
		case owned:
			if err := r.adapter.Revoke(ctx, RevokeKeyRequest{Secret: prev, Admin: admin, KeyID: prevID}); err != nil {
				return rotators.CreateResponse{}, r.errorf(step, "revoke the previous key %s to make room: %w", prevID, err)
			}
		case gone:
		default:
			return rotators.CreateResponse{}, r.errorf(step, "%w: the provider keeps at most %d keys and the AWSPREVIOUS key %s was not minted by Rotary for this secret; remove it by hand to make room",
				ErrNotOwned, r.spec.MaxKeys, prevID)
		}
		keep = compact(curKey.ID)
	}

	newSecret := ""
	if r.spec.ChoosesSecret {
		newSecret = chosenSecret(admin, req.SecretARN, req.Token)
		// A key an earlier attempt with this token minted (its answer or its
		// stored value lost) holds the same secret.
		if err := r.sweep(ctx, cur, admin, FindKeysRequest{Holds: newSecret, Keep: keep}); err != nil {
			return rotators.CreateResponse{}, r.errorf(step, "revoke the key an earlier attempt minted: %w", err)
		}
	}
	key, err := r.adapter.Create(ctx, CreateKeyRequest{Secret: cur, Current: curKey, Admin: admin, Name: name, NewSecret: newSecret})
	if err != nil {
		// The provider may have minted the key and failed afterwards.
		return rotators.CreateResponse{}, r.errorf(step, "%w", errors.Join(err, r.cleanup(ctx, cur, admin, prefix, keep, key.ID, newSecret)))
	}
	if key.ID == "" || key.Secret == "" {
		return rotators.CreateResponse{}, r.errorf(step, "%w", errors.Join(
			errors.New("provider returned a key without ID or secret"), r.cleanup(ctx, cur, admin, prefix, keep, key.ID, newSecret)))
	}
	if slices.Contains(keep, key.ID) {
		return rotators.CreateResponse{}, r.errorf(step, "provider returned the ID of a stored key as a new key")
	}
	// An attempt the HTTP client retried after a lost answer may have minted a
	// twin under the same name.
	if r.spec.Named {
		if err := r.sweep(ctx, cur, admin, FindKeysRequest{Name: prefix, Prefix: true, Keep: append(keep, key.ID)}); err != nil {
			return rotators.CreateResponse{}, r.errorf(step, "%w", errors.Join(
				fmt.Errorf("revoke duplicate keys: %w", err), r.cleanup(ctx, cur, admin, prefix, keep, key.ID, newSecret)))
		}
	}
	pending := cur.Clone()
	pending.Set(r.spec.IDKey, key.ID)
	pending.Set(r.spec.SecretKey, key.Secret)
	pending.Set(RecordKey, name)
	return rotators.CreateResponse{Pending: pending}, nil
}

// sweep revokes every key Find returns, never one in find.Keep.
func (r *Rotator) sweep(ctx context.Context, v, admin secret.Value, find FindKeysRequest) error {
	find.Secret, find.Admin = v, admin
	ids, err := r.adapter.Find(ctx, find)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if slices.Contains(find.Keep, id) {
			continue // an adapter must not return these; never revoke a stored key
		}
		if err := r.adapter.Revoke(ctx, RevokeKeyRequest{Secret: v, Admin: admin, KeyID: id}); err != nil {
			errs = append(errs, fmt.Errorf("revoke key %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// cleanup retires what a failing Create minted: the key with ID minted when
// known, every key of the secret (names starting with prefix) not in keep,
// and, for providers without names, the key holding newSecret. It runs even
// when ctx is done, for at most cleanupTimeout.
func (r *Rotator) cleanup(ctx context.Context, v, admin secret.Value, prefix string, keep []string, minted, newSecret string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var errs []error
	if minted != "" && !slices.Contains(keep, minted) {
		if err := r.adapter.Revoke(ctx, RevokeKeyRequest{Secret: v, Admin: admin, KeyID: minted}); err != nil {
			errs = append(errs, fmt.Errorf("retire the minted key %s: %w", minted, err))
		}
	}
	find := FindKeysRequest{Name: prefix, Prefix: true, Keep: keep}
	if !r.spec.Named {
		find = FindKeysRequest{Holds: newSecret, Keep: keep}
	}
	if r.spec.Named || newSecret != "" {
		if err := r.sweep(ctx, v, admin, find); err != nil {
			errs = append(errs, fmt.Errorf("retire keys minted under this rotation: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Discard revokes the key Create minted when the engine could not store it
// (retire on failure), and, for providers whose keys carry names, every other
// key minted under the rotation's name. A key already gone is success: safe to
// call twice.
func (r *Rotator) Discard(ctx context.Context, req rotators.DiscardRequest) (rotators.DiscardResponse, error) {
	const step = "discard"
	admin, err := r.admin(ctx, req.Master, req.SecretARN, req.Pending)
	if err != nil {
		return rotators.DiscardResponse{}, r.errorf(step, "%w", err)
	}
	var errs []error
	if id := r.key(req.Pending).ID; id != "" {
		if err := r.adapter.Revoke(ctx, RevokeKeyRequest{Secret: req.Pending, Admin: admin, KeyID: id}); err != nil {
			errs = append(errs, fmt.Errorf("revoke the unstored key %s: %w", id, err))
		}
	}
	if r.spec.Named {
		// Without names, Find cannot tell this rotation's keys from stored ones.
		if err := r.sweep(ctx, req.Pending, admin, FindKeysRequest{Name: KeyName(req.SecretARN, req.Token)}); err != nil {
			errs = append(errs, fmt.Errorf("revoke keys minted under this rotation: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rotators.DiscardResponse{}, r.errorf(step, "%w", err)
	}
	return rotators.DiscardResponse{}, nil
}

// Set has nothing to apply: a minted key is live. It checks the pending
// version holds a key. Safe to call twice.
func (r *Rotator) Set(_ context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if err := r.check(req.Pending); err != nil {
		return rotators.SetResponse{}, r.errorf("setSecret", "pending version: %w", err)
	}
	return rotators.SetResponse{}, nil
}

// Test verifies the pending key with one authenticated call that changes
// nothing. A refusal is retried with doubling waits from one second while
// VerifyWait allows, for providers whose new keys take a moment to work. Safe
// to call twice.
func (r *Rotator) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	const step = "testSecret"
	if err := r.check(req.Pending); err != nil {
		return rotators.TestResponse{}, r.errorf(step, "pending version: %w", err)
	}
	key := r.key(req.Pending)
	sleep := r.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var spent time.Duration
	for wait := time.Second; ; wait *= 2 {
		err := r.adapter.Verify(ctx, VerifyKeyRequest{Secret: req.Pending, Key: key})
		if err == nil {
			return rotators.TestResponse{}, nil
		}
		err = r.errorf(step, "verify the pending key %s: %w", key.ID, err)
		if !errors.Is(err, ErrUnauthorized) || spent+wait > r.VerifyWait {
			return rotators.TestResponse{}, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+minAttempt {
			return rotators.TestResponse{}, err
		}
		if serr := sleep(ctx, wait); serr != nil {
			return rotators.TestResponse{}, fmt.Errorf("%w (gave up waiting for the key to propagate: %w)", err, serr)
		}
		spent += wait
	}
}

// Finish revokes the key of the AWSPREVIOUS version (the key that stopped
// being current one rotation ago) when the provider confirms Rotary minted it
// for this secret (a key without Rotary's record is left alone; a record the
// provider contradicts is refused with ErrNotOwned), and keeps the AWSCURRENT key, which is
// about to become AWSPREVIOUS, alive. It never revokes the pending or current
// key, and a key already revoked counts as revoked: safe to call twice.
func (r *Rotator) Finish(ctx context.Context, req rotators.FinishRequest) (rotators.FinishResponse, error) {
	const step = "finishSecret"
	load := func(l rotators.Loader, what string) (secret.Value, bool, error) {
		if l == nil {
			return secret.Value{}, false, nil
		}
		v, ok, err := l(ctx)
		if err != nil {
			return v, ok, r.errorf(step, "read the %s version: %w", what, err)
		}
		return v, ok, nil
	}
	pending, ok, err := load(req.Pending, "pending")
	if err != nil {
		return rotators.FinishResponse{}, err
	}
	if !ok {
		return rotators.FinishResponse{}, r.errorf(step, "no pending version")
	}
	pendID := r.key(pending).ID
	if pendID == "" {
		return rotators.FinishResponse{}, r.errorf(step, "pending version: %w", &secret.KeyError{Key: r.spec.IDKey, Problem: "is missing or empty"})
	}
	cur, curOK, err := load(req.Current, "current")
	if err != nil {
		return rotators.FinishResponse{}, err
	}
	curID := r.key(cur).ID
	if curOK && curID == pendID {
		return rotators.FinishResponse{}, nil // already finished
	}
	prev, ok, err := load(req.Previous, "previous")
	if err != nil || !ok {
		return rotators.FinishResponse{}, err
	}
	prevID := r.key(prev).ID
	if prevID == "" || prevID == pendID || (curOK && prevID == curID) {
		return rotators.FinishResponse{}, nil
	}
	admin, err := r.admin(ctx, req.Master, req.SecretARN, prev)
	if err != nil {
		return rotators.FinishResponse{}, r.errorf(step, "%w", err)
	}
	verdict, err := r.ownership(ctx, req.SecretARN, prev, admin)
	if err != nil {
		return rotators.FinishResponse{}, r.errorf(step, "%w", err)
	}
	switch verdict {
	case gone, unmanaged:
		// Revoked already, or a key Rotary did not mint (the first key,
		// made by hand): Rotary leaves it to its owner.
		return rotators.FinishResponse{}, nil
	case forged:
		return rotators.FinishResponse{}, r.errorf(step, "%w: the AWSPREVIOUS version records key %s as Rotary's, but the provider does not confirm it; left untouched", ErrNotOwned, prevID)
	}
	if err := r.adapter.Revoke(ctx, RevokeKeyRequest{Secret: prev, Admin: admin, KeyID: prevID}); err != nil {
		return rotators.FinishResponse{}, r.errorf(step, "revoke the previous key %s: %w", prevID, err)
	}
	return rotators.FinishResponse{}, nil
}

func compact(ids ...string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
