package saas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// EngineOkta is the engine value of Okta secrets.
const EngineOkta = "okta"

// oktaHosts are the Okta cloud domains an orgUrl may name without
// SAAS_ALLOWED_HOSTS.
var oktaHosts = []string{".okta.com", ".oktapreview.com", ".okta-emea.com", ".okta-gov.com", ".okta.mil"}

// Okta rotates the client secret of an Okta OAuth 2.0 app
// (/api/v1/apps/{appId}/credentials/secrets). Okta keeps at most two secrets
// per app, so Create deactivates and deletes the AWSPREVIOUS secret before
// adding one, when that secret is one Rotary minted for the rotated secret.
// Secrets have no name: Rotary chooses each new secret's value itself, records
// the key in the version it writes, and only ever removes a secret whose value
// it holds (the one it just chose, or the AWSPREVIOUS version's). It never
// removes a secret it did not mint for this secret.
//
// Rotated secret: {"engine":"okta","masterarn":"<admin secret ARN>",
// "orgUrl":"https://acme.okta.com","appId":"0oa…","clientId":"0oa…",
// "keyId":"<secret ID>","clientSecret":"…"} and optionally
// "tokenEndpointAuthMethod":"client_secret_post" when the app authenticates
// that way. Admin secret: an OAuth 2.0 service app,
// {"clientId":"0oa…","privateKey":"-----BEGIN PRIVATE KEY-----…"} (and
// optionally "privateKeyId", its kid) granted okta.apps.read and
// okta.apps.manage, authenticating with private_key_jwt (recommended); or
// {"apiToken":"…"}, an SSWS API token of an admin allowed to manage the app
// (Okta revokes tokens unused for 30 days). Either form also holds "orgUrl",
// the admin's own org, which every rotated secret using it must name (the
// admin credential is sent there). Optionally "allowedAppIds", the apps it may
// be used for.
type Okta struct {
	Config Config
	Client *Client

	tokens tokenCache // OAuth access tokens, reused until shortly before they expire
}

var _ Adapter = (*Okta)(nil)

// Spec implements Adapter.
func (o *Okta) Spec() Spec {
	return Spec{Engine: EngineOkta, IDKey: "keyId", SecretKey: "clientSecret", Required: []string{"orgUrl", "appId", "clientId"},
		Named: false, MaxKeys: 2, ChoosesSecret: true}
}

// Permit implements Adapter: the app must be in the admin's allowedAppIds,
// when the admin secret has that key.
func (o *Okta) Permit(v, admin secret.Value) error {
	app, _ := v.Get("appId")
	if err := checkID("appId", app); err != nil {
		return err
	}
	// The admin credential goes to the rotated secret's orgUrl, which its
	// writer chooses, and anyone can own an Okta org: it must be the admin's.
	own, _ := admin.Get("orgUrl")
	if own == "" {
		return fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "orgUrl", Problem: "must name the admin's Okta org (https://<org>.okta.com), which every secret using it must name too"})
	}
	org, _ := v.Get("orgUrl")
	if !sameOrigin(org, own) {
		return fmt.Errorf("%w: the secret's orgUrl is not the admin secret's org", ErrNotAllowed)
	}
	return allowed(admin, AllowAppIDs, "app", app)
}

// sameOrigin reports whether a and b are URLs of one origin: the same scheme,
// host (case-insensitive) and port, whatever their paths.
func sameOrigin(a, b string) bool {
	ua, err := url.Parse(strings.TrimSpace(a))
	if err != nil || ua.Host == "" {
		return false
	}
	ub, err := url.Parse(strings.TrimSpace(b))
	if err != nil || ub.Host == "" {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
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

// admin returns the Authorization header of management calls: an OAuth 2.0
// access token when the admin secret holds a service app (clientId and
// privateKey), else the SSWS API token.
func (o *Okta) admin(ctx context.Context, v, admin secret.Value) (http.Header, error) {
	if id, _ := admin.Get(OktaAdminClientID); id != "" {
		base, err := o.org(v)
		if err != nil {
			return nil, err
		}
		return o.oauthAuth(ctx, base, admin, id)
	}
	tok, _ := admin.Get("apiToken")
	if tok == "" {
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "apiToken", Problem: "must hold an Okta API token, or clientId and privateKey must name an OAuth service app"})
	}
	return http.Header{"Authorization": {"SSWS " + tok}}, nil
}

type oktaSecret struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ClientSecret string `json:"client_secret"`
}

