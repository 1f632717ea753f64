// Package iamkey rotates IAM user access keys (engine "iam-access-key")
// through the IAM API of the secret's own account: createSecret creates the
// user's second key, testSecret proves it with sts:GetCallerIdentity signed by
// it (the answer must be the secret's user), finishSecret deactivates, then
// deletes, the key that AWSPREVIOUS held before this rotation, so every key
// lives for one full rotation period after it is replaced.
//
// IAM allows two keys per user. Between rotations the user holds the
// AWSCURRENT and AWSPREVIOUS keys, so createSecret first retires the
// AWSPREVIOUS key (deactivate, then delete) to free a slot: it is the key this
// rotation's finishSecret would retire anyway. A key that no version of the
// secret holds is never touched: it is reported (ErrUnheldKey) and the
// rotation stops until an operator removes it. The one exception is a key this
// very rotation created and lost: createSecret records its intent on the user
// (TagMinting: the rotation's ClientRequestToken and the time) before
// iam:CreateAccessKey, so a retry of the same rotation that finds exactly one
// unheld key created within that attempt's lifetime knows it was minted by an
// attempt killed before its version was stored, whose secret nobody ever
// received, and retires it.
//
// A secret rotates only the IAM user whose TagSecret tag holds the secret's
// full ARN; every step checks that before it changes anything (ErrNotOwned).
// A name is refused: an IAM user is global to its account while a secret name
// is unique only per region, so a name would also give the user to a
// same-named secret in another region (rotators.TagNamesSecretARN).
//
// The package never calls Secrets Manager and imports no AWS SDK: the IAM and
// STS calls go through rotators.AccessKeyAPI, which start-up binds to the
// secret's own account (rotators.Deps.AccessKeys).
package iamkey

import (
	"context"
	"errors"
	"fmt"
	"github.com/rotary-secrets/rotary/shared/ascii"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Engine is the engine key this package rotates.
const Engine = "iam-access-key"

// Secret keys of an iam-access-key secret besides engine and username.
const (
	KeyAccessKeyID     = "accessKeyId"     // identifies, never authenticates
	KeySecretAccessKey = "secretAccessKey" // the secret
)

// TagSecret is the IAM user tag that gives a user to one secret
// (rotators.TagSecret): its value must be the secret's full ARN (a name is
// refused, see rotators.TagNamesSecretARN). A rotation checks it (iam:GetUser) before it changes anything, so a secret
// naming another user of the account (an administrator, say) cannot have that
// user's keys created into it.
const TagSecret = rotators.TagSecret

// TagMinting is the IAM user tag createSecret writes just before
// iam:CreateAccessKey: "<ClientRequestToken> <unix seconds>", the rotation's
// version ID (not a secret) and when it was about to mint. It lets a retry of
// the same rotation attribute, and retire, a key an earlier attempt created
// but never stored. The roles may write only this tag key (iam:TagUser with
// aws:TagKeys), never TagSecret or rotary:rotate.
const TagMinting = "rotary:minting"

// A key counts as minted by the attempt that wrote TagMinting when IAM's
// CreateDate lies within [intent - mintSkew, intent + mintSpan + mintSkew]:
// mintSpan is the longest a Lambda invocation (so one createSecret attempt)
// runs, mintSkew the clock difference allowed between the function and IAM.
const (
	mintSpan = 15 * time.Minute
	mintSkew = time.Minute
)

// EnvVerifyWait bounds how long testSecret retries sts:GetCallerIdentity with
// the new key while IAM propagates it (Go duration, default 15s, 0 tries once).
const EnvVerifyWait = "ROTARY_IAM_VERIFY_WAIT"

// Errors a rotation can fail with; each is wrapped with what was refused.
var (
	// ErrInvalidSecret reports a secret value that is not an iam-access-key
	// secret (missing or malformed username, accessKeyId, secretAccessKey).
	ErrInvalidSecret = errors.New("invalid iam-access-key secret")
	// ErrNoIAM reports a function started without an IAM client.
	ErrNoIAM = errors.New("no IAM client configured for iam-access-key rotations")
	// ErrUnheldKey reports a key of the user that no version of the secret
	// holds: it is left alone and the rotation stops.
	ErrUnheldKey = errors.New("the IAM user has an access key that no version of this secret holds")
	// ErrCurrentKeyMissing reports an AWSCURRENT key that the user does not
	// have.
	ErrCurrentKeyMissing = errors.New("the AWSCURRENT access key is not a key of the secret's IAM user")
	// ErrWrongIdentity reports a new key that authenticates as someone other
	// than the secret's user.
	ErrWrongIdentity = errors.New("the pending access key does not authenticate as the secret's IAM user")
	// ErrNotOwned reports an IAM user whose TagSecret tag is not the rotated
	// secret's full ARN (a name tag included): no secret may re-key a user
	// that was not given to it.
	ErrNotOwned = errors.New("the IAM user is not tagged for this secret")
	// ErrForeignVersion reports a version of the secret naming another user
	// or engine: its key is not retired.
	ErrForeignVersion = errors.New("a version of the secret names another IAM user")
)

// Rotator rotates one IAM user's access keys. It is a rotators.Minter
// (createSecret creates a key) and a rotators.Finisher.
type Rotator struct {
	clients    rotators.AccessKeyClients
	verifyWait time.Duration
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
}

var (
	_ rotators.Rotator  = (*Rotator)(nil)
	_ rotators.Minter   = (*Rotator)(nil)
	_ rotators.Finisher = (*Rotator)(nil)
)

// New returns a Rotator using clients (nil refuses every rotation with
// ErrNoIAM) that retries the new key's verification for up to verifyWait.
func New(clients rotators.AccessKeyClients, verifyWait time.Duration) *Rotator {
	return &Rotator{clients: clients, verifyWait: verifyWait, sleep: sleepCtx, now: time.Now}
}

// Build registers the rotator (strategy api-key, the only one) with
// deps.AccessKeys, reading EnvVerifyWait through deps.
func Build(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
	for _, s := range strategies {
		if s != rotators.APIKey {
			return fmt.Errorf("%s: unknown rotation strategy %q (have %s)", Engine, s, rotators.APIKey)
		}
	}
	wait := 15 * time.Second
	if v := strings.TrimSpace(deps.Env(EnvVerifyWait)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			return fmt.Errorf("%s=%q: want a Go duration between 0s and 5m", EnvVerifyWait, v)
		}
		wait = d
	}
	reg.Register(New(deps.AccessKeys, wait), rotators.APIKey, Engine)
	return nil
}

