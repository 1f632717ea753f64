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

// twilioFake is the part of Twilio's v2010 Keys API the twilio adapter uses
// (create, list, delete keys; Balance.json to verify a key), for one account
// whose admin credential is its Auth Token. It only serves the SaaS scenario,
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
	prefix := "/2010-04-01/Accounts/" + f.accountSID + "/"
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		http.Error(w, `{"code":20404}`, http.StatusNotFound)
		return
	}
	user, pass, _ := r.BasicAuth()
	f.mu.Lock()
	defer f.mu.Unlock()
	admin := user == f.accountSID && pass == f.authToken
	w.Header().Set("Content-Type", "application/json")
	switch {
	case path == "Balance.json" && r.Method == http.MethodGet:
		if k, ok := f.keys[user]; !ok || k.Secret != pass {
			http.Error(w, `{"code":20003}`, http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"balance":"1.00","currency":"USD"}`))
	case !admin:
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
