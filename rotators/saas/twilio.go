package saas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// EngineTwilio is the engine value of Twilio secrets.
const EngineTwilio = "twilio"

// TwilioURL is Twilio's REST API host.
const TwilioURL = "https://api.twilio.com"

// TwilioIAMURL is the host of Twilio's iam v1 Key resource, the only API
// that mints Restricted keys.
const TwilioIAMURL = "https://iam.twilio.com"

// twilioIAM is the Config.BaseURLs key of the iam host override.
const twilioIAM = "twilio-iam"

// ErrMainKey: the rotated Twilio key is a Main key, which Twilio lets only the
// Console create: a rotation would replace it with a key that cannot reach
// /Accounts or /Keys.
var ErrMainKey = errors.New("the current key is a Twilio Main key, which only the Twilio Console can create")

// maxTwilioPages bounds how many pages of keys Find reads.
const maxTwilioPages = 20

// Twilio rotates Twilio API keys (the v2010 Key resource,
// /2010-04-01/Accounts/{AccountSid}/Keys).
//
// Rotated secret: {"engine":"twilio","masterarn":"<admin secret ARN>",
// "accountSid":"AC…","apiKeyId":"SK…","apiKeySecret":"…"} and optionally
// "baseUrl" (an https://*.twilio.com host, for regional processing). Admin
// secret: {"accountSid":"AC…","authToken":"…"} or a Main key
// {"accountSid":"AC…","apiKeyId":"SK…","apiKeySecret":"…"}: only those may
// manage keys. The rotated secret's accountSid must be the admin's, or listed
// in the admin's "allowedAccountSids" (subaccounts a parent's credential
// manages). The new key has the current key's type: a Standard key is minted
// with the v2010 Keys API, a Restricted key with the iam v1 Keys API and the
// current key's policy; a Main key is refused (ErrMainKey).
type Twilio struct {
	Config Config
	Client *Client
}

var _ Adapter = (*Twilio)(nil)

// Spec implements Adapter.
func (t *Twilio) Spec() Spec {
	return Spec{Engine: EngineTwilio, IDKey: "apiKeyId", SecretKey: "apiKeySecret", Required: []string{"accountSid"}, Named: true}
}

// Permit implements Adapter: the secret's accountSid must be the admin's own
// accountSid or in the admin's allowedAccountSids.
func (t *Twilio) Permit(v, admin secret.Value) error {
	own, _ := admin.Get("accountSid")
	if err := checkID("accountSid", own); err != nil {
		return fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "accountSid", Problem: "must name the Twilio account the admin credential belongs to"})
	}
	sid, _ := v.Get("accountSid")
	if err := checkID("accountSid", sid); err != nil {
		return err
	}
	// Twilio credentials are regional: an admin credential works only in
	// its own region.
	host, _ := v.Get("baseUrl")
	want := twilioRegion(host)
	have, _ := admin.Get("region")
	if have == "" {
		have = "us1"
	}
	if !strings.EqualFold(have, want) {
		return fmt.Errorf("%w: the secret's Twilio region is %s but the admin credential's is %s (set the admin secret's region to the region its credential belongs to)",
			ErrNotAllowed, want, strings.ToLower(have))
	}
	if sid == own {
		return nil
	}
	list, _, err := allowList(admin, AllowAccountSIDs)
	if err != nil {
		return err
	}
	if slices.Contains(list, sid) {
		return nil
	}
	return fmt.Errorf("%w: the secret's accountSid %s is not the admin's account %s (list subaccounts in the admin secret's %s)", ErrNotAllowed, sid, own, AllowAccountSIDs)
}

// twilioRegionHost matches a regional Twilio host, e.g. api.dublin.ie1.twilio.com.
var twilioRegionHost = regexp.MustCompile(`(?i)\.([a-z]{2}[0-9])\.twilio\.com(:[0-9]+)?/*$`)

// twilioRegion is the region of a secret's Twilio baseUrl: the region label
// of a regional host, else us1 (Twilio's default).
func twilioRegion(baseURL string) string {
	if m := twilioRegionHost.FindStringSubmatch(baseURL); m != nil {
		return strings.ToLower(m[1])
	}
	return "us1"
}

func (t *Twilio) account(v secret.Value) (base, keys string, err error) {
	own, _ := v.Get("baseUrl")
	base, err = t.Config.baseURL(EngineTwilio, own, TwilioURL, []string{".twilio.com"})
	if err != nil {
		return "", "", err
	}
	sid, _ := v.Get("accountSid")
	if err := checkID("accountSid", sid); err != nil {
		return "", "", err
	}
	return base, base + "/2010-04-01/Accounts/" + url.PathEscape(sid), nil
}