// sswsHint adds, to a refusal of an SSWS API token, why such a token may
// have stopped working.
func sswsHint(auth http.Header, err error) error {
	if err != nil && errors.Is(err, ErrUnauthorized) && strings.HasPrefix(auth.Get("Authorization"), "SSWS ") {
		return fmt.Errorf("%w (Okta revokes an API token not used for 30 days and when its admin loses the role; prefer an OAuth service app: clientId and privateKey)", err)
	}
	return err
}

// Create implements Adapter with the secret Rotary chose (req.NewSecret), or
// one Okta generates when it is empty.
func (o *Okta) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	coll, err := o.secrets(req.Secret)
	if err != nil {
		return Key{}, err
	}
	auth, err := o.admin(ctx, req.Secret, req.Admin)
	if err != nil {
		return Key{}, err
	}
	const op = "okta: create client secret"
	body := []byte("{}")
	if req.NewSecret != "" {
		body = jsonBody(map[string]string{"client_secret": req.NewSecret, "status": "ACTIVE"})
	}
	resp, err := call(ctx, o.Client, op, http.MethodPost, coll, auth, body, "application/json", append(secretsOf(req.Secret, req.Admin), req.NewSecret))
	if err != nil {
		return Key{}, sswsHint(auth, err)
	}
	var s oktaSecret
	if err := decode(op, resp, &s); err != nil {
		return Key{}, err
	}
	if s.Status != "" && s.Status != "ACTIVE" {
		return Key{ID: s.ID}, fmt.Errorf("%s: new secret %s is %s, not ACTIVE", op, s.ID, s.Status)
	}
	if req.NewSecret != "" && s.ClientSecret != req.NewSecret {
		return Key{ID: s.ID}, fmt.Errorf("%s: new secret %s does not hold the value Rotary chose", op, s.ID)
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
	auth, err := o.admin(ctx, req.Secret, req.Admin)
	if err != nil {
		return err
	}
	if err := checkID("keyId", req.KeyID); err != nil {
		return err
	}
	one := coll + "/" + url.PathEscape(req.KeyID)
	secrets := secretsOf(req.Secret, req.Admin)
	_, deactErr := call(ctx, o.Client, "okta: deactivate client secret", http.MethodPost, one+"/lifecycle/deactivate", auth, nil, "", secrets)
	deactErr = sswsHint(auth, deactErr)
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

// list reads the app's client secrets.
func (o *Okta) list(ctx context.Context, v, admin secret.Value) ([]oktaSecret, error) {
	coll, err := o.secrets(v)
	if err != nil {
		return nil, err
	}
	auth, err := o.admin(ctx, v, admin)
	if err != nil {
		return nil, err
	}
	const op = "okta: list client secrets"
	// The list holds secrets in clear or masked: scrubbing cannot know them,
	// but a 2xx body never reaches an error.
	resp, err := call(ctx, o.Client, op, http.MethodGet, coll, auth, nil, "", secretsOf(v, admin))
	if err != nil {
		return nil, sswsHint(auth, err)
	}
	var got []oktaSecret
	if err := decode(op, resp, &got); err != nil {
		return nil, err
	}
	return got, nil
}

// Find implements Adapter. Okta secrets have no name: it returns the secrets
// of the app whose value, as Okta shows it, is req.Holds (and nothing when
// Holds is empty), except those in req.Keep.
func (o *Okta) Find(ctx context.Context, req FindKeysRequest) ([]string, error) {
	if req.Holds == "" {
		return nil, nil
	}
	got, err := o.list(ctx, req.Secret, req.Admin)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range got {
		if s.ID != "" && !contains(req.Keep, s.ID) && sameSecret(s.ClientSecret, req.Holds) {
			ids = append(ids, s.ID)
		}
	}
	return ids, nil
}

// Describe implements Adapter from the app's list of secrets: whether the
// secret exists and whether Okta shows it with the value the version holds.
func (o *Okta) Describe(ctx context.Context, req DescribeKeyRequest) (KeyInfo, error) {
	got, err := o.list(ctx, req.Secret, req.Admin)
	if err != nil {
		return KeyInfo{}, err
	}
	for _, s := range got {
		if s.ID == req.Key.ID && s.ID != "" {
			return KeyInfo{Exists: true, Holds: sameSecret(s.ClientSecret, req.Key.Secret)}, nil
		}
	}
	return KeyInfo{}, nil
}
