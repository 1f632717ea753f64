package saas

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// EngineEntra is the engine value of Microsoft Entra ID application client
// secrets.
const EngineEntra = "entra-app-secret"

// Config.BaseURLs keys of the Entra hosts (tests, proxies).
const (
	entraLogin = "entra-login"
	entraGraph = "entra-graph"
)

// entraClouds maps a secret's "cloud" to its login and Microsoft Graph hosts.
var entraClouds = map[string][2]string{
	"":       {"https://login.microsoftonline.com", "https://graph.microsoft.com"},
	"global": {"https://login.microsoftonline.com", "https://graph.microsoft.com"},
	"usgov":  {"https://login.microsoftonline.us", "https://graph.microsoft.us"},
	"china":  {"https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"},
}

// defaultEntraLifetime is how long a minted client secret stays valid when
// ENTRA_SECRET_LIFETIME is unset: at least two rotation periods of a 90-day
// schedule, so the previous secret outlives its overlap.
const defaultEntraLifetime = 180 * 24 * time.Hour

// Entra rotates a Microsoft Entra ID application's client secrets (password
// credentials) through Microsoft Graph: createSecret calls addPassword with a
// display name bound to the secret and the token and an end date
// Config.EntraLifetime ahead, testSecret gets a token with the new secret
// (client credentials), finishSecret calls removePassword for the key that was
// AWSPREVIOUS, once Graph confirms Rotary named it for this secret.
//
// Rotated secret: {"engine":"entra-app-secret","masterarn":"<admin secret ARN>",
// "tenantId":"<tenant GUID>","applicationObjectId":"<the app's object ID>",
// "clientId":"<the app's application (client) ID>","keyId":"<password
// credential keyId>","clientSecret":"…"} and optionally "cloud" ("global",
// "usgov" or "china"). Admin secret: an app registration in the same tenant
// granted Application.ReadWrite.OwnedBy (and made an owner of the rotated
// apps) or Application.ReadWrite.All: {"tenantId","clientId","privateKey",
// "certificateThumbprint"} (certificate, preferred) or {"tenantId","clientId",
// "clientSecret"}; optionally "allowedAppIds" (object or client IDs).
type Entra struct {
	Config Config
	Client *Client

	tokens tokenCache
}

var _ Adapter = (*Entra)(nil)

// Spec implements Adapter.
func (e *Entra) Spec() Spec {
	return Spec{Engine: EngineEntra, IDKey: "keyId", SecretKey: "clientSecret", Required: []string{"tenantId", "applicationObjectId", "clientId"}, Named: true}
}

// hosts returns the login and Graph base URLs for v, and the Graph
// resource its tokens are for (the cloud's Graph host, whatever the override).
func (e *Entra) hosts(v secret.Value) (login, graph, resource string, err error) {
	cloud, _ := v.Get("cloud")
	h, ok := entraClouds[strings.ToLower(cloud)]
	if !ok {
		return "", "", "", &secret.KeyError{Key: "cloud", Problem: "must be global, usgov or china"}
	}
	login, graph, resource = h[0], h[1], h[1]
	if o := e.Config.BaseURLs[entraLogin]; o != "" {
		login = o
	}
	if o := e.Config.BaseURLs[entraGraph]; o != "" {
		graph = o
	}
	return login, graph, resource, nil
}

// entraCloud is v's cloud key, normalised: absent means global.
func entraCloud(v secret.Value) string {
	c, _ := v.Get("cloud")
	if c = strings.ToLower(c); c == "" {
		return "global"
	}
	return c
}

// app returns the Graph URL of the rotated application.
func (e *Entra) app(v secret.Value) (string, error) {
	_, graph, _, err := e.hosts(v)
	if err != nil {
		return "", err
	}
	id, _ := v.Get("applicationObjectId")
	if err := checkID("applicationObjectId", id); err != nil {
		return "", err
	}
	return graph + "/v1.0/applications/" + url.PathEscape(id), nil
}

// Permit implements Adapter: the admin app must be in the secret's tenant,
// and the app in the admin's allowedAppIds when it has that key.
func (e *Entra) Permit(v, admin secret.Value) error {
	tenant, _ := v.Get("tenantId")
	if err := checkID("tenantId", tenant); err != nil {
		return err
	}
	own, _ := admin.Get("tenantId")
	if own == "" {
		return fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "tenantId", Problem: "must name the admin app's tenant"})
	}
	if !strings.EqualFold(own, tenant) {
		return fmt.Errorf("%w: the secret's tenantId is not the admin app's tenant", ErrNotAllowed)
	}
	// The hosts the admin credential is sent to come from the rotated
	// secret's cloud: it must be the admin's own, or a user secret could
	// send a global admin's credential to another cloud's login host.
	if entraCloud(v) != entraCloud(admin) {
		return fmt.Errorf("%w: the secret's cloud is not the admin app's cloud", ErrNotAllowed)
	}
	obj, _ := v.Get("applicationObjectId")
	if err := allowed(admin, AllowAppIDs, "application", obj); err != nil {
		client, _ := v.Get("clientId")
		if errors.Is(err, ErrNotAllowed) && allowed(admin, AllowAppIDs, "application", client) == nil {
			return nil
		}
		return err
	}
	return nil
}

