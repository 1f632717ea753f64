package fakes

import (
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Canary starts every secret a fake mints or seeds.
const Canary = "CANARY"

// Fault makes a fake answer a matching request with an error.
type Fault struct {
	Method     string // "" matches every method
	Path       string // substring of the URL path; "" matches every path
	Status     int    // the status to answer
	RetryAfter string // Retry-After header value, if any
	Times      int    // how many matching requests fail; 0 means 1
	Skip       int    // how many matching requests pass untouched first
	// Applied makes the fake carry out the request first and then answer
	// Status, as when a provider's answer is lost after it acted.
	Applied bool
	// Stall makes the fake carry out the request and then never answer,
	// until the client gives up (a provider that hangs after acting).
	Stall bool
}

// Key is a key the fake holds.
type Key struct {
	Owner   string // SendGrid subuser ("" for the parent account)
	ID      string
	Name    string
	Secret  string
	Scopes  []string
	Policy  string // Twilio Restricted keys: the policy JSON
	Active  bool
	Created time.Time
}

// core is what every fake shares.
type core struct {
	t       testing.TB
	mu      sync.Mutex
	srv     *httptest.Server
	keys    []*Key // in creation order
	faults  []Fault
	calls   map[string]int
	echo    bool
	errBody func(path string, status int, msg string) any // the error body for a status at a path
	clock   time.Time
}

func newCore(t testing.TB, h http.Handler, errBody func(path string, status int, msg string) any) *core {
	t.Helper()
	c := &core{t: t, calls: map[string]int{}, errBody: errBody, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.srv = httptest.NewTLSServer(h)
	t.Cleanup(c.srv.Close)
	return c
}

// URL is the fake's base URL (https on 127.0.0.1).
func (c *core) URL() string { return c.srv.URL }

// CertPEM is the fake's self-signed certificate as PEM, for a process that
// must trust it (SSL_CERT_FILE).
func (c *core) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw})
}

// Client returns an HTTP client that trusts the fake's certificate.
func (c *core) Client() *http.Client { return c.srv.Client() }

// Inject queues a fault.
func (c *core) Inject(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	c.faults = append(c.faults, f)
}

// Clear drops every queued fault.
func (c *core) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// EchoRequests makes every error body quote the request's Authorization header
// and body, like providers that echo what they were sent.
func (c *core) EchoRequests(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.echo = on
}

// Calls returns how many requests of an operation (e.g. "create", "delete",
// "list", "verify") reached the fake, faults included.
func (c *core) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Live returns copies of the keys that exist and are active.
func (c *core) Live() []Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Key
	for _, k := range c.keys {
		if k.Active {
			out = append(out, *k)
		}
	}
	return out
}

// All returns copies of every key that exists, active or not.
func (c *core) All() []Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Key
	for _, k := range c.keys {
		out = append(out, *k)
	}
	return out
}

// Rename changes the name of the key with this ID (as a person could in the
// provider's console).
func (c *core) Rename(id, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.byID(id); k != nil {
		k.Name = name
	}
}

// Works reports whether secret belongs to an existing active key.
func (c *core) Works(secret string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active(secret) != nil
}

func (c *core) active(secret string) *Key {
	for _, k := range c.keys {
		if k.Active && k.Secret == secret && secret != "" {
			return k
		}
	}
	return nil
}

func (c *core) byID(id string) *Key {
	for _, k := range c.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func (c *core) remove(id string) bool {
	n := len(c.keys)
	c.keys = slices.DeleteFunc(c.keys, func(k *Key) bool { return k.ID == id })
	return len(c.keys) != n
}

// add stores a new key; the caller holds mu.
func (c *core) add(id, name, secret string, scopes []string) *Key {
	c.clock = c.clock.Add(time.Minute)
	k := &Key{ID: id, Name: name, Secret: secret, Scopes: slices.Clone(scopes), Active: true, Created: c.clock}
	c.keys = append(c.keys, k)
	return k
}

// take returns the fault for a request, if one matches.
func (c *core) take(r *http.Request) (Fault, bool) {
	for i, f := range c.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.Contains(r.URL.Path, f.Path) {
			if f.Skip > 0 {
				c.faults[i].Skip--
				return Fault{}, false
			}
			c.faults[i].Times--
			if c.faults[i].Times <= 0 {
				c.faults = slices.Delete(c.faults, i, i+1)
			}
			return f, true
		}
	}
	return Fault{}, false
}

// reply is one answer from a route.
type reply struct {
	status int
	body   any // JSON-encoded unless nil
	msg    string
}

// route handles one request under mu; op names it for Calls.
type route func(r *http.Request, body []byte) reply

// serve runs a route with faults, counting and echoing.
func (c *core) serve(w http.ResponseWriter, r *http.Request, op string, h route) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.calls[op]++
	f, faulted := c.take(r)
	var rep reply
	if !faulted || f.Applied || f.Stall {
		rep = h(r, body)
	}
	if faulted && f.Stall {
		c.mu.Unlock()
		<-r.Context().Done()
		return
	}
	if faulted {
		rep = reply{status: f.Status, msg: http.StatusText(f.Status)}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
	}
	echo := c.echo
	c.mu.Unlock()
	if rep.status >= 400 && rep.body == nil {
		msg := rep.msg
		if echo {
			msg += fmt.Sprintf(" (request had Authorization %q and body %q)", r.Header.Get("Authorization"), body)
		}
		rep.body = c.errBody(r.URL.Path, rep.status, msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	if rep.body != nil {
		_ = json.NewEncoder(w).Encode(rep.body)
	}
}

// oauthError is an OAuth 2.0 token endpoint error body (RFC 6749 section
// 5.2): what authorization servers answer at their token and introspection
// endpoints, injected faults included, instead of their APIs' error bodies.
func oauthError(status int, msg string) map[string]any {
	code := map[int]string{400: "invalid_request", 401: "invalid_client", 403: "access_denied", 429: "temporarily_unavailable"}[status]
	if code == "" {
		code = "server_error"
		if status == http.StatusServiceUnavailable {
			code = "temporarily_unavailable"
		}
	}
	return map[string]any{"error": code, "error_description": msg}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
const hexdigits = "0123456789abcdef"

func random(set string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = set[int(b[i])%len(set)]
	}
	return string(b)
}