func (t *Twilio) admin(admin secret.Value) (http.Header, error) {
	sid, _ := admin.Get("accountSid")
	if sid == "" {
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "accountSid", Problem: "must name the Twilio account the admin credential belongs to"})
	}
	if tok, _ := admin.Get("authToken"); tok != "" {
		return basic(sid, tok), nil
	}
	if id, _ := admin.Get("apiKeyId"); id != "" {
		if sec, _ := admin.Get("apiKeySecret"); sec != "" {
			return basic(id, sec), nil
		}
	}
	return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "authToken", Problem: "must be set with accountSid, or a Main key's apiKeyId and apiKeySecret must be"})
}

type twilioKey struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Secret       string `json:"secret"`
}

// iamBase is the iam host: the override, else TWILIO_BASE_URL's, else
// TwilioIAMURL.
func (t *Twilio) iamBase() string {
	if o := t.Config.BaseURLs[twilioIAM]; o != "" {
		return o
	}
	if o := t.Config.BaseURLs[EngineTwilio]; o != "" {
		return o
	}
	return TwilioIAMURL
}

// policyOf reads the current key's type with the admin credential (GET
// iam/v1/Keys/{sid}): its policy JSON for a Restricted key, "" otherwise, and
// refuses a Main key, found because it, unlike Standard keys, may list keys.
func (t *Twilio) policyOf(ctx context.Context, req CreateKeyRequest, acct string, auth http.Header) (json.RawMessage, error) {
	if err := checkID("apiKeyId", req.Current.ID); err != nil {
		return nil, err
	}
	secrets := append(secretsOf(req.Secret, req.Admin), req.Current.Secret)
	const op = "twilio: read the current key's type"
	resp, err := call(ctx, t.Client, op, http.MethodGet, t.iamBase()+"/v1/Keys/"+url.PathEscape(req.Current.ID), auth, nil, "", secrets)
	if err != nil {
		return nil, err
	}
	var k struct {
		SID    string          `json:"sid"`
		Policy json.RawMessage `json:"policy"`
	}
	if err := decode(op, resp, &k); err != nil {
		return nil, err
	}
	if k.SID != req.Current.ID {
		return nil, fmt.Errorf("%s: the provider answered for another key", op)
	}
	if p := bytes.TrimSpace(k.Policy); len(p) > 0 && string(p) != "null" {
		return p, nil
	}
	const mainOp = "twilio: check whether the current key is a Main key"
	_, err = call(ctx, t.Client, mainOp, http.MethodGet, acct+"/Keys.json?PageSize=1", basic(req.Current.ID, req.Current.Secret), nil, "", secrets)
	switch {
	case err == nil:
		return nil, fmt.Errorf("twilio: %w: rotating it would lose its access to /Accounts and /Keys; rotate a Standard or Restricted key instead", ErrMainKey)
	case errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden):
		return nil, nil // a Standard key
	}
	return nil, err
}

// Create implements Adapter: a key of the current key's type, named req.Name
// (Standard: POST Keys.json; Restricted: POST iam/v1/Keys with the policy).
func (t *Twilio) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	_, acct, err := t.account(req.Secret)
	if err != nil {
		return Key{}, err
	}
	auth, err := t.admin(req.Admin)
	if err != nil {
		return Key{}, err
	}
	policy, err := t.policyOf(ctx, req, acct, auth)
	if err != nil {
		return Key{}, err
	}
	if policy != nil {
		return t.createRestricted(ctx, req, auth, policy)
	}
	const op = "twilio: create key"
	form := url.Values{"FriendlyName": {req.Name}}
	resp, err := call(ctx, t.Client, op, http.MethodPost, acct+"/Keys.json", auth, []byte(form.Encode()),
		"application/x-www-form-urlencoded", secretsOf(req.Secret, req.Admin))
	if err != nil {
		return Key{}, err
	}
	var k twilioKey
	if err := decode(op, resp, &k); err != nil {
		return Key{}, err
	}
	return Key{ID: k.SID, Secret: k.Secret}, nil
}

// createRestricted mints a Restricted key with policy through the iam v1 Keys
// API and checks the policy Twilio reports is the one requested.
func (t *Twilio) createRestricted(ctx context.Context, req CreateKeyRequest, auth http.Header, policy json.RawMessage) (Key, error) {
	sid, _ := req.Secret.Get("accountSid")
	var compact bytes.Buffer
	if err := json.Compact(&compact, policy); err != nil {
		return Key{}, fmt.Errorf("twilio: the current key's policy is not JSON")
	}
	const op = "twilio: create restricted key"
	form := url.Values{"AccountSid": {sid}, "FriendlyName": {req.Name}, "KeyType": {"restricted"}, "Policy": {compact.String()}}
	resp, err := call(ctx, t.Client, op, http.MethodPost, t.iamBase()+"/v1/Keys", auth, []byte(form.Encode()),
		"application/x-www-form-urlencoded", secretsOf(req.Secret, req.Admin))
	if err != nil {
		return Key{}, err
	}
	var k struct {
		twilioKey
		Policy json.RawMessage `json:"policy"`
	}
	if err := decode(op, resp, &k); err != nil {
		return Key{}, err
	}
	var want, got any
	_ = json.Unmarshal(policy, &want)
	if json.Unmarshal(k.Policy, &got) != nil || !reflect.DeepEqual(want, got) {
		return Key{ID: k.SID}, fmt.Errorf("%s: %w: the new key %s does not carry the current key's policy", op, ErrScopesDiffer, k.SID)
	}
	return Key{ID: k.SID, Secret: k.Secret}, nil
}

