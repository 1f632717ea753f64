package saas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
)

// Contract tests: every request an adapter sends and every response a fake
// returns is validated against the providers' published OpenAPI documents
// (trimmed, pinned copies in testdata/openapi; see its README). A fake that
// answers what the spec does not allow, or an adapter that sends what it does
// not accept, fails the test.

// specFiles lists the documents each provider's traffic is checked against,
// by URL path prefix.
var specFiles = map[string]map[string]string{
	"sendgrid": {"/v3/api_keys": "sendgrid_api_keys.json", "/v3/scopes": "sendgrid_scopes.json"},
	"twilio":   {"/2010-04-01/": "twilio_api_v2010.json", "/v1/Keys": "twilio_iam_v1.json"},
	"okta":     {"/api/v1/apps/": "okta_management.json", "/oauth2/v1/": "okta_oauth.json"},
	// Generated from Graph's published CSDL (see testdata/openapi/README.md).
	"entra-app-secret": {"/v1.0/applications/": "msgraph_applications.json"},
}

// specUnchecked lists, per provider, path suffixes no published OpenAPI
// document describes, which the validator lets through unchecked: the
// Microsoft identity platform's token endpoint.
var specUnchecked = map[string][]string{"entra-app-secret": {"/oauth2/v2.0/token"}}

// validator is an http.RoundTripper that validates each exchange against the
// provider's documents and records every violation.
type validator struct {
	base      http.RoundTripper
	unchecked []string                  // path suffixes let through unchecked
	routers   map[string]routers.Router // by path prefix
	// mutate, when set, changes a response body before validation (tests of
	// the validator itself).
	mutate func(path string, body []byte) []byte

	mu         sync.Mutex
	violations []string
	checked    int
}

var specCache sync.Map // file name -> *openapi3.T (loaded once per test binary)

func init() {
	// The providers' form bodies hold only strings (Twilio's Policy is a JSON
	// document in a string, as its documentation's examples send it), and
	// kin-openapi's form decoder turns a property without a type into null:
	// decode each field as the string it is.
	openapi3filter.RegisterBodyDecoder("application/x-www-form-urlencoded",
		func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			data, err := io.ReadAll(body)
			if err != nil {
				return nil, err
			}
			values, err := url.ParseQuery(string(data))
			if err != nil {
				return nil, err
			}
			out := map[string]any{}
			for k, vs := range values {
				out[k] = vs[0]
			}
			return out, nil
		})
}

func loadSpec(t testing.TB, name string) *openapi3.T {
	t.Helper()
	if d, ok := specCache.Load(name); ok {
		return d.(*openapi3.T)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "openapi", name))
	if err != nil {
		t.Fatal(err)
	}
	data = nullable31(t, data)
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", name, err)
	}
	// Twilio's documents name their host per path: the fake stands in for
	// it through the document's servers, so drop the per-path ones.
	for _, item := range doc.Paths.Map() {
		item.Servers = nil
		for _, op := range item.Operations() {
			op.Servers = nil
		}
	}
	specCache.Store(name, doc)
	return doc
}

// nullable31 rewrites, in an OpenAPI 3.1 document, the 3.0 keyword
// "nullable": true (which 3.1 ignores) as a "null" type. SendGrid's published
// 3.1 documents use it for fields the API does send as null (an error's
// "field"), so their intent is plain.
func nullable31(t testing.TB, data []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		return data
	}
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			if n["nullable"] == true {
				if typ, ok := n["type"].(string); ok {
					n["type"] = []any{typ, "null"}
				}
				delete(n, "nullable")
			}
			for _, v := range n {
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newValidator wraps base for a provider whose fake listens at serverURL.
func newValidator(t testing.TB, provider, serverURL string, base http.RoundTripper) *validator {
	t.Helper()
	v := &validator{base: base, routers: map[string]routers.Router{}, unchecked: specUnchecked[provider]}
	for prefix, file := range specFiles[provider] {
		doc := *loadSpec(t, file) // a shallow copy: only Servers changes
		doc.Servers = openapi3.Servers{{URL: serverURL}}
		r, err := gorillamux.NewRouter(&doc)
		if err != nil {
			t.Fatalf("router for %s: %v", file, err)
		}
		v.routers[prefix] = r
	}
	return v
}

func (v *validator) violation(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, fmt.Sprintf(format, args...))
}