// key is the identity part of a version: its user and key ID.
type key struct{ user, id string }

// parse reads and checks an iam-access-key value; withSecret requires the
// secret access key too.
func parse(v secret.Value, withSecret bool) (key, string, error) {
	if !strings.EqualFold(v.Engine, Engine) {
		return key{}, "", fmt.Errorf("%w: engine is %q, want %q", ErrInvalidSecret, v.Engine, Engine)
	}
	if !validUserName(v.Username) {
		return key{}, "", fmt.Errorf("%w: username must be an IAM user name (1-64 of letters, digits and +=,.@_-)", ErrInvalidSecret)
	}
	id, _ := v.Get(KeyAccessKeyID)
	if !ascii.UpperAlnum(id, 16, 128) {
		return key{}, "", fmt.Errorf("%w: %s must be an access key ID (16-128 upper-case letters and digits)", ErrInvalidSecret, KeyAccessKeyID)
	}
	sk, _ := v.Get(KeySecretAccessKey)
	if withSecret && sk == "" {
		return key{}, "", fmt.Errorf("%w: %s is missing", ErrInvalidSecret, KeySecretAccessKey)
	}
	return key{user: v.Username, id: id}, sk, nil
}

// heldBy loads a version and returns its key when it is a key of user; ok is
// false when the version does not exist. A version of another user is an
// error (ErrForeignVersion): its key is never touched.
func heldBy(ctx context.Context, load rotators.Loader, user, label string) (key, bool, error) {
	if load == nil {
		return key{}, false, nil
	}
	v, ok, err := load(ctx)
	if err != nil {
		return key{}, false, fmt.Errorf("read %s: %w", label, err)
	}
	if !ok {
		return key{}, false, nil
	}
	k, _, err := parse(v, false)
	if err != nil {
		return key{}, false, fmt.Errorf("%s: %w", label, err)
	}
	if k.user != user {
		return key{}, false, fmt.Errorf("%w: %s names user %q, the rotated version %q; its key is left alone", ErrForeignVersion, label, k.user, user)
	}
	return k, true, nil
}

