package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Twilio fakes the v2010 Key resource (POST/GET
// /2010-04-01/Accounts/{AccountSid}/Keys.json, GET/DELETE …/Keys/{Sid}.json) and
// the Account and Balance resources (GET /2010-04-01/Accounts/{AccountSid}.json,
// GET …/Balance.json), with HTTP Basic authentication
// and {"code","message","more_info","status"} error bodies. Only the account's
// SID and auth token may manage keys; any live key may read the balance.
type Twilio struct {
	*core
	AccountSID string
	AuthToken  string
	// MaxPageSize caps PageSize, so tests can force next_page_uri paging.
	MaxPageSize int
	// Subaccount makes the account a subaccount, for which Twilio serves no
	// Balance resource (404).
	Subaccount bool

	main []string // IDs of Main keys
}

// NewTwilio starts a fake with a random account.
func NewTwilio(t testing.TB) *Twilio {
	t.Helper()
	tw := &Twilio{AccountSID: "AC" + random(hexdigits, 32), AuthToken: Canary + random(hexdigits, 26), MaxPageSize: 1000}
	tw.core = newCore(t, http.HandlerFunc(tw.handle), func(_ string, status int, msg string) any {
		code := map[int]int{400: 21100, 401: 20003, 403: 20403, 404: 20404, 429: 20429}[status]
		if code == 0 {
			code = 20500
		}
		return map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status}
	})
	return tw
}

// Seed adds a live Standard key without the API, as if made in the Console.
func (tw *Twilio) Seed(name string) Key {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return *tw.add("SK"+random(hexdigits, 32), name, Canary+random(alnum, 26), nil)
}

// SeedRestricted adds a live Restricted key with the given policy JSON.
func (tw *Twilio) SeedRestricted(name, policy string) Key {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	k := tw.add("SK"+random(hexdigits, 32), name, Canary+random(alnum, 26), nil)
	k.Policy = policy
	return *k
}

// iam serves the iam v1 Key resource (POST /v1/Keys, GET /v1/Keys/{Sid}):
// Standard keys and Restricted keys with their policy.
func (tw *Twilio) iam(w http.ResponseWriter, r *http.Request, admin bool, unauth reply) {
	view := func(k *Key) map[string]any {
		var policy any
		if k.Policy != "" {
			_ = json.Unmarshal([]byte(k.Policy), &policy)
		}
		return map[string]any{"sid": k.ID, "friendly_name": k.Name, "policy": policy,
			"date_created": k.Created.Format(time.RFC1123Z), "date_updated": k.Created.Format(time.RFC1123Z)}
	}
	sid, one := strings.CutPrefix(r.URL.Path, "/v1/Keys/")
	switch {
	case one && r.Method == http.MethodGet:
		tw.serve(w, r, "get", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			k := tw.byID(sid)
			if k == nil {
				return reply{status: 404, msg: "The requested resource was not found"}
			}
			return reply{status: 200, body: view(k)}
		})
	case r.URL.Path == "/v1/Keys" && r.Method == http.MethodPost:
		tw.serve(w, r, "create", func(_ *http.Request, body []byte) reply {
			if !admin {
				return unauth
			}
			form, err := url.ParseQuery(string(body))
			name, policy := form.Get("FriendlyName"), form.Get("Policy")
			if err != nil || form.Get("AccountSid") != tw.AccountSID || len(name) > 64 {
				return reply{status: 400, msg: "AccountSid is required and FriendlyName must be at most 64 characters"}
			}
			switch form.Get("KeyType") {
			case "":
				policy = ""
			case "restricted":
				if !json.Valid([]byte(policy)) {
					return reply{status: 400, msg: "Policy is required for a restricted key"}
				}
			default:
				return reply{status: 400, msg: "KeyType must be restricted"}
			}
			k := tw.add("SK"+random(hexdigits, 32), name, Canary+random(alnum, 26), nil)
			k.Policy = policy
			out := view(k)
			out["secret"] = k.Secret
			return reply{status: 201, body: out}
		})
	default:
		tw.serve(w, r, "unknown", func(*http.Request, []byte) reply {
			return reply{status: 404, msg: "The requested resource was not found"}
		})
	}
}

// SeedMain adds a live Main key (made in the Console only), which may manage
// keys like the auth token.
func (tw *Twilio) SeedMain() Key {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	k := tw.add("SK"+random(hexdigits, 32), "main", Canary+random(alnum, 26), nil)
	tw.main = append(tw.main, k.ID)
	return *k
}

