package saas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// EngineOkta is the engine value of Okta secrets.
const EngineOkta = "okta"

// oktaHosts are the Okta cloud domains an orgUrl may name without
// SAAS_ALLOWED_HOSTS.
var oktaHosts = []string{".okta.com", ".oktapreview.com", ".okta-emea.com", ".okta-gov.com"}

// Okta rotates the client secret of an Okta OAuth 2.0 app
// (/api/v1/apps/{appId}/credentials/secrets). Okta keeps at most two secrets
// per app, so Create deactivates and deletes the AWSPREVIOUS secret before
// adding one, and secrets have no name: every secret of the app that no stored
// version holds is treated as a leftover of a failed attempt and removed.
//
// Rotated secret: {"engine":"okta","masterarn":"<admin secret ARN>",
// "orgUrl":"https://acme.okta.com","appId":"0oa…","clientId":"0oa…",
// "keyId":"<secret ID>","clientSecret":"…"} and optionally
// "tokenEndpointAuthMethod":"client_secret_post" when the app authenticates
// that way. Admin secret: {"apiToken":"…"}, an API token of an admin allowed
// to manage the app (okta.apps.manage).
type Okta struct {
	Config Config
	Client *Client
}

var _ Adapter = (*Okta)(nil)

// Spec implements Adapter.
func (o *Okta) Spec() Spec {
	return Spec{Engine: EngineOkta, IDKey: "keyId", SecretKey: "clientSecret", Required: []string{"orgUrl", "appId", "clientId"}, Named: false, MaxKeys: 2}
}

func (o *Okta) org(v secret.Value) (string, error) {
	own, _ := v.Get("orgUrl")
	return o.Config.baseURL(EngineOkta, own, "", oktaHosts)
}

func (o *Okta) secrets(v secret.Value) (string, error) {
	base, err := o.org(v)
	if err != nil {
		return "", err
	}
	app, _ := v.Get("appId")
	if err := checkID("appId", app); err != nil {
		return "", err
	}
	return base + "/api/v1/apps/" + url.PathEscape(app) + "/credentials/secrets", nil
}

func (o *Okta) admin(admin secret.Value) (http.Header, error) {
	tok, _ := admin.Get("apiToken")
	if tok == "" {
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "apiToken", Problem: "must hold an Okta API token"})
	}
	return http.Header{"Authorization": {"SSWS " + tok}}, nil
}

type oktaSecret struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ClientSecret string `json:"client_secret"`
}

// Create implements Adapter: Okta generates the secret.
func (o *Okta) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	coll, err := o.secrets(req.Secret)
	if err != nil {
		return Key{}, err
	}
	auth, err := o.admin(req.Admin)
	if err != nil {
		return Key{}, err
	}
	const op = "okta: create client secret"
	resp, err := call(ctx, o.Client, op, http.MethodPost, coll, auth, []byte("{}"), "application/json", secretsOf(req.Secret, req.Admin))
	if err != nil {
		return Key{}, err
	}
	var s oktaSecret
	if err := decode(op, resp, &s); err != nil {
		return Key{}, err
	}
	if s.Status != "" && s.Status != "ACTIVE" {
		return Key{ID: s.ID}, fmt.Errorf("%s: new secret %s is %s, not ACTIVE", op, s.ID, s.Status)
	}
	return Key{ID: s.ID, Secret: s.ClientSecret}, nil
}

// Verify implements Adapter by introspecting a dummy token with the client's
// credentials at the org authorization server (POST /oauth2/v1/introspect):
// Okta authenticates the client first and answers 401 invalid_client for a
// wrong or inactive secret, and 200 {"active":false} otherwise. No token is
// minted and nothing changes.
func (o *Okta) Verify(ctx context.Context, req VerifyKeyRequest) error {
	base, err := o.org(req.Secret)
	if err != nil {
		return err
	}
	clientID, _ := req.Secret.Get("clientId")
	form := url.Values{"token": {"rotary-verification"}, "token_type_hint": {"access_token"}}
	var auth http.Header
	if m, _ := req.Secret.Get("tokenEndpointAuthMethod"); m == "client_secret_post" {
		form.Set("client_id", clientID)
		form.Set("client_secret", req.Key.Secret)
	} else {
		auth = basic(clientID, req.Key.Secret)
	}
	_, err = call(ctx, o.Client, "okta: verify client secret", http.MethodPost, base+"/oauth2/v1/introspect", auth,
		[]byte(form.Encode()), "application/x-www-form-urlencoded", append(secretsOf(req.Secret), req.Key.Secret))
	return err
}

// Revoke implements Adapter: deactivate, then delete (Okta refuses to delete
// an active secret). A secret already gone is success.
func (o *Okta) Revoke(ctx context.Context, req RevokeKeyRequest) error {
	coll, err := o.secrets(req.Secret)
	if err != nil {
		return err
	}
	auth, err := o.admin(req.Admin)
	if err != nil {
		return err
	}
	if err := checkID("keyId", req.KeyID); err != nil {
		return err
	}
	one := coll + "/" + url.PathEscape(req.KeyID)
	secrets := secretsOf(req.Secret, req.Admin)
	_, deactErr := call(ctx, o.Client, "okta: deactivate client secret", http.MethodPost, one+"/lifecycle/deactivate", auth, nil, "", secrets)
	if errors.Is(deactErr, ErrNotFound) {
		return nil
	}
	var herr *HTTPError
	if deactErr != nil && !(errors.As(deactErr, &herr) && herr.Status == http.StatusBadRequest) {
		return deactErr
	}
	// A 400 may mean the secret is inactive already: deleting settles it.
	_, err = call(ctx, o.Client, "okta: delete client secret", http.MethodDelete, one, auth, nil, "", secrets)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil && deactErr != nil {
		return errors.Join(deactErr, err)
	}
	return err
}

// Find implements Adapter. Okta secrets have no name: it returns every
// secret of the app not in req.Keep.
func (o *Okta) Find(ctx context.Context, req FindKeysRequest) ([]string, error) {
	coll, err := o.secrets(req.Secret)
	if err != nil {
		return nil, err
	}
	auth, err := o.admin(req.Admin)
	if err != nil {
		return nil, err
	}
	const op = "okta: list client secrets"
	// The list holds every secret in clear: scrubbing cannot know them, but
	// a 2xx body never reaches an error.
	resp, err := call(ctx, o.Client, op, http.MethodGet, coll, auth, nil, "", secretsOf(req.Secret, req.Admin))
	if err != nil {
		return nil, err
	}
	var got []oktaSecret
	if err := decode(op, resp, &got); err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range got {
		if s.ID != "" && !contains(req.Keep, s.ID) {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}