type entraToken struct {
	TokenType   string `json:"token_type"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// token gets an access token for Microsoft Graph with the client
// credentials grant: form is the client's authentication (client_secret, or
// a client assertion).
func (e *Entra) token(ctx context.Context, op, login, resource, tenant, clientID string, form url.Values, secrets []string) (string, int, error) {
	if err := checkID("tenantId", tenant); err != nil {
		return "", 0, err
	}
	if err := checkID("clientId", clientID); err != nil {
		return "", 0, err
	}
	form.Set("client_id", clientID)
	form.Set("grant_type", "client_credentials")
	form.Set("scope", resource+"/.default")
	resp, err := call(ctx, e.Client, op, http.MethodPost, login+"/"+url.PathEscape(tenant)+"/oauth2/v2.0/token", nil,
		[]byte(form.Encode()), "application/x-www-form-urlencoded", secrets)
	if err != nil {
		return "", 0, err
	}
	var tok entraToken
	if err := decode(op, resp, &tok); err != nil {
		return "", 0, err
	}
	if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		return "", 0, fmt.Errorf("%s: the answer holds no Bearer token", op)
	}
	return tok.AccessToken, tok.ExpiresIn, nil
}

// admin returns the Authorization header of Graph calls: a token for the
// admin app, by certificate (PS256 client assertion with x5t#S256) or client secret,
// cached until shortly before it expires.
func (e *Entra) admin(ctx context.Context, v, admin secret.Value) (http.Header, error) {
	login, _, resource, err := e.hosts(v)
	if err != nil {
		return nil, err
	}
	tenant, _ := admin.Get("tenantId")
	clientID, _ := admin.Get("clientId")
	if tenant == "" || clientID == "" {
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "clientId", Problem: "must be set, with tenantId, to the admin app's client ID"})
	}
	pemKey, _ := admin.Get("privateKey")
	thumb, _ := admin.Get("certificateThumbprint")
	sec, _ := admin.Get("clientSecret")
	sum := sha256.Sum256([]byte(login + "\x00" + tenant + "\x00" + clientID + "\x00" + pemKey + "\x00" + thumb + "\x00" + sec))
	key := hex.EncodeToString(sum[:])
	now := time.Now()
	if tok, ok := e.tokens.get(key, now); ok {
		return bearer(tok), nil
	}
	form := url.Values{}
	secrets := admin.Secrets()
	switch {
	case pemKey != "":
		// Microsoft's certificate credentials: a PS256 assertion naming the
		// certificate by its SHA-256 thumbprint (x5t#S256).
		signer, alg, err := parseSigner(pemKey)
		if err != nil || alg != "RS256" {
			return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "privateKey", Problem: "must be the PEM RSA private key of the admin app's certificate"})
		}
		raw, err := hex.DecodeString(strings.ReplaceAll(strings.ReplaceAll(thumb, ":", ""), " ", ""))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "certificateThumbprint",
				Problem: "must be the certificate's SHA-256 thumbprint in hex (openssl x509 -noout -fingerprint -sha256), not the SHA-1 one the Entra portal shows"})
		}
		endpoint := login + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
		assertion, err := signJWT(signer, "PS256", map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(raw)}, map[string]any{
			"iss": clientID, "sub": clientID, "aud": endpoint, "jti": rand.Text(),
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		})
		if err != nil {
			return nil, fmt.Errorf("entra: sign the client assertion: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
		secrets = append(secrets, assertion)
	case sec != "":
		form.Set("client_secret", sec)
	default:
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "privateKey", Problem: "or clientSecret must hold the admin app's credential"})
	}
	tok, expiresIn, err := e.token(ctx, "entra: get an admin token", login, resource, tenant, clientID, form, secrets)
	if err != nil {
		return nil, err
	}
	e.tokens.put(key, tok, now, expiresIn)
	return bearer(tok), nil
}

type entraPassword struct {
	KeyID       string `json:"keyId"`
	DisplayName string `json:"displayName"`
	SecretText  string `json:"secretText"`
}

// Create implements Adapter with POST applications/{id}/addPassword.
func (e *Entra) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	app, err := e.app(req.Secret)
	if err != nil {
		return Key{}, err
	}
	auth, err := e.admin(ctx, req.Secret, req.Admin)
	if err != nil {
		return Key{}, err
	}
	lifetime := e.Config.EntraLifetime
	if lifetime <= 0 {
		lifetime = defaultEntraLifetime
	}
	body := jsonBody(map[string]any{"passwordCredential": map[string]string{
		"displayName": req.Name, "endDateTime": time.Now().Add(lifetime).UTC().Format(time.RFC3339)}})
	const op = "entra: add password"
	resp, err := call(ctx, e.Client, op, http.MethodPost, app+"/addPassword", auth, body, "application/json", secretsOf(req.Secret, req.Admin))
	if err != nil {
		return Key{}, err
	}
	var p entraPassword
	if err := decode(op, resp, &p); err != nil {
		return Key{}, err
	}
	return Key{ID: p.KeyID, Secret: p.SecretText}, nil
}

// Verify implements Adapter: a token for Microsoft Graph with the app's
// client ID and the new secret (client credentials). Entra answers 401
// invalid_client for a wrong or not yet replicated secret; a token is minted
// and discarded, nothing changes.
func (e *Entra) Verify(ctx context.Context, req VerifyKeyRequest) error {
	login, _, resource, err := e.hosts(req.Secret)
	if err != nil {
		return err
	}
	tenant, _ := req.Secret.Get("tenantId")
	clientID, _ := req.Secret.Get("clientId")
	_, _, err = e.token(ctx, "entra: verify client secret", login, resource, tenant, clientID, url.Values{"client_secret": {req.Key.Secret}},
		append(secretsOf(req.Secret), req.Key.Secret))
	return err
}

// passwords lists the app's password credentials (GET applications/{id}).
func (e *Entra) passwords(ctx context.Context, v, admin secret.Value) ([]entraPassword, error) {
	app, err := e.app(v)
	if err != nil {
		return nil, err
	}
	auth, err := e.admin(ctx, v, admin)
	if err != nil {
		return nil, err
	}
	const op = "entra: list passwords"
	resp, err := call(ctx, e.Client, op, http.MethodGet, app+"?$select=id,passwordCredentials", auth, nil, "", secretsOf(v, admin))
	if err != nil {
		return nil, err
	}
	var got struct {
		PasswordCredentials []entraPassword `json:"passwordCredentials"`
	}
	if err := decode(op, resp, &got); err != nil {
		return nil, err
	}
	return got.PasswordCredentials, nil
}

// Revoke implements Adapter with POST applications/{id}/removePassword. A key
// already gone is success (Graph's 404, or a 400 after which the key is not
// listed).
func (e *Entra) Revoke(ctx context.Context, req RevokeKeyRequest) error {
	app, err := e.app(req.Secret)
	if err != nil {
		return err
	}
	auth, err := e.admin(ctx, req.Secret, req.Admin)
	if err != nil {
		return err
	}
	if err := checkID("keyId", req.KeyID); err != nil {
		return err
	}
	_, err = call(ctx, e.Client, "entra: remove password", http.MethodPost, app+"/removePassword", auth,
		jsonBody(map[string]string{"keyId": req.KeyID}), "application/json", secretsOf(req.Secret, req.Admin))
	var herr *HTTPError
	switch {
	case err == nil || errors.Is(err, ErrNotFound):
		return nil
	case errors.As(err, &herr) && herr.Status == http.StatusBadRequest:
		ps, lerr := e.passwords(ctx, req.Secret, req.Admin)
		if lerr != nil {
			return errors.Join(err, lerr)
		}
		for _, p := range ps {
			if strings.EqualFold(p.KeyID, req.KeyID) {
				return err
			}
		}
		return nil
	}
	return err
}

// Find implements Adapter from the app's password credentials' display names.
func (e *Entra) Find(ctx context.Context, req FindKeysRequest) ([]string, error) {
	ps, err := e.passwords(ctx, req.Secret, req.Admin)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range ps {
		if req.Match(p.DisplayName, p.KeyID) {
			ids = append(ids, p.KeyID)
		}
	}
	return ids, nil
}

// Describe implements Adapter from the app's password credentials.
func (e *Entra) Describe(ctx context.Context, req DescribeKeyRequest) (KeyInfo, error) {
	ps, err := e.passwords(ctx, req.Secret, req.Admin)
	if err != nil {
		return KeyInfo{}, err
	}
	for _, p := range ps {
		if p.KeyID != "" && strings.EqualFold(p.KeyID, req.Key.ID) {
			return KeyInfo{Exists: true, Name: p.DisplayName}, nil
		}
	}
	return KeyInfo{}, nil
}
