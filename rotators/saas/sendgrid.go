package saas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// EngineSendGrid is the engine value of SendGrid secrets.
const EngineSendGrid = "sendgrid"

// SendGrid hosts.
const (
	SendGridGlobalURL = "https://api.sendgrid.com"
	SendGridEUURL     = "https://api.eu.sendgrid.com"
)

// SendGrid rotates SendGrid API keys (/v3/api_keys).
//
// Rotated secret: {"engine":"sendgrid","masterarn":"<admin secret ARN>",
// "apiKeyId":"…","apiKey":"SG.…"} and optionally "region":"eu" or
// "baseUrl":"https://api.eu.sendgrid.com" for EU regional subusers, and
// "onBehalfOf":"<subuser>" when a parent account's admin key manages a
// subuser's keys. Admin secret: {"apiKey":"SG.…"}, a key with the api_keys
// scopes (api_keys.create, api_keys.read, api_keys.delete), and optionally
// "allowedSubusers". The new key gets the scopes the current key holds: those
// it reports itself (GET /v3/scopes with the key, which proves the secret
// holds it) that the admin also lists for its ID, never more.
type SendGrid struct {
	Config Config
	Client *Client
}

var _ Adapter = (*SendGrid)(nil)

// Spec implements Adapter.
func (s *SendGrid) Spec() Spec {
	return Spec{Engine: EngineSendGrid, IDKey: "apiKeyId", SecretKey: "apiKey", Named: true}
}

// Permit implements Adapter: the subuser (onBehalfOf, "" for the parent
// account) must be in the admin's allowedSubusers, when the admin has that key.
func (s *SendGrid) Permit(v, admin secret.Value) error {
	sub, _ := v.Get("onBehalfOf")
	if _, present, err := allowList(admin, AllowSubusers); err != nil || !present {
		return err
	}
	what := "subuser"
	if sub == "" {
		what = "parent account (subuser)"
	}
	return allowed(admin, AllowSubusers, what, sub)
}

func (s *SendGrid) base(v secret.Value) (string, error) {
	own, _ := v.Get("baseUrl")
	if own == "" {
		if r, _ := v.Get("region"); strings.EqualFold(r, "eu") {
			own = SendGridEUURL
		}
	}
	return s.Config.baseURL(EngineSendGrid, own, SendGridGlobalURL, []string{"api.sendgrid.com", "api.eu.sendgrid.com"})
}

// admin returns the headers of key-management calls: the admin key, and
// on-behalf-of when the rotated secret names a subuser.
func (s *SendGrid) admin(v, admin secret.Value) (http.Header, error) {
	k, _ := admin.Get("apiKey")
	if k == "" {
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "apiKey", Problem: "must hold a SendGrid API key with the api_keys scopes"})
	}
	h := bearer(k)
	if sub, _ := v.Get("onBehalfOf"); sub != "" {
		if strings.ContainsAny(sub, "\r\n") {
			return nil, &secret.KeyError{Key: "onBehalfOf", Problem: "must be a subuser name on one line"}
		}
		h.Set("On-Behalf-Of", sub)
	}
	return h, nil
}

// sendGridAutoScopes are scopes SendGrid assigns to keys itself; they are
// listed on a key but are not requested when minting one.
var sendGridAutoScopes = map[string]bool{
	"2fa_exempt": true, "2fa_required": true, "sender_verification_exempt": true, "sender_verification_eligible": true,
	"sender_verification_legacy": true,
}

// ErrScopesDiffer: the provider minted a key whose permissions (SendGrid
// scopes, a Twilio Restricted key's policy) are not the ones requested; the
// key is revoked.
var ErrScopesDiffer = errors.New("the provider granted other permissions than requested")