func (tw *Twilio) handle(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	tw.mu.Lock()
	mk := tw.active(pass)
	admin := (user == tw.AccountSID && pass == tw.AuthToken) || (mk != nil && mk.ID == user && slices.Contains(tw.main, user))
	tw.mu.Unlock()
	keyAuth := func() bool {
		k := tw.active(pass)
		return admin || (k != nil && k.ID == user)
	}
	unauth := reply{status: http.StatusUnauthorized, msg: "Authenticate"}
	if strings.HasPrefix(r.URL.Path, "/v1/Keys") {
		tw.iam(w, r, admin, unauth)
		return
	}
	prefix := "/2010-04-01/Accounts/" + tw.AccountSID
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	notFound := reply{status: 404, msg: fmt.Sprintf("The requested resource %s was not found", r.URL.Path)}
	if !ok {
		tw.serve(w, r, "unknown", func(*http.Request, []byte) reply {
			if user == "" {
				return unauth
			}
			return notFound
		})
		return
	}
	switch {
	case rest == "/Balance.json" && r.Method == http.MethodGet:
		tw.serve(w, r, "balance", func(*http.Request, []byte) reply {
			if !keyAuth() {
				return unauth
			}
			if tw.Subaccount {
				return notFound // Twilio serves no balance for subaccounts
			}
			return reply{status: 200, body: map[string]any{"account_sid": tw.AccountSID, "balance": "12.34", "currency": "USD"}}
		})
	case rest == ".json" && r.Method == http.MethodGet:
		tw.serve(w, r, "verify", func(*http.Request, []byte) reply {
			if !keyAuth() {
				return unauth
			}
			if !admin {
				// Standard and Restricted keys may not read /Accounts.
				return reply{status: http.StatusForbidden, msg: "Forbidden"}
			}
			return reply{status: 200, body: map[string]any{"sid": tw.AccountSID, "friendly_name": "fake", "status": "active", "type": "Full"}}
		})
	case rest == "/Keys.json" && r.Method == http.MethodPost:
		tw.serve(w, r, "create", func(_ *http.Request, body []byte) reply {
			if !admin {
				return unauth
			}
			form, err := url.ParseQuery(string(body))
			name := form.Get("FriendlyName")
			if err != nil || len(name) > 64 {
				return reply{status: 400, msg: "FriendlyName must be at most 64 characters"}
			}
			k := tw.add("SK"+random(hexdigits, 32), name, Canary+random(alnum, 26), nil)
			return reply{status: 201, body: map[string]any{"sid": k.ID, "friendly_name": k.Name, "secret": k.Secret,
				"date_created": k.Created.Format(time.RFC1123Z), "date_updated": k.Created.Format(time.RFC1123Z)}}
		})
	case rest == "/Keys.json" && r.Method == http.MethodGet:
		tw.serve(w, r, "list", func(r *http.Request, _ []byte) reply {
			if !admin {
				return unauth
			}
			size, _ := strconv.Atoi(r.URL.Query().Get("PageSize"))
			if size <= 0 {
				size = 50
			}
			size = min(size, tw.MaxPageSize)
			page, _ := strconv.Atoi(r.URL.Query().Get("Page"))
			keys := []map[string]any{}
			start := page * size
			for i := start; i < len(tw.keys) && i < start+size; i++ {
				k := tw.keys[i]
				keys = append(keys, map[string]any{"sid": k.ID, "friendly_name": k.Name,
					"date_created": k.Created.Format(time.RFC1123Z), "date_updated": k.Created.Format(time.RFC1123Z)})
			}
			var next any
			if start+size < len(tw.keys) {
				next = fmt.Sprintf("%s/Keys.json?PageSize=%d&Page=%d", prefix, size, page+1)
			}
			return reply{status: 200, body: map[string]any{"keys": keys, "next_page_uri": next, "page": page, "page_size": size,
				"uri": r.URL.RequestURI(), "first_page_uri": fmt.Sprintf("%s/Keys.json?PageSize=%d&Page=0", prefix, size)}}
		})
	case strings.HasPrefix(rest, "/Keys/") && strings.HasSuffix(rest, ".json") && r.Method == http.MethodGet:
		sid := strings.TrimSuffix(strings.TrimPrefix(rest, "/Keys/"), ".json")
		tw.serve(w, r, "get", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			k := tw.byID(sid)
			if k == nil {
				return notFound
			}
			return reply{status: 200, body: map[string]any{"sid": k.ID, "friendly_name": k.Name,
				"date_created": k.Created.Format(time.RFC1123Z), "date_updated": k.Created.Format(time.RFC1123Z)}}
		})
	case strings.HasPrefix(rest, "/Keys/") && strings.HasSuffix(rest, ".json") && r.Method == http.MethodDelete:
		sid := strings.TrimSuffix(strings.TrimPrefix(rest, "/Keys/"), ".json")
		tw.serve(w, r, "delete", func(*http.Request, []byte) reply {
			if !admin {
				return unauth
			}
			if !tw.remove(sid) {
				return notFound
			}
			return reply{status: 204}
		})
	default:
		tw.serve(w, r, "unknown", func(*http.Request, []byte) reply { return notFound })
	}
}
