package saas

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// EngineEntra is the engine value of Microsoft Entra ID application client
// secrets.
const EngineEntra = "entra-app-secret"

// Environment variables read by RegisterEntraFromEnv (besides ConfigFromEnv's).
const (
	// EnvEntraSecretLifetime is how long each new client secret is valid
	// (its endDateTime), a Go duration from 24h to 17520h (two years);
	// default 2160h (90 days). Keep it above two rotation periods: a secret
	// is AWSCURRENT for one period and AWSPREVIOUS for the next.
	EnvEntraSecretLifetime = "ENTRA_SECRET_LIFETIME"
	// EnvEntraGraphBaseURL and EnvEntraLoginBaseURL replace the cloud's
	// Microsoft Graph and Microsoft Entra login URLs for every secret (tests,
	// proxies).
	EnvEntraGraphBaseURL = "ENTRA_GRAPH_BASE_URL"
	EnvEntraLoginBaseURL = "ENTRA_LOGIN_BASE_URL"
)

// EntraLoginURLKey is the Config.BaseURLs key replacing the login URL;
// Config.BaseURLs[EngineEntra] replaces the Graph URL.
const EntraLoginURLKey = EngineEntra + "/login"

// DefaultEntraLifetime is the validity of a new secret when none is set.
const DefaultEntraLifetime = 90 * 24 * time.Hour

// entraVerifyWait is testSecret's default wait for a new secret to work:
// Entra replicates new credentials in seconds, sometimes longer.
const entraVerifyWait = 15 * time.Second

// entraCloud is one Microsoft cloud's endpoints. A secret picks one by name
// (key "cloud"); it can never name a host.
type entraCloud struct {
	login, graph string
}

var entraClouds = map[string]entraCloud{
	"global":    {login: "https://login.microsoftonline.com", graph: "https://graph.microsoft.com"},
	"usgov":     {login: "https://login.microsoftonline.us", graph: "https://graph.microsoft.us"},
	"usgov-dod": {login: "https://login.microsoftonline.us", graph: "https://dod-graph.microsoft.us"},
	"china":     {login: "https://login.chinacloudapi.cn", graph: "https://microsoftgraph.chinacloudapi.cn"},
}

// guidPattern is an Entra tenant, application or key ID.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Entra rotates the client secrets (password credentials) of a Microsoft
// Entra ID application through Microsoft Graph: addPassword mints one whose
// displayName is the rotation's key name and whose endDateTime is Lifetime
// away, removePassword retires one.
//
// Rotated secret: {"engine":"entra-app-secret","masterarn":"<admin secret ARN>",
// "tenantId":"<GUID>","clientId":"<application (client) ID>",
// "applicationObjectId":"<the application's object ID>","keyId":"<GUID>",
// "clientSecret":"…"} and optionally "cloud": "global" (default), "usgov",
// "usgov-dod" or "china". Admin secret: an Entra app of the same tenant and
// cloud holding Application.ReadWrite.OwnedBy and owning the rotated app:
// {"tenantId":"…","clientId":"…","certificate":"<PEM>","privateKey":"<PEM>"}
// (preferred: private_key_jwt) or {"tenantId":"…","clientId":"…",
// "clientSecret":"…"}, and optionally "allowedClientIds": a comma-separated
// list of the apps it may rotate.
type Entra struct {
	Config Config
	Client *Client
	// Lifetime is each new secret's validity; DefaultEntraLifetime when zero.
	Lifetime time.Duration
	// Now is the clock for endDateTime and assertions; time.Now when nil.
	Now func() time.Time
}

var _ Adapter = (*Entra)(nil)

// Spec implements Adapter.
func (e *Entra) Spec() Spec {
	return Spec{Engine: EngineEntra, IDKey: "keyId", SecretKey: "clientSecret",
		Required: []string{"tenantId", "clientId", "applicationObjectId"}, Named: true}
}

func (e *Entra) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// entraTarget is what a rotated secret names.
type entraTarget struct {
	cloudName        string
	cloud            entraCloud // canonical endpoints (token audience, scope)
	login, graph     string     // where requests go (overrides applied)
	tenant, clientID string
	objectID         string
}

