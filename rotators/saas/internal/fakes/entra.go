package fakes

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Entra fakes the Microsoft Entra ID endpoints the entra-app-secret adapter
// uses, on one server: the tenant's token endpoint
// (POST /{tenant}/oauth2/v2.0/token, client credentials grant, client_secret
// or a PS256 private_key_jwt assertion with x5t#S256) with OAuth error bodies,
// and Microsoft Graph's application password credentials
// (GET /v1.0/applications/{id}, POST …/addPassword, POST …/removePassword)
// with Bearer tokens and {"error":{"code","message","innerError"}} bodies.
//
// The tenant has an admin app (certificate and client secret) that owns App
// and does not own Other. Key.Owner is the object ID of the application a
// password credential belongs to.
type Entra struct {
	*core
	TenantID      string
	AdminClientID string
	AdminSecret   string // the admin app's client secret
	AdminCertPEM  string // the admin app's certificate
	AdminKeyPEM   string // its private key (PKCS#8)
	AppObjectID   string // the application Rotary rotates
	AppClientID   string
	OtherObjectID string // an application the admin does not own
	OtherClientID string
	// Replication is how many token requests with a new secret are refused
	// (invalid_client) before it works, as while Entra replicates it.
	Replication int

	adminCert *x509.Certificate
	fresh     map[string]int    // key ID → refusals left
	tokens    map[string]string // access token → client ID
	assertion map[string]bool   // jti values seen, to refuse replays
}

func newGUID() string {
	b := random(hexdigits, 32)
	return b[0:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:32]
}

// NewEntra starts a fake tenant.
func NewEntra(t testing.TB) *Entra {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rotary-admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	e := &Entra{
		TenantID: newGUID(), AdminClientID: newGUID(), AdminSecret: "adm8Q~" + Canary + random(alnum, 30),
		AdminCertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		AdminKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		AppObjectID:  newGUID(), AppClientID: newGUID(), OtherObjectID: newGUID(), OtherClientID: newGUID(),
		adminCert: cert, tokens: map[string]string{}, assertion: map[string]bool{}, fresh: map[string]int{},
	}
	e.core = newCore(t, http.HandlerFunc(e.handle), func(status int, msg string) any {
		code := map[int]string{400: "Request_BadRequest", 401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
			404: "Request_ResourceNotFound", 429: "TooManyRequests"}[status]
		if code == "" {
			code = "UnknownError"
		}
		return map[string]any{"error": map[string]any{"code": code, "message": msg,
			"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": newGUID(), "client-request-id": newGUID()}}}
	})
	return e
}

// Seed adds a password credential to App, as if made in the portal.
func (e *Entra) Seed(displayName string) Key {
	return e.SeedFor(e.AppObjectID, displayName)
}

// SeedFor adds a password credential to the application with object ID app.
func (e *Entra) SeedFor(app, displayName string) Key {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.add(newGUID(), displayName, random(alnum, 3)+"8Q~"+Canary+random(alnum, 30), nil)
	k.Owner = app
	return *k
}

func (e *Entra) clientOf(app string) string {
	switch app {
	case e.AppObjectID:
		return e.AppClientID
	case e.OtherObjectID:
		return e.OtherClientID
	}
	return ""
}

