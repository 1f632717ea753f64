package fakes

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ServiceApp registers an OAuth 2.0 service app that authenticates at
// POST /oauth2/v1/token with private_key_jwt and is granted scopes; its
// access tokens then manage the app's client secrets like the API token. It
// returns the app's client ID and its private key in PEM (EC P-256, or RSA
// 2048 when rsaKey).
func (o *Okta) ServiceApp(rsaKey bool, scopes ...string) (clientID, privateKeyPEM string) {
	var signer crypto.Signer
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			o.t.Fatal(err)
		}
		signer = k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			o.t.Fatal(err)
		}
		signer = k
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		o.t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.serviceID = "0oa" + random(alnum, 17)
	o.servicePub = signer.Public()
	o.serviceScopes = scopes
	return o.serviceID, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// token serves the client credentials grant with a private_key_jwt client
// assertion: signature, iss = sub = the client ID, aud = this endpoint's
// URL, a live exp, an unused jti, and only granted scopes.
func (o *Okta) token(w http.ResponseWriter, r *http.Request) {
	o.serve(w, r, "token", func(r *http.Request, body []byte) reply {
		invalid := func(code, msg string) reply {
			return reply{status: 401, body: map[string]any{"error": code, "error_description": msg}}
		}
		form, _ := url.ParseQuery(string(body))
		if form.Get("grant_type") != "client_credentials" ||
			form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return reply{status: 400, body: map[string]any{"error": "invalid_request", "error_description": "unsupported grant or client authentication"}}
		}
		if o.servicePub == nil {
			return invalid("invalid_client", "no such client")
		}
		alg, claims, err := verifyJWT(form.Get("client_assertion"), o.servicePub)
		if err != nil || alg == "PS256" {
			return invalid("invalid_client", "The client_assertion signature is invalid.")
		}
		exp, _ := claims["exp"].(float64)
		jti, _ := claims["jti"].(string)
		if claims["iss"] != o.serviceID || claims["sub"] != o.serviceID || claims["aud"] != o.URL()+"/oauth2/v1/token" ||
			time.Unix(int64(exp), 0).Before(time.Now()) || jti == "" || o.jtis[jti] {
			return invalid("invalid_client", "The client_assertion token is invalid.")
		}
		if o.jtis == nil {
			o.jtis = map[string]bool{}
		}
		o.jtis[jti] = true
		for _, sc := range strings.Fields(form.Get("scope")) {
			if !containsString(o.serviceScopes, sc) {
				return reply{status: 400, body: map[string]any{"error": "invalid_scope", "error_description": "The following scopes are not allowed: " + sc}}
			}
		}
		tok := "eyJ" + Canary + random(alnum, 40)
		if o.accessTokens == nil {
			o.accessTokens = map[string]bool{}
		}
		o.accessTokens[tok] = true
		return reply{status: 200, body: map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": tok, "scope": form.Get("scope")}}
	})
}

// TokenRequests is how many token requests reached the fake.
func (o *Okta) TokenRequests() int { return o.Calls("token") }

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// verifyJWT checks a compact JWS signed with RS256, PS256 or ES256 by pub and
// returns its header's alg and its claims.
func verifyJWT(token string, pub crypto.PublicKey) (alg string, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil, errors.New("not a compact JWS")
	}
	enc := base64.RawURLEncoding
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", nil, errors.New("malformed JWS")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return "", nil, errors.New("malformed JWS")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch header.Alg {
		case "RS256":
			err = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig)
		case "PS256":
			err = rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		default:
			err = errors.New("unsupported alg")
		}
		if err != nil {
			return "", nil, errors.New("bad signature")
		}
	case *ecdsa.PublicKey:
		if header.Alg != "ES256" || len(sig) != 64 ||
			!ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return "", nil, errors.New("bad signature")
		}
	default:
		return "", nil, errors.New("unsupported key type")
	}
	return header.Alg, claims, nil
}
