package fakes

import (
	"crypto"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Okta fakes the app client secret endpoints
// (/api/v1/apps/{appId}/credentials/secrets: list, create, get, delete,
// lifecycle/activate and lifecycle/deactivate; at most two secrets, only
// inactive ones deletable, never the last active one deactivated) with SSWS
// authentication and {"errorCode","errorSummary",…} error bodies, and the org
// authorization server's POST /oauth2/v1/introspect, which authenticates the
// client (Basic or form) and answers 401 invalid_client for a wrong or
// inactive secret.
type Okta struct {
	*core
	APIToken string
	AppID    string
	ClientID string

	serviceID     string           // the OAuth service app's client ID
	servicePub    crypto.PublicKey // its registered public key
	serviceScopes []string         // the scopes granted to it
	jtis          map[string]bool  // client assertion IDs seen (replay)
	accessTokens  map[string]bool  // tokens issued
}

// secretPattern is what Okta accepts as a caller-chosen client_secret.
var secretPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{14,100}$`)

// NewOkta starts a fake org with one app.
func NewOkta(t testing.TB) *Okta {
	t.Helper()
	o := &Okta{APIToken: "00" + Canary + random(alnum, 34), AppID: "0oa" + random(alnum, 17)}
	o.ClientID = o.AppID
	o.core = newCore(t, http.HandlerFunc(o.handle), func(path string, status int, msg string) any {
		// The authorization server answers its client errors in OAuth 2.0's
		// shape; rate limits and server errors in Okta's.
		if strings.HasPrefix(path, "/oauth2/") && status < http.StatusTooManyRequests {
			return oauthError(status, msg)
		}
		code := map[int]string{400: "E0000001", 401: "E0000011", 403: "E0000006", 404: "E0000007", 429: "E0000047"}[status]
		if code == "" {
			code = "E0000009"
		}
		return map[string]any{"errorCode": code, "errorSummary": msg, "errorLink": code, "errorId": "oae" + random(alnum, 19), "errorCauses": []any{}}
	})
	return o
}

// Seed adds an active client secret without the API.
func (o *Okta) Seed() Key {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.add("ocs"+random(alnum, 17), "", Canary+random(alnum, 34), nil)
}

func (o *Okta) view(k *Key) map[string]any {
	status := "INACTIVE"
	if k.Active {
		status = "ACTIVE"
	}
	return map[string]any{"id": k.ID, "status": status, "client_secret": k.Secret, "secret_hash": random(alnum, 22),
		"created": k.Created.Format(time.RFC3339), "lastUpdated": k.Created.Format(time.RFC3339), "_links": map[string]any{}}
}

func (o *Okta) activeCount() int {
	n := 0
	for _, k := range o.keys {
		if k.Active {
			n++
		}
	}
	return n
}

func (o *Okta) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/v1/introspect" && r.Method == http.MethodPost {
		o.introspect(w, r)
		return
	}
	if r.URL.Path == "/oauth2/v1/token" && r.Method == http.MethodPost {
		o.token(w, r)
		return
	}
	unauth := reply{status: http.StatusUnauthorized, msg: "Invalid token provided"}
	o.mu.Lock()
	bearerTok, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	admin := r.Header.Get("Authorization") == "SSWS "+o.APIToken || (isBearer && o.accessTokens[bearerTok])
	o.mu.Unlock()
	coll := "/api/v1/apps/" + o.AppID + "/credentials/secrets"
	rest, ok := strings.CutPrefix(r.URL.Path, coll)
	if !ok {
		o.serve(w, r, "unknown", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			return reply{status: 404, msg: "Not found: Resource not found: " + r.URL.Path + " (AppInstance)"}
		})
		return
	}
	id, action, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	notFound := reply{status: 404, msg: "Not found: Resource not found: " + id + " (ClientSecret)"}
	switch {
	case id == "" && r.Method == http.MethodGet:
		o.serve(w, r, "list", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			out := []map[string]any{}
			for _, k := range o.keys {
				out = append(out, o.view(k))
			}
			return reply{status: 200, body: out}
		})
	case id == "" && r.Method == http.MethodPost:
		o.serve(w, r, "create", func(_ *http.Request, body []byte) reply {
			if !admin {
				return unauth
			}
			if len(o.keys) >= 2 {
				return reply{status: 400, msg: "Api validation failed: client secret. You can create up to two Secret objects."}
			}
			var in struct {
				ClientSecret string `json:"client_secret"`
				Status       string `json:"status"`
			}
			if len(body) > 0 && json.Unmarshal(body, &in) != nil {
				return reply{status: 400, msg: "Api validation failed: malformed JSON"}
			}
			value := Canary + random(alnum, 34)
			if in.ClientSecret != "" {
				if !secretPattern.MatchString(in.ClientSecret) {
					return reply{status: 400, msg: "Api validation failed: client_secret must be 14 to 100 characters of letters, digits, '-', '_' and '.'"}
				}
				value = in.ClientSecret
			}
			k := o.add("ocs"+random(alnum, 17), "", value, nil)
			if in.Status == "INACTIVE" {
				k.Active = false
			}
			return reply{status: 201, body: o.view(k)}
		})
	case action == "" && r.Method == http.MethodDelete:
		o.serve(w, r, "delete", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			k := o.byID(id)
			if k == nil {
				return notFound
			}
			if k.Active {
				return reply{status: 400, msg: "Api validation failed: an active client secret cannot be deleted."}
			}
			o.remove(id)
			return reply{status: 204}
		})
	case (action == "lifecycle/deactivate" || action == "lifecycle/activate") && r.Method == http.MethodPost:
		op := strings.TrimPrefix(action, "lifecycle/")
		o.serve(w, r, op, func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			k := o.byID(id)
			if k == nil {
				return notFound
			}
			if op == "deactivate" && k.Active && o.activeCount() == 1 {
				return reply{status: 400, msg: "Api validation failed: the last active client secret cannot be deactivated."}
			}
			k.Active = op == "activate"
			return reply{status: 200, body: o.view(k)}
		})
	default:
		o.serve(w, r, "unknown", func(*http.Request, []byte) reply { return notFound })
	}
}

func (o *Okta) introspect(w http.ResponseWriter, r *http.Request) {
	o.serve(w, r, "verify", func(r *http.Request, body []byte) reply {
		form, _ := url.ParseQuery(string(body))
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = form.Get("client_id"), form.Get("client_secret")
		}
		if id != o.ClientID || o.active(sec) == nil {
			return reply{status: 401, body: map[string]any{"error": "invalid_client", "error_description": "Invalid value for 'client_secret' parameter."}}
		}
		if form.Get("token") == "" {
			return reply{status: 400, body: map[string]any{"error": "invalid_request", "error_description": "The token parameter is required."}}
		}
		return reply{status: 200, body: map[string]any{"active": false}}
	})
}