func guid(v secret.Value, key string) (string, error) {
	s, _ := v.Get(key)
	if !guidPattern.MatchString(s) {
		return "", &secret.KeyError{Key: key, Problem: "must be a GUID"}
	}
	return strings.ToLower(s), nil
}

func (e *Entra) cloudOf(v secret.Value) (string, entraCloud, error) {
	name, _ := v.Get("cloud")
	if name == "" {
		name = "global"
	}
	c, ok := entraClouds[name]
	if !ok {
		return "", entraCloud{}, &secret.KeyError{Key: "cloud", Problem: "must be global, usgov, usgov-dod or china"}
	}
	return name, c, nil
}

func (e *Entra) target(v secret.Value) (entraTarget, error) {
	var t entraTarget
	var err error
	if t.cloudName, t.cloud, err = e.cloudOf(v); err != nil {
		return t, err
	}
	if t.tenant, err = guid(v, "tenantId"); err != nil {
		return t, err
	}
	if t.clientID, err = guid(v, "clientId"); err != nil {
		return t, err
	}
	if t.objectID, err = guid(v, "applicationObjectId"); err != nil {
		return t, err
	}
	t.login, t.graph = t.cloud.login, t.cloud.graph
	if o := e.Config.BaseURLs[EntraLoginURLKey]; o != "" {
		t.login = o
	}
	if o := e.Config.BaseURLs[EngineEntra]; o != "" {
		t.graph = o
	}
	return t, nil
}

func (t entraTarget) tokenURL() string { return t.login + "/" + t.tenant + "/oauth2/v2.0/token" }
func (t entraTarget) audience() string { return t.cloud.login + "/" + t.tenant + "/oauth2/v2.0/token" }
func (t entraTarget) scope() string    { return t.cloud.graph + "/.default" }
func (t entraTarget) app() string      { return t.graph + "/v1.0/applications/" + t.objectID }

// errInvalidClient wraps ErrUnauthorized: the token endpoint refused the
// client credentials (OAuth error invalid_client, whatever the status).
var errInvalidClient = fmt.Errorf("%w (invalid_client)", ErrUnauthorized)

// token runs the client credentials grant at the tenant's token endpoint and
// returns the access token. form holds the client's credential.
func (e *Entra) token(ctx context.Context, op string, t entraTarget, form url.Values, secrets []string) (string, error) {
	form.Set("grant_type", "client_credentials")
	form.Set("scope", t.scope())
	resp, err := call(ctx, e.Client, op, http.MethodPost, t.tokenURL(), nil, []byte(form.Encode()),
		"application/x-www-form-urlencoded", secrets)
	if err != nil {
		var herr *HTTPError
		// Entra answers 400 or 401 with {"error":"invalid_client",…} for a
		// wrong, expired or not yet replicated secret or assertion.
		if errors.As(err, &herr) && (herr.Status == http.StatusBadRequest || herr.Status == http.StatusUnauthorized) &&
			strings.Contains(herr.Detail, `"invalid_client"`) {
			return "", fmt.Errorf("%w: %w", errInvalidClient, err)
		}
		return "", err
	}
	var got struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := decode(op, resp, &got); err != nil {
		return "", err
	}
	if got.AccessToken == "" || !strings.EqualFold(got.TokenType, "Bearer") {
		return "", fmt.Errorf("%s: the token endpoint returned no Bearer access token", op)
	}
	return got.AccessToken, nil
}