// scopeDiff lists the requested scopes the granted list lacks and the
// granted ones (other than SendGrid's own) that were not requested. A nil
// granted list (an answer without scopes) is taken as granted as requested.
func scopeDiff(requested, granted []string) (missing, extra []string) {
	if granted == nil {
		return nil, nil
	}
	for _, sc := range requested {
		if !slices.Contains(granted, sc) {
			missing = append(missing, sc)
		}
	}
	for _, sc := range granted {
		if !sendGridAutoScopes[sc] && !slices.Contains(requested, sc) {
			extra = append(extra, sc)
		}
	}
	return missing, extra
}

type sendGridKey struct {
	ID     string   `json:"api_key_id"`
	Name   string   `json:"name"`
	Key    string   `json:"api_key"`
	Scopes []string `json:"scopes"`
}

// Create implements Adapter: it reads the current key's scopes, then mints a
// key with those scopes (less the ones SendGrid assigns itself).
func (s *SendGrid) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	base, err := s.base(req.Secret)
	if err != nil {
		return Key{}, err
	}
	admin, err := s.admin(req.Secret, req.Admin)
	if err != nil {
		return Key{}, err
	}
	if err := checkID("apiKeyId", req.Current.ID); err != nil {
		return Key{}, err
	}
	// A SendGrid key reads SG.<key ID>.<secret>: the current key must be the
	// key apiKeyId names.
	if parts := strings.Split(req.Current.Secret, "."); len(parts) == 3 && parts[0] == "SG" && parts[1] != req.Current.ID {
		return Key{}, fmt.Errorf("sendgrid: %w: the current apiKey is not the key apiKeyId names", ErrNotOwned)
	}
	secrets := append(secretsOf(req.Secret, req.Admin), req.Current.Secret)
	// The scopes the current key holds, asked with the key itself: only a
	// holder of the key gets them.
	const ownOp = "sendgrid: read the current key's own scopes"
	resp, err := call(ctx, s.Client, ownOp, http.MethodGet, base+"/v3/scopes", bearer(req.Current.Secret), nil, "", secrets)
	if err != nil {
		return Key{}, err
	}
	var own struct {
		Scopes []string `json:"scopes"`
	}
	if err := decode(ownOp, resp, &own); err != nil {
		return Key{}, err
	}
	const readOp = "sendgrid: read the current key's scopes"
	resp, err = call(ctx, s.Client, readOp, http.MethodGet, base+"/v3/api_keys/"+url.PathEscape(req.Current.ID), admin, nil, "", secrets)
	if err != nil {
		return Key{}, err
	}
	// The documented answer is {"result":[{…,"scopes":[…]}]}; accept a bare
	// object too.
	var got struct {
		Result []sendGridKey `json:"result"`
		Scopes []string      `json:"scopes"`
	}
	if err := decode(readOp, resp, &got); err != nil {
		return Key{}, err
	}
	listed := got.Scopes
	if len(got.Result) > 0 {
		listed = got.Result[0].Scopes
	}
	var scopes []string
	for _, sc := range listed {
		// Never more than the key this secret holds reports for itself.
		if !sendGridAutoScopes[sc] && slices.Contains(own.Scopes, sc) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return Key{}, errors.New(readOp + ": the provider listed no scopes the current key holds; refusing to mint a full-access key")
	}
	const op = "sendgrid: create key"
	resp, err = call(ctx, s.Client, op, http.MethodPost, base+"/v3/api_keys", admin,
		jsonBody(map[string]any{"name": req.Name, "scopes": scopes}), "application/json", secrets)
	if err != nil {
		return Key{}, err
	}
	var k sendGridKey
	if err := decode(op, resp, &k); err != nil {
		return Key{}, err
	}
	// SendGrid may grant fewer scopes than asked (an admin key cannot give
	// what it does not hold) or more: the new key must have exactly the
	// scopes requested, besides those SendGrid assigns itself. The caller
	// revokes a key returned with an error.
	if missing, extra := scopeDiff(scopes, k.Scopes); len(missing)+len(extra) > 0 {
		return Key{ID: k.ID}, fmt.Errorf("%s: %w: the new key %s lacks scopes %v and has unrequested scopes %v (give the admin key the scopes it must grant, or full access)",
			op, ErrScopesDiffer, k.ID, missing, extra)
	}
	return Key{ID: k.ID, Secret: k.Key}, nil
}

