package iam

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// twilioFake is the part of Twilio's APIs the twilio adapter uses (v2010
// Keys: create, list, read, delete; iam v1 Keys: a key's type; the account
// resource or Balance.json to verify a key), for one account whose admin
// credential is its Auth Token. It only serves the SaaS scenario,
// whose requests to AWS are what test/iam judges.
type twilioFake struct {
	srv        *httptest.Server
	accountSID string
	authToken  string

	mu   sync.Mutex
	keys map[string]twilioKey // SID -> key
}

type twilioKey struct {
	SID          string `json:"sid"`
	FriendlyName string `json:"friendly_name"`
	Secret       string `json:"secret,omitempty"`
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newTwilioFake(t *testing.T) *twilioFake {
	f := &twilioFake{accountSID: "AC" + randHex(16), authToken: randHex(16), keys: map[string]twilioKey{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// addKey creates a key as if made in Twilio's console and returns it.
func (f *twilioFake) addKey(name string) twilioKey {
	k := twilioKey{SID: "SK" + randHex(16), FriendlyName: name, Secret: randHex(16)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[k.SID] = k
	return k
}

func (f *twilioFake) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	f.mu.Lock()
	defer f.mu.Unlock()
	admin := user == f.accountSID && pass == f.authToken
	k, keyOK := f.keys[user]
	keyOK = keyOK && k.Secret == pass
	w.Header().Set("Content-Type", "application/json")
	// The iam v1 Keys API: a key's type (Standard keys have no policy).
	if sid, ok := strings.CutPrefix(r.URL.Path, "/v1/Keys/"); ok && r.Method == http.MethodGet && admin {
		k, ok := f.keys[sid]
		if !ok {
			http.Error(w, `{"code":20404}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": k.SID, "friendly_name": k.FriendlyName, "policy": nil})
		return
	}
	acct := "/2010-04-01/Accounts/" + f.accountSID
	if r.URL.Path == acct+".json" && r.Method == http.MethodGet { // authenticate a key
		if !keyOK && !admin {
			http.Error(w, `{"code":20003}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": f.accountSID, "status": "active"})
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, acct+"/")
	if !ok {
		http.Error(w, `{"code":20404}`, http.StatusNotFound)
		return
	}
	switch {
	case path == "Balance.json" && r.Method == http.MethodGet:
		if !keyOK {
			http.Error(w, `{"code":20003}`, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"balance":"1.00","currency":"USD"}`))
	case !admin: // Standard keys may not manage keys
		http.Error(w, `{"code":20003}`, http.StatusUnauthorized)
	case path == "Keys.json" && r.Method == http.MethodPost:
		_ = r.ParseForm()
		k := twilioKey{SID: "SK" + randHex(16), FriendlyName: r.PostForm.Get("FriendlyName"), Secret: randHex(16)}
		f.keys[k.SID] = k
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(k)
	case path == "Keys.json" && r.Method == http.MethodGet:
		var list []twilioKey
		for _, k := range f.keys {
			list = append(list, twilioKey{SID: k.SID, FriendlyName: k.FriendlyName})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": list, "next_page_uri": nil})
	case strings.HasPrefix(path, "Keys/") && strings.HasSuffix(path, ".json") && r.Method == http.MethodGet:
		k, ok := f.keys[strings.TrimSuffix(strings.TrimPrefix(path, "Keys/"), ".json")]
		if !ok {
			http.Error(w, `{"code":20404}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(twilioKey{SID: k.SID, FriendlyName: k.FriendlyName})
	case strings.HasPrefix(path, "Keys/") && strings.HasSuffix(path, ".json") && r.Method == http.MethodDelete:
		sid := strings.TrimSuffix(strings.TrimPrefix(path, "Keys/"), ".json")
		if _, ok := f.keys[sid]; !ok {
			http.Error(w, `{"code":20404}`, http.StatusNotFound)
			return
		}
		delete(f.keys, sid)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, `{"code":20404}`, http.StatusNotFound)
	}
}
