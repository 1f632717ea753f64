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

// EngineTwilio is the engine value of Twilio secrets.
const EngineTwilio = "twilio"

// TwilioURL is Twilio's REST API host.
const TwilioURL = "https://api.twilio.com"

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
// manages). New keys are Standard keys.
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

// Create implements Adapter with POST Keys.json (FriendlyName = req.Name).
func (t *Twilio) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	_, acct, err := t.account(req.Secret)
	if err != nil {
		return Key{}, err
	}
	auth, err := t.admin(req.Admin)
	if err != nil {
		return Key{}, err
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