func (r *Rotator) api(ctx context.Context, rot rotators.Rotation) (rotators.AccessKeyAPI, error) {
	if r.clients == nil {
		return nil, ErrNoIAM
	}
	if !strings.HasPrefix(rot.SecretARN, "arn:") || strings.Count(rot.SecretARN, ":") < 6 {
		return nil, errors.New("iam-access-key needs the secret's full ARN (its account is the user's)")
	}
	return r.clients.AccessKeys(ctx, rot.SecretARN, rot.Token)
}

// owned returns the user's ARN and tags after checking that its TagSecret
// tag is the secret's full ARN (rotators.TagNamesSecretARN: a name would match
// the same-named secret of every region, the user being global).
func owned(ctx context.Context, api rotators.AccessKeyAPI, user, secretARN string) (string, map[string]string, error) {
	arn, tags, err := api.User(ctx, user)
	if err != nil {
		return "", nil, fmt.Errorf("get IAM user %s: %w", user, err)
	}
	if v := tags[TagSecret]; !rotators.TagNamesSecretARN(v, secretARN) {
		why := ""
		if v != "" && v == rotators.SecretName(secretARN) {
			why = " (it holds the secret's name, which is refused: an IAM user is global and a secret name is unique only per region)"
		}
		return "", nil, fmt.Errorf("%w: user %s must carry the tag %s with this secret's full ARN%s", ErrNotOwned, user, TagSecret, why)
	}
	return arn, tags, nil
}

// mintedHere reports whether k is the key an earlier attempt of this
// rotation created: the user's TagMinting tag (intent) names this rotation's
// token and k's CreateDate lies within that attempt's lifetime.
func mintedHere(intent, token string, k rotators.AccessKey) bool {
	tok, secs, ok := strings.Cut(intent, " ")
	if !ok || token == "" || tok != token {
		return false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return false
	}
	at := time.Unix(n, 0)
	return !k.Created.Before(at.Add(-mintSkew)) && !k.Created.After(at.Add(mintSpan+mintSkew))
}

// retire deactivates, then deletes, a key of user.
func retire(ctx context.Context, api rotators.AccessKeyAPI, user, id string) error {
	if err := api.SetAccessKeyActive(ctx, user, id, false); err != nil {
		return fmt.Errorf("deactivate access key %s of %s: %w", id, user, err)
	}
	if err := api.DeleteAccessKey(ctx, user, id); err != nil {
		return fmt.Errorf("delete access key %s of %s: %w", id, user, err)
	}
	return nil
}