// adminAuth checks the admin secret against the rotated one and returns the
// Graph authorization header of an admin token.
func (e *Entra) adminAuth(ctx context.Context, t entraTarget, admin secret.Value) (http.Header, []string, error) {
	secrets := secretsOf(admin)
	cloudName, _, err := e.cloudOf(admin)
	if err != nil {
		return nil, nil, fmt.Errorf("admin secret: %w", err)
	}
	if cloudName != t.cloudName {
		return nil, nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "cloud", Problem: "must be the rotated secret's cloud"})
	}
	tenant, err := guid(admin, "tenantId")
	if err != nil {
		return nil, nil, fmt.Errorf("admin secret: %w", err)
	}
	if tenant != t.tenant {
		return nil, nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "tenantId", Problem: "must be the rotated secret's tenant"})
	}
	clientID, err := guid(admin, "clientId")
	if err != nil {
		return nil, nil, fmt.Errorf("admin secret: %w", err)
	}
	if clientID == t.clientID {
		return nil, nil, errors.New("the admin app cannot rotate its own secret: use a separate admin app")
	}
	if list, ok := admin.Get("allowedClientIds"); ok {
		allowed := false
		for id := range strings.SplitSeq(list, ",") {
			allowed = allowed || strings.EqualFold(strings.TrimSpace(id), t.clientID)
		}
		if !allowed {
			return nil, nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "allowedClientIds", Problem: "does not list the rotated secret's clientId"})
		}
	}
	form := url.Values{"client_id": {clientID}}
	cert, _ := admin.Get("certificate")
	key, _ := admin.Get("privateKey")
	switch sec, _ := admin.Get("clientSecret"); {
	case cert != "" || key != "":
		assertion, err := entraAssertion(clientID, t.audience(), cert, key, e.now())
		if err != nil {
			return nil, nil, fmt.Errorf("admin secret: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
		secrets = append(secrets, assertion)
	case sec != "":
		form.Set("client_secret", sec)
	default:
		return nil, nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: "certificate", Problem: "and privateKey (preferred), or clientSecret, must be set"})
	}
	tok, err := e.token(ctx, "entra: get an admin token", t, form, secrets)
	if err != nil {
		return nil, nil, err
	}
	return bearer(tok), append(secrets, tok), nil
}