// RoundTrip implements http.RoundTripper.
func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	for _, suffix := range v.unchecked {
		if strings.HasSuffix(req.URL.Path, suffix) {
			return v.base.RoundTrip(req)
		}
	}
	var router routers.Router
	for prefix, r := range v.routers {
		if strings.HasPrefix(req.URL.Path, prefix) {
			router = r
		}
	}
	var in *openapi3filter.RequestValidationInput
	if router == nil {
		v.violation("%s %s: no document describes this path", req.Method, req.URL.Path)
	} else if route, params, err := router.FindRoute(req); err != nil {
		v.violation("%s %s: not in the spec: %v", req.Method, req.URL.Path, err)
	} else {
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(body))
		in = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			v.violation("request %s %s: %v", req.Method, req.URL.Path, err)
		}
	}
	resp, err := v.base.RoundTrip(req)
	if err != nil || in == nil {
		return resp, err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if v.mutate != nil {
		data = v.mutate(req.URL.Path, data)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	ok2xx := resp.StatusCode >= 200 && resp.StatusCode < 300
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(data)),
		// A status the document does not define is a violation for a
		// success; error statuses injected by fault tests are not all
		// documented, so only their bodies are checked when they are.
		Options: &openapi3filter.Options{IncludeResponseStatus: ok2xx}}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.violation("response %d to %s %s: %v", resp.StatusCode, req.Method, req.URL.Path, err)
	}
	v.mu.Lock()
	v.checked++
	v.mu.Unlock()
	return resp, nil
}

// validated returns a provider set up with its client going through a
// validator, which fails the test at the end if anything violated the spec.
func validated(t *testing.T, p provider, cfg saas.Config) (fake, saas.Adapter, *validator, *store) {
	t.Helper()
	var v *validator
	wrap := func(f fake, c *http.Client) *http.Client {
		v = newValidator(t, p.name, f.URL(), c.Transport)
		return &http.Client{Transport: v, CheckRedirect: c.CheckRedirect}
	}
	f, a, cur, admin := p.setup(t, cfg)
	// Rebuild the adapter with the validating client.
	hc := wrap(f, f.Client())
	cfg.HTTPClient = hc
	cfg.BaseURLs = map[string]string{p.name: f.URL()}
	switch p.name {
	case "sendgrid":
		a = &saas.SendGrid{Config: cfg, Client: cfg.Client()}
	case "twilio":
		a = &saas.Twilio{Config: cfg, Client: cfg.Client()}
	case "okta":
		a = &saas.Okta{Config: cfg, Client: cfg.Client()}
	case "entra-app-secret":
		cfg.BaseURLs = map[string]string{"entra-login": f.URL(), "entra-graph": f.URL()}
		a = &saas.Entra{Config: cfg, Client: cfg.Client()}
	}
	t.Cleanup(func() {
		if v.checked == 0 {
			t.Error("the validator saw no exchange; the test proves nothing")
		}
		for _, msg := range v.violations {
			t.Errorf("contract violation: %s", msg)
		}
	})
	return f, a, v, newStore(t, saas.NewRotator(a), cur, admin)
}