// Create creates the user's new access key. The user's keys must be the
// AWSCURRENT key and at most the AWSPREVIOUS one; the AWSPREVIOUS key is
// retired first when the user already has two keys (IAM's limit). A single
// other key that an earlier attempt of this rotation created (TagMinting names
// this token and the key's CreateDate lies within that attempt's lifetime) is
// retired and logged; any other key stops the rotation with ErrUnheldKey and
// is left alone. TagMinting is written just before iam:CreateAccessKey. The engine
// calls Create only when no pending version is stored (a Minter), and Discard
// deletes the new key if it could not be stored. The lost-key attribution
// relies on the first: a key of this token that a stored version holds is
// never seen by Create.
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	cur, _, err := parse(req.Current, true)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: AWSCURRENT: %w", err)
	}
	api, err := r.api(ctx, req.Rotation)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	prev, hasPrev, err := heldBy(ctx, req.Previous, cur.user, "AWSPREVIOUS")
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	_, tags, err := owned(ctx, api, cur.user, req.SecretARN)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	keys, err := api.ListAccessKeys(ctx, cur.user)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: list access keys of %s: %w", cur.user, err)
	}
	var foundCur, foundPrev bool
	var unheld []rotators.AccessKey
	for _, k := range keys {
		switch {
		case k.ID == cur.id:
			foundCur = true
		case hasPrev && k.ID == prev.id:
			foundPrev = true
		default:
			unheld = append(unheld, k)
		}
	}
	if !foundCur {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w: %s of %s", ErrCurrentKeyMissing, cur.id, cur.user)
	}
	if len(unheld) == 1 && mintedHere(tags[TagMinting], req.Token, unheld[0]) {
		lost := unheld[0].ID
		slog.WarnContext(ctx, "iam-access-key: retiring the access key an earlier attempt of this rotation created but never stored (killed or cut off before its version was stored; nobody received its secret)",
			"user", cur.user, "accessKeyId", lost)
		if err := retire(ctx, api, cur.user, lost); err != nil {
			return rotators.CreateResponse{}, fmt.Errorf("createSecret: retire the key an earlier attempt of this rotation created but never stored: %w", err)
		}
		unheld = nil
	}
	if len(unheld) > 0 {
		ids := make([]string, len(unheld))
		for i, k := range unheld {
			ids[i] = k.ID
		}
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w: user %s, key %s (delete it in IAM if nothing uses it, e.g. made by hand or left by another rotation; Rotary deletes only a key it can attribute to an earlier attempt of the same rotation)",
			ErrUnheldKey, cur.user, strings.Join(ids, ", "))
	}
	if foundPrev { // with the AWSCURRENT key, the user's two
		if err := retire(ctx, api, cur.user, prev.id); err != nil {
			return rotators.CreateResponse{}, fmt.Errorf("createSecret: retire the AWSPREVIOUS key to stay within IAM's two keys: %w", err)
		}
	}
	// Record the intent first: if this attempt dies before its key is
	// stored, the retry of this rotation can attribute the key.
	intent := req.Token + " " + strconv.FormatInt(r.now().Unix(), 10)
	if err := api.TagUser(ctx, cur.user, TagMinting, intent); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: tag %s with %s before creating its key: %w", cur.user, TagMinting, err)
	}
	id, sk, err := api.CreateAccessKey(ctx, cur.user)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: create access key for %s: %w", cur.user, err)
	}
	pending := req.Current.Clone()
	pending.Set(KeyAccessKeyID, id)
	pending.Set(KeySecretAccessKey, sk)
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set makes sure the pending key is active (it is created active; an
// operator may have deactivated it). Safe to call twice.
func (r *Rotator) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	cur, _, err := parse(req.Current, false)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: AWSCURRENT: %w", err)
	}
	pend, _, err := parse(req.Pending, true)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: AWSPENDING: %w", err)
	}
	if pend.user != cur.user {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w: AWSPENDING names %q, AWSCURRENT %q", ErrForeignVersion, pend.user, cur.user)
	}
	api, err := r.api(ctx, req.Rotation)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if _, _, err := owned(ctx, api, pend.user, req.SecretARN); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	keys, err := api.ListAccessKeys(ctx, pend.user)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: list access keys of %s: %w", pend.user, err)
	}
	i := slices.IndexFunc(keys, func(k rotators.AccessKey) bool { return k.ID == pend.id })
	if i < 0 {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: pending access key %s is not a key of %s (deleted outside the rotation? cancel the rotation and start again)", pend.id, pend.user)
	}
	if !keys[i].Active {
		if err := api.SetAccessKeyActive(ctx, pend.user, pend.id, true); err != nil {
			return rotators.SetResponse{}, fmt.Errorf("setSecret: activate access key %s: %w", pend.id, err)
		}
	}
	return rotators.SetResponse{}, nil
}

// Test proves the pending key: sts:GetCallerIdentity signed with it must
// answer the secret's user (iam:GetUser's ARN). A new key may take a few
// seconds to work everywhere, so a failure is retried up to the verify wait,
// within ctx. It changes nothing.
func (r *Rotator) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	pend, sk, err := parse(req.Pending, true)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: AWSPENDING: %w", err)
	}
	api, err := r.api(ctx, req.Rotation)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	want, _, err := owned(ctx, api, pend.user, req.SecretARN)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	deadline := time.Now().Add(r.verifyWait)
	for wait := 500 * time.Millisecond; ; wait *= 2 {
		got, err := api.CallerARN(ctx, pend.id, sk)
		if err == nil {
			if got != want {
				return rotators.TestResponse{}, fmt.Errorf("testSecret: %w: key %s is %s, want %s", ErrWrongIdentity, pend.id, got, want)
			}
			return rotators.TestResponse{}, nil
		}
		if time.Now().Add(wait).After(deadline) {
			return rotators.TestResponse{}, fmt.Errorf("testSecret: sts:GetCallerIdentity with access key %s: %w", pend.id, err)
		}
		if serr := r.sleep(ctx, wait); serr != nil {
			return rotators.TestResponse{}, fmt.Errorf("testSecret: sts:GetCallerIdentity with access key %s: %w (then %w)", pend.id, err, serr)
		}
	}
}

