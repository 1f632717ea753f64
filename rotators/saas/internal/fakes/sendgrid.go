package fakes

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// autoScopes are scopes SendGrid assigns itself and refuses in requests here.
var autoScopes = map[string]bool{"2fa_exempt": true, "2fa_required": true, "sender_verification_exempt": true,
	"sender_verification_eligible": true, "sender_verification_legacy": true}

// SendGrid fakes the SendGrid v3 API keys endpoints (POST/GET /v3/api_keys,
// GET/DELETE /v3/api_keys/{api_key_id}) and GET /v3/scopes, with Bearer
// authentication and {"errors":[{"field":…,"message":…}]} error bodies. Only
// AdminKey may manage keys, the parent account's or, with an on-behalf-of
// header, a subuser's; any live key may call /v3/scopes.
type SendGrid struct {
	*core
	AdminKey string
	// Withhold lists scopes a create silently leaves out of the new key, as
	// SendGrid may when the admin key does not hold them itself.
	Withhold []string
}

// NewSendGrid starts a fake whose admin key is random.
func NewSendGrid(t testing.TB) *SendGrid {
	t.Helper()
	s := &SendGrid{AdminKey: "SG." + random(alnum, 22) + "." + Canary + "admin" + random(alnum, 32)}
	s.core = newCore(t, http.HandlerFunc(s.handle), func(_ string, _ int, msg string) any {
		return map[string]any{"errors": []map[string]any{{"field": nil, "message": msg}}}
	})
	return s
}

// Seed adds a live key without the API, as if made in the SendGrid app.
func (s *SendGrid) Seed(name string, scopes ...string) Key {
	return s.SeedFor("", name, scopes...)
}

// SeedFor adds a live key of a subuser ("" for the parent account).
func (s *SendGrid) SeedFor(owner, name string, scopes ...string) Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.add(random(alnum, 22), name, "", scopes).fill()
	k.Owner = owner
	return *k
}

func (k *Key) fill() *Key {
	k.Secret = "SG." + k.ID + "." + Canary + random(alnum, 37)
	return k
}

func bearerOf(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(v, "Bearer "); ok {
		return t
	}
	return ""
}

func (s *SendGrid) handle(w http.ResponseWriter, r *http.Request) {
	unauth := reply{status: http.StatusUnauthorized, msg: "authorization required"}
	admin := func() bool { return bearerOf(r) == s.AdminKey }
	// Key management acts on the parent account's keys, or on a subuser's
	// with the on-behalf-of header.
	owner := r.Header.Get("On-Behalf-Of")
	path := r.URL.Path
	switch {
	case path == "/v3/scopes" && r.Method == http.MethodGet:
		s.serve(w, r, "verify", func(r *http.Request, _ []byte) reply {
			if admin() {
				return reply{status: 200, body: map[string]any{"scopes": []string{"api_keys.create", "api_keys.read", "api_keys.delete"}}}
			}
			k := s.active(bearerOf(r))
			if k == nil {
				return unauth
			}
			return reply{status: 200, body: map[string]any{"scopes": listed(k.Scopes)}}
		})
	case path == "/v3/api_keys" && r.Method == http.MethodGet:
		s.serve(w, r, "list", func(*http.Request, []byte) reply {
			if !admin() {
				return unauth
			}
			res := []map[string]any{}
			for _, k := range s.keys {
				if k.Owner == owner {
					res = append(res, map[string]any{"name": k.Name, "api_key_id": k.ID})
				}
			}
			return reply{status: 200, body: map[string]any{"result": res}}
		})
	case path == "/v3/api_keys" && r.Method == http.MethodPost:
		s.serve(w, r, "create", func(_ *http.Request, body []byte) reply {
			if !admin() {
				return unauth
			}
			var in struct {
				Name   string   `json:"name"`
				Scopes []string `json:"scopes"`
			}
			if json.Unmarshal(body, &in) != nil || in.Name == "" {
				return reply{status: 400, body: map[string]any{"errors": []map[string]any{{"field": "name", "message": "missing required argument"}}}}
			}
			if len(s.keys) >= 100 {
				return reply{status: 403, msg: "Cannot create more than 100 API keys"}
			}
			for _, sc := range in.Scopes {
				if autoScopes[sc] {
					return reply{status: 400, body: map[string]any{"errors": []map[string]any{{"field": "scopes", "message": "invalid scope: " + sc}}}}
				}
			}
			if in.Scopes == nil {
				in.Scopes = []string{"full.access"}
			}
			in.Scopes = slices.DeleteFunc(in.Scopes, func(sc string) bool { return slices.Contains(s.Withhold, sc) })
			// SendGrid adds these to every key itself.
			in.Scopes = append(in.Scopes, "2fa_required", "sender_verification_eligible")
			k := s.add(random(alnum, 22), in.Name, "", in.Scopes).fill()
			k.Owner = owner
			return reply{status: 201, body: map[string]any{"api_key": k.Secret, "api_key_id": k.ID, "name": k.Name, "scopes": listed(k.Scopes)}}
		})
	case strings.HasPrefix(path, "/v3/api_keys/") && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		id := strings.TrimPrefix(path, "/v3/api_keys/")
		op := "get"
		if r.Method == http.MethodDelete {
			op = "delete"
		}
		s.serve(w, r, op, func(r *http.Request, _ []byte) reply {
			if !admin() {
				return unauth
			}
			k := s.byID(id)
			if k == nil || k.Owner != owner {
				return reply{status: 404, msg: "unable to find API Key"}
			}
			if r.Method == http.MethodDelete {
				s.remove(id)
				return reply{status: 204}
			}
			return reply{status: 200, body: map[string]any{"result": []map[string]any{{"name": k.Name, "api_key_id": k.ID, "scopes": listed(k.Scopes)}}}}
		})
	default:
		s.serve(w, r, "unknown", func(*http.Request, []byte) reply { return reply{status: 404, msg: "not found"} })
	}
}

// listed is scopes as SendGrid lists them: an array, empty rather than null.
func listed(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}