// Verify implements Adapter with an authentication-only call: GET the
// account resource (Accounts/{AccountSid}.json) with the key. It changes
// nothing; a wrong or revoked key gets 401 (code 20003), which is the only
// refusal: an authenticated key the account's settings do not let read it
// gets 403 or 404, and is working. (The Balance resource, used before, is not
// served for subaccounts.)
func (t *Twilio) Verify(ctx context.Context, req VerifyKeyRequest) error {
	_, acct, err := t.account(req.Secret)
	if err != nil {
		return err
	}
	_, err = call(ctx, t.Client, "twilio: verify key", http.MethodGet, acct+".json", basic(req.Key.ID, req.Key.Secret), nil, "",
		append(secretsOf(req.Secret), req.Key.Secret))
	if errors.Is(err, ErrForbidden) || errors.Is(err, ErrNotFound) {
		return nil // authenticated, only not allowed to read the account
	}
	return err
}

// Revoke implements Adapter with DELETE Keys/{sid}.json; 404 is success.
func (t *Twilio) Revoke(ctx context.Context, req RevokeKeyRequest) error {
	_, acct, err := t.account(req.Secret)
	if err != nil {
		return err
	}
	auth, err := t.admin(req.Admin)
	if err != nil {
		return err
	}
	if err := checkID("apiKeyId", req.KeyID); err != nil {
		return err
	}
	_, err = call(ctx, t.Client, "twilio: delete key", http.MethodDelete, acct+"/Keys/"+url.PathEscape(req.KeyID)+".json", auth, nil, "",
		secretsOf(req.Secret, req.Admin))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Describe implements Adapter with GET Keys/{sid}.json as the admin: the
// key's FriendlyName, or Exists false on 404 (no such key in this account).
func (t *Twilio) Describe(ctx context.Context, req DescribeKeyRequest) (KeyInfo, error) {
	_, acct, err := t.account(req.Secret)
	if err != nil {
		return KeyInfo{}, err
	}
	auth, err := t.admin(req.Admin)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := checkID("apiKeyId", req.Key.ID); err != nil {
		return KeyInfo{}, err
	}
	const op = "twilio: read key"
	resp, err := call(ctx, t.Client, op, http.MethodGet, acct+"/Keys/"+url.PathEscape(req.Key.ID)+".json", auth, nil, "",
		append(secretsOf(req.Secret, req.Admin), req.Key.Secret))
	if errors.Is(err, ErrNotFound) {
		return KeyInfo{}, nil
	}
	if err != nil {
		return KeyInfo{}, err
	}
	var k twilioKey
	if err := decode(op, resp, &k); err != nil {
		return KeyInfo{}, err
	}
	if k.SID != req.Key.ID {
		return KeyInfo{}, fmt.Errorf("%s: the provider answered for another key", op)
	}
	return KeyInfo{Exists: true, Name: k.FriendlyName}, nil
}

// Find implements Adapter with GET Keys.json, following next_page_uri.
func (t *Twilio) Find(ctx context.Context, req FindKeysRequest) ([]string, error) {
	base, acct, err := t.account(req.Secret)
	if err != nil {
		return nil, err
	}
	auth, err := t.admin(req.Admin)
	if err != nil {
		return nil, err
	}
	const op = "twilio: list keys"
	next := acct + "/Keys.json?PageSize=1000"
	var ids []string
	for page := 0; next != ""; page++ {
		if page == maxTwilioPages {
			return nil, fmt.Errorf("%s: more than %d pages of keys", op, maxTwilioPages)
		}
		resp, err := call(ctx, t.Client, op, http.MethodGet, next, auth, nil, "", secretsOf(req.Secret, req.Admin))
		if err != nil {
			return nil, err
		}
		var got struct {
			Keys        []twilioKey `json:"keys"`
			NextPageURI *string     `json:"next_page_uri"`
		}
		if err := decode(op, resp, &got); err != nil {
			return nil, err
		}
		for _, k := range got.Keys {
			if req.Match(k.FriendlyName, k.SID) {
				ids = append(ids, k.SID)
			}
		}
		next = ""
		if got.NextPageURI != nil && *got.NextPageURI != "" {
			// next_page_uri is a path on the same host; never follow another host.
			if !strings.HasPrefix(*got.NextPageURI, "/") || strings.HasPrefix(*got.NextPageURI, "//") {
				return nil, fmt.Errorf("%s: next_page_uri is not a path", op)
			}
			next = base + *got.NextPageURI
		}
	}
	return ids, nil
}