// Verify implements Adapter with GET /v3/scopes, which any valid key may call.
func (s *SendGrid) Verify(ctx context.Context, req VerifyKeyRequest) error {
	base, err := s.base(req.Secret)
	if err != nil {
		return err
	}
	_, err = call(ctx, s.Client, "sendgrid: verify key", http.MethodGet, base+"/v3/scopes", bearer(req.Key.Secret), nil, "",
		append(secretsOf(req.Secret), req.Key.Secret))
	return err
}

// Revoke implements Adapter with DELETE /v3/api_keys/{id}; 404 is success.
func (s *SendGrid) Revoke(ctx context.Context, req RevokeKeyRequest) error {
	base, err := s.base(req.Secret)
	if err != nil {
		return err
	}
	admin, err := s.admin(req.Secret, req.Admin)
	if err != nil {
		return err
	}
	if err := checkID("apiKeyId", req.KeyID); err != nil {
		return err
	}
	_, err = call(ctx, s.Client, "sendgrid: delete key", http.MethodDelete, base+"/v3/api_keys/"+url.PathEscape(req.KeyID), admin, nil, "",
		secretsOf(req.Secret, req.Admin))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Find implements Adapter with GET /v3/api_keys (an account holds at most 100
// keys, so one page lists them all).
func (s *SendGrid) Find(ctx context.Context, req FindKeysRequest) ([]string, error) {
	base, err := s.base(req.Secret)
	if err != nil {
		return nil, err
	}
	admin, err := s.admin(req.Secret, req.Admin)
	if err != nil {
		return nil, err
	}
	const op = "sendgrid: list keys"
	resp, err := call(ctx, s.Client, op, http.MethodGet, base+"/v3/api_keys?limit=100", admin, nil, "", secretsOf(req.Secret, req.Admin))
	if err != nil {
		return nil, err
	}
	var got struct {
		Result []sendGridKey `json:"result"`
	}
	if err := decode(op, resp, &got); err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range got.Result {
		if req.Match(k.Name, k.ID) {
			ids = append(ids, k.ID)
		}
	}
	return ids, nil
}

// Describe implements Adapter with GET /v3/api_keys/{id} (as the admin, and
// on behalf of the secret's subuser): the key's name, or Exists false on 404.
func (s *SendGrid) Describe(ctx context.Context, req DescribeKeyRequest) (KeyInfo, error) {
	base, err := s.base(req.Secret)
	if err != nil {
		return KeyInfo{}, err
	}
	admin, err := s.admin(req.Secret, req.Admin)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := checkID("apiKeyId", req.Key.ID); err != nil {
		return KeyInfo{}, err
	}
	const op = "sendgrid: read key"
	resp, err := call(ctx, s.Client, op, http.MethodGet, base+"/v3/api_keys/"+url.PathEscape(req.Key.ID), admin, nil, "",
		append(secretsOf(req.Secret, req.Admin), req.Key.Secret))
	if errors.Is(err, ErrNotFound) {
		return KeyInfo{}, nil
	}
	if err != nil {
		return KeyInfo{}, err
	}
	var got struct {
		Result []sendGridKey `json:"result"`
		sendGridKey
	}
	if err := decode(op, resp, &got); err != nil {
		return KeyInfo{}, err
	}
	k := got.sendGridKey
	if len(got.Result) > 0 {
		k = got.Result[0]
	}
	if k.ID != "" && k.ID != req.Key.ID {
		return KeyInfo{}, fmt.Errorf("%s: the provider answered for another key", op)
	}
	return KeyInfo{Exists: true, Name: k.Name}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
