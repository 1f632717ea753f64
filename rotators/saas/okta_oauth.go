package saas

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// Okta admin secret keys for OAuth 2.0 (a service app with private_key_jwt).
const (
	// OktaAdminClientID is the service app's client ID.
	OktaAdminClientID = "clientId"
	// OktaAdminPrivateKey is the service app's private key, PEM (PKCS#8, or
	// PKCS#1 RSA, or SEC 1 EC P-256).
	OktaAdminPrivateKey = "privateKey"
	// OktaAdminKeyID is the key's kid as registered with the app (optional).
	OktaAdminKeyID = "privateKeyId"
	// OktaAdminScopes overrides the scopes requested (space separated).
	OktaAdminScopes = "scopes"
)

// oktaScopes are the scopes Rotary needs: read and manage apps' credentials.
const oktaScopes = "okta.apps.read okta.apps.manage"

// tokenMargin is how long before its expiry a cached access token is renewed.
const tokenMargin = time.Minute

// tokenCache caches access tokens per org, client and key, so a step's
// several calls need one token request.
type tokenCache struct {
	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	value   string
	expires time.Time
}

// get returns a cached token for key valid for more than tokenMargin.
func (c *tokenCache) get(key string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[key]
	if !ok || !now.Add(tokenMargin).Before(t.expires) {
		return "", false
	}
	return t.value, true
}

// put caches a token that expires after expiresIn seconds (capped at a day).
func (c *tokenCache) put(key, value string, now time.Time, expiresIn int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil {
		c.tokens = map[string]cachedToken{}
	}
	c.tokens[key] = cachedToken{value: value, expires: now.Add(time.Duration(min(max(expiresIn, 0), 86400)) * time.Second)}
}

// oauthAuth returns the Bearer header of an access token got with the OAuth
// 2.0 client credentials grant and a private_key_jwt client assertion at the
// org authorization server (POST {org}/oauth2/v1/token). DPoP-bound tokens are
// not supported: the service app must not require DPoP.
func (o *Okta) oauthAuth(ctx context.Context, base string, admin secret.Value, clientID string) (http.Header, error) {
	pemKey, _ := admin.Get(OktaAdminPrivateKey)
	if pemKey == "" {
		return nil, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: OktaAdminPrivateKey, Problem: "must hold the service app's private key (PEM) when clientId is set"})
	}
	if err := checkID(OktaAdminClientID, clientID); err != nil {
		return nil, fmt.Errorf("admin secret: %w", err)
	}
	signer, alg, err := parseSigner(pemKey)
	if err != nil {
		return nil, fmt.Errorf("admin secret: %w", err)
	}
	scopes, _ := admin.Get(OktaAdminScopes)
	if strings.TrimSpace(scopes) == "" {
		scopes = oktaScopes
	}
	kid, _ := admin.Get(OktaAdminKeyID)
	sum := sha256.Sum256([]byte(base + "\x00" + clientID + "\x00" + pemKey + "\x00" + scopes + "\x00" + kid))
	cacheKey := hex.EncodeToString(sum[:])
	now := time.Now()
	if tok, ok := o.tokens.get(cacheKey, now); ok {
		return bearer(tok), nil
	}

	endpoint := base + "/oauth2/v1/token"
	hdr := map[string]any{}
	if kid != "" {
		hdr["kid"] = kid
	}
	assertion, err := signJWT(signer, alg, hdr, map[string]any{
		"iss": clientID, "sub": clientID, "aud": endpoint,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": rand.Text(),
	})
	if err != nil {
		return nil, fmt.Errorf("okta: sign the client assertion: %w", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scopes},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	const op = "okta: get an access token (private_key_jwt)"
	resp, err := call(ctx, o.Client, op, http.MethodPost, endpoint, nil, []byte(form.Encode()), "application/x-www-form-urlencoded",
		append(admin.Secrets(), assertion))
	if err != nil {
		return nil, err
	}
	var tok struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := decode(op, resp, &tok); err != nil {
		return nil, err
	}
	if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		return nil, fmt.Errorf("%s: the answer holds no Bearer token (token type %q; a DPoP-bound token needs the service app's \"Require DPoP\" off)", op, tok.TokenType)
	}
	o.tokens.put(cacheKey, tok.AccessToken, now, tok.ExpiresIn)
	return bearer(tok.AccessToken), nil
}

// parseSigner reads a PEM private key: RSA (RS256) or ECDSA P-256 (ES256).
func parseSigner(pemKey string) (crypto.Signer, string, error) {
	bad := &secret.KeyError{Key: OktaAdminPrivateKey, Problem: "must be a PEM RSA (2048 bits or more) or EC P-256 private key"}
	block, _ := pem.Decode([]byte(pemKey))
	if block == nil {
		return nil, "", bad
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, "", bad
	}
	if err != nil {
		return nil, "", bad
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, "", bad
		}
		return k, "RS256", nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, "", bad
		}
		return k, "ES256", nil
	}
	return nil, "", bad
}

// signJWT builds a compact JWS of claims with alg RS256 or PS256 (an RSA
// signer) or ES256 (EC) and the extra header fields (kid, x5t#S256, …).
func signJWT(signer crypto.Signer, alg string, extra map[string]any, claims map[string]any) (string, error) {
	header := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range extra {
		header[k] = v
	}
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		var s []byte
		var err error
		if alg == "PS256" {
			s, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			s, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		}
		if err != nil {
			return "", err
		}
		sig = s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		return "", errors.New("unsupported key type")
	}
	return input + "." + enc.EncodeToString(sig), nil
}
