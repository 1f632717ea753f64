package saas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/rotary-secrets/rotary/rotators/saas"
)

// The contract checker: every request an adapter sends and every answer a
// fake gives, in every test of this package that uses a provider fake
// (checked) and in the contract suite (contract_suite_test.go), is validated
// with kin-openapi against the hand-written subsets of the providers'
// published OpenAPI documents in testdata/openapi (see its SOURCES.md). A
// fake that answers what a document does not allow, or an adapter that sends
// what it does not accept, fails the test.

// contractDir holds the trimmed, hand-written OpenAPI documents of the
// providers (see its SOURCES.md). Every *.yaml file there is loaded, so a new
// provider's document joins the contract suite by being added.
const contractDir = "testdata/openapi"

// rfc2822 is the layout of Twilio's date-time-rfc-2822 format.
var rfc2822 = regexp.MustCompile(`^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$`)

// contractDoc is one loaded document and its router.
type contractDoc struct {
	file   string
	doc    *openapi3.T
	router routers.Router
}

// contractChecker validates every request sent through its transport and
// every response received against the provider documents, and records each
// violation. It never changes a request or a response.
type contractChecker struct {
	docs []contractDoc

	mu         sync.Mutex
	violations []string
	ops        map[string]int // "file operationId status" → count
	requests   int
}

// contractDocs loads and validates every document in contractDir, once per
// test binary: the documents and their routers are only read afterwards.
var contractDocs = sync.OnceValues(func() ([]contractDoc, error) {
	openapi3.DefineStringFormatValidator("date-time-rfc-2822", openapi3.NewCallbackValidator(func(s string) error {
		if !rfc2822.MatchString(s) {
			return fmt.Errorf("%q is not an RFC 2822 date", s)
		}
		return nil
	}))
	files, err := filepath.Glob(filepath.Join(contractDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no contract documents in %s (%v)", contractDir, err)
	}
	var docs []contractDoc
	for _, f := range files {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(f)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", f, err)
		}
		if err := doc.Validate(loader.Context); err != nil {
			return nil, fmt.Errorf("%s is not a valid OpenAPI document: %w", f, err)
		}
		// Route on paths only: the fakes listen on 127.0.0.1, not on the
		// providers' hosts.
		doc.Servers = nil
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", f, err)
		}
		docs = append(docs, contractDoc{file: filepath.Base(f), doc: doc, router: r})
	}
	return docs, nil
})

// loadContracts returns a checker with no violations over every document in
// contractDir.
func loadContracts(t testing.TB) *contractChecker {
	t.Helper()
	docs, err := contractDocs()
	if err != nil {
		t.Fatal(err)
	}
	return &contractChecker{docs: docs, ops: map[string]int{}}
}

// checked returns the fake's client with every exchange going through a
// contract checker; a violation fails the test at its end. Every provider
// fake of this package's tests is reached through it.
func checked(t testing.TB, f fake) *http.Client {
	t.Helper()
	c := loadContracts(t)
	hc := f.Client()
	t.Cleanup(func() {
		for _, v := range c.Violations() {
			t.Errorf("contract violation: %s", v)
		}
	})
	return &http.Client{Transport: c.Wrap(hc.Transport), CheckRedirect: hc.CheckRedirect, Timeout: hc.Timeout}
}

