package fakes

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Entra fakes the Microsoft Entra ID pieces of a client secret rotation: the
// v2.0 token endpoint (POST /{tenant}/oauth2/v2.0/token, client credentials
// with client_secret or a certificate client assertion: PS256 with the
// certificate's SHA-256 thumbprint in x5t#S256, as Microsoft's "certificate
// credentials" documentation describes it), and
// Microsoft Graph's application password credentials (GET
// /v1.0/applications/{id}, POST …/addPassword, POST …/removePassword), with
// Graph's {"error":{"code","message"}} bodies and the token endpoint's
// {"error","error_description"} bodies. The admin app's tokens may manage the
// one application; the application's own client secrets get tokens too.
type Entra struct {
	*core
	TenantID      string
	AdminClientID string
	AdminSecret   string
	AppObjectID   string
	AppClientID   string

	certPub   crypto.PublicKey // the admin app's certificate key, if any
	certThumb []byte           // its SHA-256 thumbprint
	adminToks map[string]bool
	usedJTIs  map[string]bool
}

func guid() string {
	h := random(hexdigits, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewEntra starts a fake tenant with an admin app and one application.
func NewEntra(t testing.TB) *Entra {
	t.Helper()
	e := &Entra{TenantID: guid(), AdminClientID: guid(), AdminSecret: "adm~" + Canary + random(alnum, 30), AppObjectID: guid(), AppClientID: guid(),
		adminToks: map[string]bool{}, usedJTIs: map[string]bool{}}
	e.core = newCore(t, http.HandlerFunc(e.handle), func(path string, status int, msg string) any {
		// The token endpoint answers every error in OAuth 2.0's shape, with
		// Entra's extensions; Graph in its own.
		if strings.HasSuffix(path, "/oauth2/v2.0/token") {
			return entraOAuthError(status, "", msg)
		}
		code := map[int]string{400: "Request_BadRequest", 401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
			404: "Request_ResourceNotFound", 429: "TooManyRequests"}[status]
		if code == "" {
			code = "generalException"
		}
		return map[string]any{"error": map[string]any{"code": code, "message": msg,
			"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": guid(), "client-request-id": guid()}}}
	})
	return e
}

// Seed adds a password credential to the application without the API.
func (e *Entra) Seed(name string) Key {
	e.mu.Lock()
	defer e.mu.Unlock()
	return *e.add(guid(), name, Canary+random(alnum, 34), nil)
}

// AdminCertificate gives the admin app a certificate credential and returns
// its private key (PEM) and SHA-256 thumbprint (hex, as openssl x509
// -fingerprint -sha256 prints it, without the colons).
func (e *Entra) AdminCertificate() (privateKeyPEM, thumbprint string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		e.t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rotary-admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(k)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.certPub, e.certThumb = &k.PublicKey, sum[:]
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})), strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (e *Entra) view(k *Key) map[string]any {
	return map[string]any{"keyId": k.ID, "displayName": k.Name, "hint": k.Secret[:3], "secretText": nil, "customKeyIdentifier": nil,
		"startDateTime": k.Created.Format(time.RFC3339), "endDateTime": k.Created.Add(180 * 24 * time.Hour).Format(time.RFC3339)}
}