func oauthError(status int, code, desc string, aadsts int) reply {
	return reply{status: status, body: map[string]any{"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, desc, newGUID(), newGUID(), time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z"), "trace_id": newGUID(), "correlation_id": newGUID(),
		"error_uri": "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts)}}
}

func (e *Entra) handle(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") && r.Method == http.MethodPost {
		e.serve(w, r, "token", e.token)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/applications/")
	if !ok {
		e.serve(w, r, "unknown", func(*http.Request, []byte) reply {
			return reply{status: 404, msg: "Resource not found for the segment."}
		})
		return
	}
	id, action, _ := strings.Cut(rest, "/")
	op := map[string]string{"": "get", "addPassword": "create", "removePassword": "delete"}[action]
	if op == "" || (action == "" && r.Method != http.MethodGet) || (action != "" && r.Method != http.MethodPost) {
		e.serve(w, r, "unknown", func(*http.Request, []byte) reply {
			return reply{status: 405, msg: "Request_BadRequest: method not allowed"}
		})
		return
	}
	e.serve(w, r, op, func(r *http.Request, body []byte) reply {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if e.tokens[tok] != e.AdminClientID {
			return reply{status: 401, msg: "Access token validation failure. Invalid audience."}
		}
		client := e.clientOf(id)
		if client == "" {
			return reply{status: 404, msg: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
		}
		if id != e.AppObjectID {
			return reply{status: 403, msg: "Insufficient privileges to complete the operation."}
		}
		switch action {
		case "":
			return reply{status: 200, body: map[string]any{
				"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications(id,appId,passwordCredentials)/$entity",
				"id":             id, "appId": client, "passwordCredentials": e.credentials(id)}}
		case "addPassword":
			var in struct {
				PasswordCredential *struct {
					DisplayName *string `json:"displayName"`
					EndDateTime *string `json:"endDateTime"`
				} `json:"passwordCredential"`
			}
			if json.Unmarshal(body, &in) != nil {
				return reply{status: 400, msg: "Invalid request body."}
			}
			name, end := "", e.clock.Add(2*365*24*time.Hour)
			if pc := in.PasswordCredential; pc != nil {
				if pc.DisplayName != nil {
					name = *pc.DisplayName
				}
				if pc.EndDateTime != nil {
					t, err := time.Parse(time.RFC3339, *pc.EndDateTime)
					if err != nil {
						return reply{status: 400, msg: "Invalid value for endDateTime."}
					}
					end = t
				}
			}
			k := e.add(newGUID(), name, random(alnum, 3)+"8Q~"+Canary+random(alnum, 30), nil)
			k.Owner = id
			e.fresh[k.ID] = e.Replication
			v := e.view(k, end)
			v["secretText"] = k.Secret
			return reply{status: 200, body: v}
		default: // removePassword
			var in struct {
				KeyID string `json:"keyId"`
			}
			if json.Unmarshal(body, &in) != nil || in.KeyID == "" {
				return reply{status: 400, msg: "Invalid request body: keyId is required."}
			}
			if k := e.byID(in.KeyID); k == nil || k.Owner != id {
				// The real status and code for a key already gone are not
				// documented; the adapter must not depend on them.
				return reply{status: 400, msg: "No password credential found with keyId " + in.KeyID + "."}
			}
			e.remove(in.KeyID)
			return reply{status: 204}
		}
	})
}

// view is a passwordCredential without its secret (Graph never returns it
// after addPassword).
func (e *Entra) view(k *Key, end time.Time) map[string]any {
	return map[string]any{"customKeyIdentifier": nil, "displayName": k.Name, "endDateTime": end.UTC().Format(time.RFC3339),
		"hint": k.Secret[:3], "keyId": k.ID, "secretText": nil, "startDateTime": k.Created.UTC().Format(time.RFC3339)}
}

func (e *Entra) credentials(app string) []map[string]any {
	out := []map[string]any{}
	for _, k := range e.keys {
		if k.Owner == app {
			out = append(out, e.view(k, k.Created.Add(90*24*time.Hour)))
		}
	}
	return out
}

func (e *Entra) token(r *http.Request, body []byte) reply {
	tenant := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/token")
	if tenant != e.TenantID {
		return oauthError(400, "invalid_request", fmt.Sprintf("Tenant '%s' not found.", tenant), 90002)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "client_credentials" {
		return oauthError(400, "unsupported_grant_type", "The provided value for the input parameter 'grant_type' is not valid.", 70003)
	}
	if !strings.HasSuffix(form.Get("scope"), "/.default") {
		return oauthError(400, "invalid_scope", "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", 1002012)
	}
	client := form.Get("client_id")
	switch client {
	case e.AdminClientID:
		switch {
		case form.Get("client_assertion") != "":
			if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				return oauthError(400, "invalid_request", "The client_assertion_type is not supported.", 50027)
			}
			if err := e.checkAssertion(form.Get("client_assertion"), tenant); err != nil {
				return oauthError(401, "invalid_client", "Client assertion failed signature validation or claims: "+err.Error(), 700027)
			}
		case form.Get("client_secret") != e.AdminSecret:
			return oauthError(401, "invalid_client", "Invalid client secret provided.", 7000215)
		}
	case e.AppClientID, e.OtherClientID:
		app := e.AppObjectID
		if client == e.OtherClientID {
			app = e.OtherObjectID
		}
		k := e.active(form.Get("client_secret"))
		if k != nil && e.fresh[k.ID] > 0 {
			e.fresh[k.ID]--
			k = nil
		}
		if k == nil || k.Owner != app {
			return oauthError(401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", 7000215)
		}
	default:
		return oauthError(400, "unauthorized_client", fmt.Sprintf("Application with identifier '%s' was not found in the directory.", client), 700016)
	}
	tok := "eyJ0eXAiOiJKV1QifQ." + random(alnum, 40) + "." + random(alnum, 20)
	e.tokens[tok] = client
	return reply{status: 200, body: map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok}}
}

// checkAssertion verifies a private_key_jwt assertion as Entra documents it.
func (e *Entra) checkAssertion(jwt, tenant string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWS")
	}
	enc := base64.RawURLEncoding
	var header map[string]string
	var claims map[string]any
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return fmt.Errorf("malformed")
	}
	thumb := sha256.Sum256(e.adminCert.Raw)
	if header["alg"] != "PS256" || header["x5t#S256"] != enc.EncodeToString(thumb[:]) {
		return fmt.Errorf("alg must be PS256 and x5t#S256 the certificate's thumbprint")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPSS(e.adminCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, nil); err != nil {
		return fmt.Errorf("bad signature")
	}
	now := float64(time.Now().Unix())
	exp, _ := claims["exp"].(float64)
	nbf, _ := claims["nbf"].(float64)
	jti, _ := claims["jti"].(string)
	switch {
	case claims["aud"] != "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token":
		return fmt.Errorf("wrong aud")
	case claims["iss"] != e.AdminClientID || claims["sub"] != e.AdminClientID:
		return fmt.Errorf("iss and sub must be the client ID")
	case exp < now || nbf > now+300:
		return fmt.Errorf("expired or not yet valid")
	case jti == "" || e.assertion[jti]:
		return fmt.Errorf("jti missing or replayed")
	}
	e.assertion[jti] = true
	return nil
}