// documentedStatus reports whether the contract documents allow status as an
// answer to method on path (by its code, its NXX range or a default). Tests
// inject only statuses a provider documents at the place they inject them.
func documentedStatus(t testing.TB, method, path string, status int) bool {
	t.Helper()
	req, err := http.NewRequest(method, "https://provider.example"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, route, _, err := loadContracts(t).find(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	rs := route.Operation.Responses
	return rs.Status(status) != nil || rs.Value(fmt.Sprintf("%dXX", status/100)) != nil || rs.Default() != nil
}

func (c *contractChecker) violate(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = append(c.violations, fmt.Sprintf(format, args...))
}

// Violations returns what the checker found so far.
func (c *contractChecker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// Operations returns the operations seen, as "file operationId status".
func (c *contractChecker) Operations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.ops {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// assertClean fails t when any request or response broke a contract, or
// when no request reached the checker (the suite would prove nothing).
func (c *contractChecker) assertClean(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	n := c.requests
	c.mu.Unlock()
	if n == 0 {
		t.Fatal("no provider request went through the contract checker: the adapter does not use the fake's HTTP client")
	}
	for _, v := range c.Violations() {
		t.Errorf("contract violation: %s", v)
	}
}

// find returns the documented operation for req.
func (c *contractChecker) find(req *http.Request) (contractDoc, *routers.Route, map[string]string, error) {
	for _, d := range c.docs {
		route, params, err := d.router.FindRoute(req)
		if err == nil {
			return d, route, params, nil
		}
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			return d, nil, nil, fmt.Errorf("%s documents the path but not the method", d.file)
		}
	}
	return contractDoc{}, nil, nil, errors.New("no contract document has this path")
}

// Wrap returns a transport that checks each exchange and passes it to next.
func (c *contractChecker) Wrap(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) { return c.roundTrip(next, req) })
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func readBody(rc io.ReadCloser) []byte {
	if rc == nil || rc == http.NoBody {
		return nil
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

func bodyOf(b []byte) io.ReadCloser {
	if len(b) == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(b))
}

// setBody makes b the body of r, for reading and for GetBody (which
// kin-openapi prefers when set).
func setBody(r *http.Request, b []byte) {
	r.Body, r.ContentLength = bodyOf(b), int64(len(b))
	r.GetBody = func() (io.ReadCloser, error) { return bodyOf(b), nil }
}

func (c *contractChecker) roundTrip(next http.RoundTripper, req *http.Request) (*http.Response, error) {
	body := readBody(req.Body)
	setBody(req, body)
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	what := req.Method + " " + req.URL.Path

	probe := req.Clone(req.Context())
	setBody(probe, body)
	d, route, params, err := c.find(probe)
	if err != nil {
		c.violate("request %s: %v", what, err)
		return next.RoundTrip(req)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus:             true,
		RejectWhenRequestBodyNotSpecified: true,
		MultiError:                        true,
		AuthenticationFunc:                authenticate(body),
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		c.violate("request %s (%s %s): %v", what, d.file, route.Operation.OperationID, err)
	}

	if err := oneClientAuth(route, req, body); err != nil {
		c.violate("request %s (%s %s): %v", what, d.file, route.Operation.OperationID, err)
	}
	if err := closedForm(route, req.Header.Get("Content-Type"), body); err != nil {
		c.violate("request %s (%s %s): %v", what, d.file, route.Operation.OperationID, err)
	}

	resp, err := next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	rbody := readBody(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(rbody))
	c.mu.Lock()
	c.ops[fmt.Sprintf("%s %s %d", d.file, route.Operation.OperationID, resp.StatusCode)]++
	c.mu.Unlock()
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(rbody)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.WithoutCancel(req.Context()), out); err != nil {
		c.violate("response to %s (%s %s, HTTP %d): %v", what, d.file, route.Operation.OperationID, resp.StatusCode, err)
	}
	return resp, nil
}

// closedForm checks a form body against a closed schema: kin-openapi decodes
// only the fields a form schema defines, so it never sees unknown ones.
func closedForm(route *routers.Route, contentType string, body []byte) error {
	rb := route.Operation.RequestBody
	if rb == nil || rb.Value == nil || !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		return nil
	}
	mt := rb.Value.Content.Get("application/x-www-form-urlencoded")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	sch := mt.Schema.Value
	if sch.AdditionalProperties.Has == nil || *sch.AdditionalProperties.Has {
		return nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return fmt.Errorf("form body does not parse: %w", err)
	}
	for k := range form {
		if _, ok := sch.Properties[k]; !ok {
			return fmt.Errorf("form field %q is not defined", k)
		}
	}
	return nil
}

// oneClientAuth refuses client credentials sent both in the Authorization
// header and in the form body where the operation takes them in the body
// (OAuth 2.0: a client must use one authentication method).
func oneClientAuth(route *routers.Route, req *http.Request, body []byte) error {
	security := route.Operation.Security
	if security == nil {
		security = &route.Spec.Security
	}
	inBody := false
	for _, alt := range *security {
		for name := range alt {
			if ss := route.Spec.Components.SecuritySchemes[name]; ss != nil && ss.Value != nil && ss.Value.Scheme == "postBody" {
				inBody = true
			}
		}
	}
	if !inBody || req.Header.Get("Authorization") == "" {
		return nil
	}
	form, _ := url.ParseQuery(string(body))
	if form.Get("client_secret") != "" || form.Get("client_assertion") != "" {
		return errors.New("client credentials sent both in the Authorization header and in the body")
	}
	return nil
}

// authenticate checks a request carries the credential a security scheme
// describes: its form, never its value.
func authenticate(body []byte) openapi3filter.AuthenticationFunc {
	return func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		r := in.RequestValidationInput.Request
		ss := in.SecurityScheme
		auth := r.Header.Get("Authorization")
		switch {
		case ss.Type == "http" && strings.EqualFold(ss.Scheme, "basic"):
			if u, p, ok := r.BasicAuth(); !ok || u == "" || p == "" {
				return errors.New("no HTTP Basic credentials")
			}
		case ss.Type == "http" && strings.EqualFold(ss.Scheme, "bearer"):
			if tok, ok := strings.CutPrefix(auth, "Bearer "); !ok || strings.TrimSpace(tok) == "" {
				return errors.New("no Bearer token")
			}
		case ss.Type == "http" && ss.Scheme == "postBody":
			form, err := url.ParseQuery(string(body))
			if err != nil || auth != "" {
				return errors.New("client credentials must be in the form body only")
			}
			fields, _ := ss.Extensions["x-rotary-body-fields"].([]any)
			if len(fields) == 0 {
				return errors.New("postBody scheme without x-rotary-body-fields")
			}
			for _, f := range fields {
				if form.Get(fmt.Sprint(f)) == "" {
					return fmt.Errorf("form field %v missing", f)
				}
			}
		case ss.Type == "apiKey" && ss.In == "header":
			v := r.Header.Get(ss.Name)
			prefix, _ := ss.Extensions["x-rotary-prefix"].(string)
			if rest, ok := strings.CutPrefix(v, prefix); !ok || strings.TrimSpace(rest) == "" {
				return fmt.Errorf("header %s must be %q and a credential", ss.Name, prefix)
			}
		case ss.Type == "oauth2":
			tok, bearer := strings.CutPrefix(auth, "Bearer ")
			dtok, dpop := strings.CutPrefix(auth, "DPoP ")
			switch {
			case bearer && strings.TrimSpace(tok) != "":
			case dpop && strings.TrimSpace(dtok) != "" && r.Header.Get("DPoP") != "":
			default:
				return errors.New("no OAuth 2.0 access token (Bearer, or DPoP with a DPoP proof)")
			}
		default:
			return fmt.Errorf("security scheme %s (%s) is not supported by the checker", in.SecuritySchemeName, ss.Type)
		}
		return nil
	}
}