func (e *Entra) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/"+e.TenantID+"/oauth2/v2.0/token" && r.Method == http.MethodPost {
		// The application's own token requests are key verifications.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		op := "token"
		if form, _ := url.ParseQuery(string(body)); form.Get("client_id") == e.AppClientID {
			op = "verify"
		}
		e.serve(w, r, op, e.token)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	e.mu.Lock()
	admin := e.adminToks[tok]
	e.mu.Unlock()
	unauth := reply{status: http.StatusUnauthorized, msg: "Access token is empty or invalid."}
	app := "/v1.0/applications/" + e.AppObjectID
	switch {
	case r.URL.Path == app && r.Method == http.MethodGet:
		e.serve(w, r, "list", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			out := []map[string]any{}
			for _, k := range e.keys {
				out = append(out, e.view(k))
			}
			return reply{status: 200, body: map[string]any{"id": e.AppObjectID, "passwordCredentials": out}}
		})
	case r.URL.Path == app+"/addPassword" && r.Method == http.MethodPost:
		e.serve(w, r, "create", func(_ *http.Request, body []byte) reply {
			if !admin {
				return unauth
			}
			var in struct {
				PasswordCredential struct {
					DisplayName string `json:"displayName"`
					EndDateTime string `json:"endDateTime"`
				} `json:"passwordCredential"`
			}
			if json.Unmarshal(body, &in) != nil {
				return reply{status: 400, msg: "Invalid request body."}
			}
			end, err := time.Parse(time.RFC3339, in.PasswordCredential.EndDateTime)
			if in.PasswordCredential.EndDateTime != "" && (err != nil || end.Before(time.Now())) {
				return reply{status: 400, msg: "Invalid value specified for property 'endDateTime'."}
			}
			k := e.add(guid(), in.PasswordCredential.DisplayName, Canary+random(alnum, 34), nil)
			out := e.view(k)
			out["secretText"] = k.Secret
			if !end.IsZero() {
				out["endDateTime"] = end.UTC().Format(time.RFC3339)
			}
			return reply{status: 200, body: out}
		})
	case r.URL.Path == app+"/removePassword" && r.Method == http.MethodPost:
		e.serve(w, r, "delete", func(_ *http.Request, body []byte) reply {
			if !admin {
				return unauth
			}
			var in struct {
				KeyID string `json:"keyId"`
			}
			if json.Unmarshal(body, &in) != nil || in.KeyID == "" {
				return reply{status: 400, msg: "Invalid request body."}
			}
			if !e.remove(in.KeyID) {
				return reply{status: 400, msg: "No password credential found with keyId " + in.KeyID + "."}
			}
			return reply{status: 204}
		})
	default:
		e.serve(w, r, "unknown", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			return reply{status: 404, msg: "Resource '" + r.URL.Path + "' does not exist."}
		})
	}
}

// entraOAuthError is the token endpoint's error body: OAuth 2.0's, with
// Entra's extensions (the AADSTS code, a timestamp, trace and correlation
// IDs). code "" takes the usual code for the status.
func entraOAuthError(status int, code, desc string) map[string]any {
	body := oauthError(status, desc)
	if code != "" {
		body["error"] = code
	}
	codes := []int{}
	if n, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(desc, ":", 2)[0], "AADSTS")); err == nil {
		codes = append(codes, n)
	}
	body["error_codes"] = codes
	body["timestamp"] = time.Now().UTC().Format("2006-01-02 15:04:05Z")
	body["trace_id"], body["correlation_id"] = guid(), guid()
	return body
}

// token serves the client credentials grant for the admin app (client
// secret or certificate assertion) and for the application (client secret).
func (e *Entra) token(r *http.Request, body []byte) reply {
	form, _ := url.ParseQuery(string(body))
	fail := func(status int, code, desc string) reply {
		return reply{status: status, body: entraOAuthError(status, code, desc)}
	}
	if form.Get("grant_type") != "client_credentials" || form.Get("scope") != "https://graph.microsoft.com/.default" {
		return fail(400, "invalid_request", "AADSTS900144: grant_type client_credentials and scope https://graph.microsoft.com/.default are required.")
	}
	id := form.Get("client_id")
	secret := form.Get("client_secret")
	mint := func(admin bool) reply {
		tok := "eyJ0" + Canary + random(alnum, 40)
		if admin {
			e.adminToks[tok] = true
		}
		return reply{status: 200, body: map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok}}
	}
	switch id {
	case e.AdminClientID:
		if secret != "" {
			if secret != e.AdminSecret {
				return fail(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
			}
			return mint(true)
		}
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || e.certPub == nil {
			return fail(401, "invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required.")
		}
		assertion := form.Get("client_assertion")
		alg, claims, err := verifyJWT(assertion, e.certPub)
		if err != nil || alg != "PS256" {
			return fail(401, "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.")
		}
		var header struct {
			X5TS256 string `json:"x5t#S256"`
		}
		hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(assertion, ".")[0])
		_ = json.Unmarshal(hb, &header)
		exp, _ := claims["exp"].(float64)
		jti, _ := claims["jti"].(string)
		if header.X5TS256 != base64.RawURLEncoding.EncodeToString(e.certThumb) || claims["iss"] != id || claims["sub"] != id ||
			claims["aud"] != e.URL()+"/"+e.TenantID+"/oauth2/v2.0/token" || time.Unix(int64(exp), 0).Before(time.Now()) || jti == "" || e.usedJTIs[jti] {
			return fail(401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range, or is otherwise invalid.")
		}
		e.usedJTIs[jti] = true
		return mint(true)
	case e.AppClientID:
		if e.active(secret) == nil {
			return fail(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		}
		return mint(false)
	}
	return fail(400, "unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory.")
}