// TestContract runs rotations, including their failure paths, through the
// validator for every provider with a pinned document.
func TestContract(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, _, _, s := validated(t, p, testConfig(nil))
			s.rotate()
			s.rotate()
			s.rotate()
			// A revoked pending key (testSecret's 401) and a lost create.
			tok := s.token()
			if _, err := s.create(tok, true); err != nil {
				t.Fatal(err)
			}
			if _, err := s.create(tok, false); err != nil {
				t.Fatal(err)
			}
			_ = s.set(tok)
			_ = s.test(tok)
			_ = s.finish(tok)
			checkCurrent(t, s, f, p)
		})
	}
	t.Run("twilio restricted key", func(t *testing.T) {
		f, _, _, s := validated(t, providers[1], testConfig(nil))
		tw := f.(*fakes.Twilio)
		k := tw.SeedRestricted(seedName(t), `{"allow":["/twilio/messaging/messages/read"]}`)
		v := s.versions[s.current].Clone()
		v.Set("apiKeyId", k.ID)
		v.Set("apiKeySecret", k.Secret)
		s.versions[s.current] = v
		s.rotate()
		s.rotate()
	})
	t.Run("okta oauth admin", func(t *testing.T) {
		f, _, _, s := validated(t, providers[2], testConfig(nil))
		id, key := f.(*fakes.Okta).ServiceApp(false, "okta.apps.read", "okta.apps.manage")
		s.admin = obj(t, map[string]string{saas.OktaAdminClientID: id, saas.OktaAdminPrivateKey: key})
		s.rotate()
		s.rotate()
	})
}

// TestContractCatchesWrongFake: a fake answer the spec does not allow is
// reported.
func TestContractCatchesWrongFake(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, _, cur, admin := p.setup(t, testConfig(nil))
			v := newValidator(t, p.name, f.URL(), f.Client().Transport)
			// Every JSON string value of the answer becomes a number.
			v.mutate = func(_ string, body []byte) []byte {
				return bytes.ReplaceAll(body, []byte(`":"`), []byte(`":12345,"x":"`))
			}
			cfg := testConfig(nil)
			cfg.HTTPClient, cfg.BaseURLs = &http.Client{Transport: v}, map[string]string{p.name: f.URL()}
			var ad saas.Adapter
			switch p.name {
			case "sendgrid":
				ad = &saas.SendGrid{Config: cfg, Client: cfg.Client()}
			case "twilio":
				ad = &saas.Twilio{Config: cfg, Client: cfg.Client()}
			case "okta":
				ad = &saas.Okta{Config: cfg, Client: cfg.Client()}
			case "entra-app-secret":
				cfg.BaseURLs = map[string]string{"entra-login": f.URL(), "entra-graph": f.URL()}
				ad = &saas.Entra{Config: cfg, Client: cfg.Client()}
			}
			s := newStore(t, saas.NewRotator(ad), cur, admin)
			_, _ = s.create(s.token(), false)
			if len(v.violations) == 0 {
				t.Fatal("a response with numbers for strings passed the contract")
			}
		})
	}
}

// TestContractCatchesWrongRequest: a request the spec does not accept is
// reported.
func TestContractCatchesWrongRequest(t *testing.T) {
	cases := map[string]struct{ method, path, body, ctype string }{
		"sendgrid":         {http.MethodPost, "/v3/api_keys", `{"scopes":"mail.send"}`, "application/json"},
		"twilio":           {http.MethodPost, "/v1/Keys", "FriendlyName=x", "application/x-www-form-urlencoded"},
		"okta":             {http.MethodPost, "/api/v1/apps/0oa1/credentials/secrets", `{"status":"SLEEPING"}`, "application/json"},
		"entra-app-secret": {http.MethodPost, "/v1.0/applications/x/removePassword", `{"keyId":"not-a-guid"}`, "application/json"},
	}
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, _, _, _ := p.setup(t, testConfig(nil))
			v := newValidator(t, p.name, f.URL(), f.Client().Transport)
			c := cases[p.name]
			req, _ := http.NewRequestWithContext(t.Context(), c.method, f.URL()+c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ctype)
			if resp, err := v.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
			if len(v.violations) == 0 {
				t.Fatalf("the malformed request %s %s %s passed the contract", c.method, c.path, c.body)
			}
		})
	}
}