// entraAssertion signs the private_key_jwt client assertion Microsoft Entra
// documents: PS256, header x5t#S256 (the certificate's SHA-256 thumbprint),
// aud the token endpoint, iss and sub the client ID, valid for 10 minutes.
func entraAssertion(clientID, aud, certPEM, keyPEM string, now time.Time) (string, error) {
	cb, _ := pem.Decode([]byte(certPEM))
	if cb == nil || cb.Type != "CERTIFICATE" {
		return "", &secret.KeyError{Key: "certificate", Problem: "must be a PEM certificate"}
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return "", &secret.KeyError{Key: "certificate", Problem: "must be a PEM certificate"}
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil {
		return "", &secret.KeyError{Key: "privateKey", Problem: "must be a PEM RSA private key"}
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		key, _ = k.(*rsa.PrivateKey)
	} else if k, err := x509.ParsePKCS1PrivateKey(kb.Bytes); err == nil {
		key = k
	}
	if key == nil {
		return "", &secret.KeyError{Key: "privateKey", Problem: "must be a PEM RSA private key (PKCS#8 or PKCS#1)"}
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return "", &secret.KeyError{Key: "privateKey", Problem: "must be the private key of certificate"}
	}
	thumb := sha256.Sum256(cert.Raw)
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "PS256", "typ": "JWT", "x5t#S256": enc.EncodeToString(thumb[:])})
	claims, _ := json.Marshal(map[string]any{"aud": aud, "iss": clientID, "sub": clientID,
		"jti": fmt.Sprintf("%x-%x-%x-%x-%x", jti[0:4], jti[4:6], jti[6:8], jti[8:10], jti[10:]),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		return "", fmt.Errorf("sign the client assertion: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// entraPassword is Graph's passwordCredential.
type entraPassword struct {
	KeyID       string  `json:"keyId"`
	DisplayName *string `json:"displayName"`
	SecretText  *string `json:"secretText"`
	EndDateTime *string `json:"endDateTime"`
}

// passwords reads the application's password credentials and checks the
// object is the app the secret names (its appId is clientId).
func (e *Entra) passwords(ctx context.Context, t entraTarget, auth http.Header, secrets []string) ([]entraPassword, error) {
	const op = "entra: read the application's secrets"
	resp, err := call(ctx, e.Client, op, http.MethodGet, t.app()+"?$select=id,appId,passwordCredentials", auth, nil, "", secrets)
	if err != nil {
		return nil, err
	}
	var got struct {
		ID                  string          `json:"id"`
		AppID               string          `json:"appId"`
		PasswordCredentials []entraPassword `json:"passwordCredentials"`
	}
	if err := decode(op, resp, &got); err != nil {
		return nil, err
	}
	if !strings.EqualFold(got.AppID, t.clientID) || !strings.EqualFold(got.ID, t.objectID) {
		return nil, fmt.Errorf("%s: application %s is not the app whose clientId the secret names", op, t.objectID)
	}
	return got.PasswordCredentials, nil
}

// Create implements Adapter with POST /applications/{id}/addPassword
// (displayName = req.Name, endDateTime = now + Lifetime), after checking the
// application object is the app of clientId.
func (e *Entra) Create(ctx context.Context, req CreateKeyRequest) (Key, error) {
	t, err := e.target(req.Secret)
	if err != nil {
		return Key{}, err
	}
	auth, secrets, err := e.adminAuth(ctx, t, req.Admin)
	if err != nil {
		return Key{}, err
	}
	secrets = append(secrets, secretsOf(req.Secret)...)
	if _, err := e.passwords(ctx, t, auth, secrets); err != nil {
		return Key{}, err
	}
	life := e.Lifetime
	if life <= 0 {
		life = DefaultEntraLifetime
	}
	const op = "entra: add a client secret"
	body := jsonBody(map[string]any{"passwordCredential": map[string]string{
		"displayName": req.Name, "endDateTime": e.now().Add(life).UTC().Format(time.RFC3339)}})
	resp, err := call(ctx, e.Client, op, http.MethodPost, t.app()+"/addPassword", auth, body, "application/json", secrets)
	if err != nil {
		return Key{}, err
	}
	var p entraPassword
	if err := decode(op, resp, &p); err != nil {
		return Key{}, err
	}
	if p.SecretText == nil {
		return Key{ID: p.KeyID}, fmt.Errorf("%s: Graph returned no secretText for key %s", op, p.KeyID)
	}
	return Key{ID: p.KeyID, Secret: *p.SecretText}, nil
}

// Verify implements Adapter: the client credentials grant with the key at
// the tenant's token endpoint. A token is issued and dropped unread; a
// refused secret (invalid_client) wraps ErrUnauthorized, so testSecret waits
// for replication.
func (e *Entra) Verify(ctx context.Context, req VerifyKeyRequest) error {
	t, err := e.target(req.Secret)
	if err != nil {
		return err
	}
	form := url.Values{"client_id": {t.clientID}, "client_secret": {req.Key.Secret}}
	_, err = e.token(ctx, "entra: verify client secret", t, form, append(secretsOf(req.Secret), req.Key.Secret))
	return err
}

// Revoke implements Adapter with POST /applications/{id}/removePassword. A
// key the application no longer has is success.
func (e *Entra) Revoke(ctx context.Context, req RevokeKeyRequest) error {
	t, err := e.target(req.Secret)
	if err != nil {
		return err
	}
	if !guidPattern.MatchString(req.KeyID) {
		return &secret.KeyError{Key: "keyId", Problem: "must be a GUID"}
	}
	auth, secrets, err := e.adminAuth(ctx, t, req.Admin)
	if err != nil {
		return err
	}
	secrets = append(secrets, secretsOf(req.Secret)...)
	_, err = call(ctx, e.Client, "entra: remove a client secret", http.MethodPost, t.app()+"/removePassword", auth,
		jsonBody(map[string]string{"keyId": req.KeyID}), "application/json", secrets)
	var herr *HTTPError
	if err == nil || !errors.As(err, &herr) || (herr.Status != http.StatusBadRequest && herr.Status != http.StatusNotFound) {
		return err
	}
	// Graph's answer for a key already gone is not documented: look.
	ps, lerr := e.passwords(ctx, t, auth, secrets)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	if slices.ContainsFunc(ps, func(p entraPassword) bool { return strings.EqualFold(p.KeyID, req.KeyID) }) {
		return err
	}
	return nil
}

// Find implements Adapter: the application's password credentials whose
// displayName req.Match accepts.
func (e *Entra) Find(ctx context.Context, req FindKeysRequest) ([]string, error) {
	t, err := e.target(req.Secret)
	if err != nil {
		return nil, err
	}
	auth, secrets, err := e.adminAuth(ctx, t, req.Admin)
	if err != nil {
		return nil, err
	}
	ps, err := e.passwords(ctx, t, auth, append(secrets, secretsOf(req.Secret)...))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range ps {
		if p.DisplayName != nil && req.Match(*p.DisplayName, p.KeyID) {
			ids = append(ids, p.KeyID)
		}
	}
	return ids, nil
}

// EntraRotator is the Rotator of Entra application secrets. An application's
// secrets may serve other consumers, so finishSecret removes the key that
// was AWSPREVIOUS only when Rotary minted it for this secret (its
// displayName starts with SecretPrefix of the secret's ARN); the key a
// secret started with is left to expire at its own end date.
type EntraRotator struct {
	*Rotator
}

var (
	_ rotators.Minter    = (*EntraRotator)(nil)
	_ rotators.Finisher  = (*EntraRotator)(nil)
	_ rotators.Discarder = (*EntraRotator)(nil)
)

// NewEntraRotator returns the rotator for a.
func NewEntraRotator(a *Entra) *EntraRotator {
	return &EntraRotator{Rotator: NewRotator(a)}
}

// Finish is Rotator.Finish, except that an AWSPREVIOUS key not minted for
// this secret is kept. Safe to call twice.
func (r *EntraRotator) Finish(ctx context.Context, req rotators.FinishRequest) (rotators.FinishResponse, error) {
	// Read the admin secret once for the check and the revocation.
	if master := req.Master; master != nil {
		var cached *secret.Value
		req.Master = func(ctx context.Context) (secret.Value, bool, error) {
			if cached != nil {
				return *cached, true, nil
			}
			v, ok, err := master(ctx)
			if err == nil && ok {
				cached = &v
			}
			return v, ok, err
		}
	}
	load := req.Previous
	if load != nil {
		req.Previous = func(ctx context.Context) (secret.Value, bool, error) {
			prev, ok, err := load(ctx)
			if err != nil || !ok {
				return prev, ok, err
			}
			id := r.key(prev).ID
			if id == "" {
				return prev, ok, nil
			}
			admin, err := r.admin(ctx, req.Master)
			if err != nil {
				return secret.Value{}, false, err
			}
			owned, err := r.adapter.Find(ctx, FindKeysRequest{Secret: prev, Admin: admin, Name: SecretPrefix(req.SecretARN), Prefix: true})
			if err != nil {
				return secret.Value{}, false, fmt.Errorf("list the keys minted for this secret: %w", err)
			}
			if !slices.ContainsFunc(owned, func(o string) bool { return strings.EqualFold(o, id) }) {
				return secret.Value{}, false, nil // not ours (or gone): keep it
			}
			return prev, true, nil
		}
	}
	return r.Rotator.Finish(ctx, req)
}

// RegisterEntra adds the entra-app-secret rotator to reg under the api-key
// strategy, minting secrets valid for lifetime (DefaultEntraLifetime when
// zero).
func RegisterEntra(reg *rotators.Registry, cfg Config, lifetime time.Duration) {
	rot := NewEntraRotator(&Entra{Config: cfg, Client: cfg.Client(), Lifetime: lifetime})
	rot.VerifyWait, rot.Sleep = entraVerifyWait, cfg.Sleep
	if cfg.VerifyWait != nil {
		rot.VerifyWait = *cfg.VerifyWait
	}
	reg.Register(rot, rotators.APIKey, EngineEntra)
}

// RegisterEntraFromEnv reads ConfigFromEnv's variables and the ENTRA_* ones
// (see the Env constants) and registers the entra-app-secret rotator. A
// malformed value is an error naming the variable.
func RegisterEntraFromEnv(reg *rotators.Registry, getenv func(string) string) error {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	for key, name := range map[string]string{EngineEntra: EnvEntraGraphBaseURL, EntraLoginURLKey: EnvEntraLoginBaseURL} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return fmt.Errorf("saas config: %s must be an http(s) URL without credentials", name)
		}
		if cfg.BaseURLs == nil {
			cfg.BaseURLs = map[string]string{}
		}
		cfg.BaseURLs[key] = strings.TrimRight(v, "/")
	}
	lifetime := DefaultEntraLifetime
	if v := strings.TrimSpace(getenv(EnvEntraSecretLifetime)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 24*time.Hour || d > 2*365*24*time.Hour {
			return fmt.Errorf("saas config: %s must be a Go duration from 24h to 17520h", EnvEntraSecretLifetime)
		}
		lifetime = d
	}
	RegisterEntra(reg, cfg, lifetime)
	return nil
}