// installChecker routes the adapter's HTTP traffic through c, before any
// other wrapper given in outer (outermost first) and after those in inner,
// to the fake's own transport (replacing any checking transport the setup
// installed, so the negative controls here fail nothing else). It finds the
// adapter's *saas.Client in its exported Client field, and falls back to the
// fake's client.
func installChecker(t testing.TB, a saas.Adapter, f fake, c *contractChecker, outer, inner []func(http.RoundTripper) http.RoundTripper) {
	t.Helper()
	base := f.Client().Transport
	hc := f.Client()
	if v := reflect.ValueOf(a); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if fc := v.Elem().FieldByName("Client"); fc.IsValid() {
			if sc, ok := fc.Interface().(*saas.Client); ok && sc != nil && sc.HTTP != nil {
				hc = sc.HTTP
			}
		}
	}
	rt := base
	for _, w := range inner {
		rt = w(rt)
	}
	rt = c.Wrap(rt)
	for i := len(outer) - 1; i >= 0; i-- {
		rt = outer[i](rt)
	}
	hc.Transport = rt
}

// corruptJSON turns a JSON body into one no provider document allows for
// the same operation: an object becomes an array and an array an object.
func corruptJSON(b []byte) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	switch v.(type) {
	case []any:
		out, _ := json.Marshal(map[string]any{"unexpected": v})
		return out
	default:
		out, _ := json.Marshal([]any{v})
		return out
	}
}