// Finish deactivates, then deletes, the key that AWSPREVIOUS held before this
// rotation, if the user still has it. Only a key recorded in this secret's
// AWSPREVIOUS version, of the secret's own user, and held by neither
// AWSCURRENT nor AWSPENDING is retired.
//
// It reads as little as it can: createSecret retires that key before it
// records its intent (TagMinting) and mints, so a user whose TagMinting names
// this rotation's token has no such key left, and Finish stops after
// iam:GetUser without reading any version. (A forged tag can only make it
// leave a key alive.) Otherwise (the pending version was not made by this
// rotation's createSecret) it reads AWSPREVIOUS, lists the user's keys, and
// reads AWSCURRENT only when AWSPREVIOUS's key is still there.
func (r *Rotator) Finish(ctx context.Context, req rotators.FinishRequest) (rotators.FinishResponse, error) {
	if req.Pending == nil {
		return rotators.FinishResponse{}, errors.New("finishSecret: read AWSPENDING: no pending version")
	}
	pv, ok, err := req.Pending(ctx)
	if err != nil || !ok {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: read AWSPENDING: %w", errors.Join(err, errIf(!ok, "no pending version")))
	}
	pend, _, err := parse(pv, false)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: AWSPENDING: %w", err)
	}
	api, err := r.api(ctx, req.Rotation)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	_, tags, err := owned(ctx, api, pend.user, req.SecretARN)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	if tok, _, _ := strings.Cut(tags[TagMinting], " "); req.Token != "" && tok == req.Token {
		return rotators.FinishResponse{}, nil // createSecret retired it before minting
	}
	prev, hasPrev, err := heldBy(ctx, req.Previous, pend.user, "AWSPREVIOUS")
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	if !hasPrev || prev.id == pend.id {
		return rotators.FinishResponse{}, nil
	}
	keys, err := api.ListAccessKeys(ctx, pend.user)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: list access keys of %s: %w", pend.user, err)
	}
	if !slices.ContainsFunc(keys, func(k rotators.AccessKey) bool { return k.ID == prev.id }) {
		return rotators.FinishResponse{}, nil // already retired
	}
	// The AWSCURRENT key becomes AWSPREVIOUS's and must keep working.
	cur, hasCur, err := heldBy(ctx, req.Current, pend.user, "AWSCURRENT")
	if err != nil || !hasCur {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", errors.Join(err, errIf(!hasCur, "read AWSCURRENT: no AWSCURRENT version")))
	}
	if prev.id == cur.id {
		return rotators.FinishResponse{}, nil
	}
	if err := retire(ctx, api, pend.user, prev.id); err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: retire the key AWSPREVIOUS held: %w", err)
	}
	return rotators.FinishResponse{}, nil
}

// Discard deletes the key Create made when its version could not be stored.
// It deletes only the pending value's key of its own user, when the user has
// it.
func (r *Rotator) Discard(ctx context.Context, req rotators.DiscardRequest) (rotators.DiscardResponse, error) {
	pend, _, err := parse(req.Pending, false)
	if err != nil {
		return rotators.DiscardResponse{}, fmt.Errorf("discard: %w", err)
	}
	api, err := r.api(ctx, req.Rotation)
	if err != nil {
		return rotators.DiscardResponse{}, fmt.Errorf("discard: %w", err)
	}
	keys, err := api.ListAccessKeys(ctx, pend.user)
	if err != nil {
		return rotators.DiscardResponse{}, fmt.Errorf("discard: list access keys of %s: %w", pend.user, err)
	}
	if !slices.ContainsFunc(keys, func(k rotators.AccessKey) bool { return k.ID == pend.id }) {
		return rotators.DiscardResponse{}, nil
	}
	if err := retire(ctx, api, pend.user, pend.id); err != nil {
		return rotators.DiscardResponse{}, fmt.Errorf("discard: %w", err)
	}
	return rotators.DiscardResponse{}, nil
}

func errIf(cond bool, msg string) error {
	if cond {
		return errors.New(msg)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// validUserName reports whether s is an IAM user name: 1 to 64 ASCII letters,
// digits and _+=,.@- (a loop, not a counted-repetition regexp: see package
// shared/ascii).
func validUserName(s string) bool { return ascii.Chars(s, 1, 64, "_+=,.@-") }
