package saas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// The contract suite: every provider of the providers table runs through the
// real engine (rotationtest: the engine and the Secrets Manager emulator)
// with a contractChecker on its adapter's HTTP transport, so every request an
// adapter sends and every answer a fake gives is validated against the
// providers' documents in testdata/openapi. The negative controls prove the
// checker fails on a wrong answer and on a wrong request.

type wrapper = func(http.RoundTripper) http.RoundTripper

// contractEnv is one provider fake behind the engine (engine_test.go's
// engineEnv, set up as every engine test sets it up), its adapter's traffic
// checked.
type contractEnv struct {
	*engineEnv
	a     saas.Adapter
	check *contractChecker
}

func newContractEnv(t *testing.T, p provider, outer, inner []wrapper) *contractEnv {
	t.Helper()
	c := &contractEnv{check: loadContracts(t)}
	q := p
	q.setup = func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
		f, a, cur, admin := p.setup(t, cfg)
		installChecker(t, a, f, c.check, outer, inner)
		c.a = a
		return f, a, cur, admin
	}
	c.engineEnv = newEngineEnv(t, q, rotationtest.Options{Server: localaws.Options{RotationRetries: 2}})
	return c
}

// contractProviders is every provider of the generic tests (harness_test.go):
// a provider added there is checked here too.
func contractProviders() []provider {
	return slices.Clone(providers)
}

// TestContractRotations: rotations, retries, faults, a refused key and a
// revocation of a key already gone, with every exchange valid by the
// providers' documents.
func TestContractRotations(t *testing.T) {
	for _, p := range contractProviders() {
		t.Run(p.name, func(t *testing.T) {
			e := newContractEnv(t, p, nil, nil)
			spec := e.a.Spec()
			first, _ := e.Value(t, e.arn, "AWSCURRENT").Get(spec.IDKey)
			for i := range 3 {
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
			}

			// A rate limit and a server error, retried by the client.
			e.f.Inject(fakes.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
			e.f.Inject(fakes.Fault{Status: http.StatusInternalServerError, Skip: 1})
			if err := e.Rotate(t, e.arn); err != nil {
				t.Fatalf("rotation with a 429 and a 500: %v", err)
			}
			e.f.Clear()

			// The key could not be stored: the engine discards it, and
			// Secrets Manager's retry completes the rotation.
			e.AWS.InjectFault(localaws.Fault{Operation: "PutSecretValue", Kind: localaws.InternalError, Count: 3})
			if err := e.Rotate(t, e.arn); err != nil {
				t.Fatalf("rotation with a failing PutSecretValue: %v", err)
			}
			e.AWS.ClearFaults()

			cur := e.Value(t, e.arn, "AWSCURRENT")
			id, _ := cur.Get(spec.IDKey)
			err := e.a.Verify(t.Context(), saas.VerifyKeyRequest{Secret: cur, Key: saas.Key{ID: id, Secret: "not-the-secret-0123456789abcdef"}})
			if !errors.Is(err, saas.ErrUnauthorized) {
				t.Errorf("Verify with a wrong secret = %v, want ErrUnauthorized", err)
			}
			admin := e.Value(t, cur.MasterARN, "AWSCURRENT")
			if err := e.a.Revoke(t.Context(), saas.RevokeKeyRequest{Secret: cur, Admin: admin, KeyID: first}); err != nil {
				t.Errorf("Revoke of a key already gone: %v", err)
			}

			e.check.assertClean(t)
			t.Logf("operations seen: %s", strings.Join(e.check.Operations(), "; "))
		})
	}
}

// TestContractNegativeControls: the checker is not blind. A fake answering
// what the documents do not allow, and an adapter sending what they do not
// accept, each make it report a violation.
func TestContractNegativeControls(t *testing.T) {
	cases := []struct {
		name  string
		outer []wrapper // between the adapter and the checker: wrong requests
		inner []wrapper // between the checker and the fake: wrong answers
		fault *fakes.Fault
		want  string // start of the violation expected
		why   string // what it must say (case-insensitive), so no other violation stands in for it
	}{
		{name: "fake answers an undocumented status", fault: &fakes.Fault{Status: http.StatusTeapot}, want: "response to", why: "HTTP 418): status is not supported"},
		{name: "fake answers a body of the wrong shape", inner: []wrapper{corruptSuccess}, want: "response to", why: "doesn't match schema"},
		{name: "fake answers 200 where 201 is documented", inner: []wrapper{createdIsOK}, want: "response to", why: "status is not supported"},
		{name: "adapter sends no credentials", outer: []wrapper{dropAuth}, want: "request", why: "security requirements failed"},
		{name: "adapter sends an undocumented field", outer: []wrapper{extraField}, want: "request", why: "rotaryUndocumented"},
		{name: "adapter calls an undocumented path", outer: []wrapper{otherPath}, want: "request", why: "no contract document has this path"},
	}
	for _, p := range contractProviders() {
		for _, tc := range cases {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				e := newContractEnv(t, p, tc.outer, tc.inner)
				if tc.fault != nil {
					e.f.Inject(*tc.fault)
				}
				_ = e.Rotate(t, e.arn) // may fail: the exchange is wrong on purpose
				got := e.check.Violations()
				for _, v := range got {
					if strings.HasPrefix(v, tc.want) && strings.Contains(strings.ToLower(v), strings.ToLower(tc.why)) {
						t.Logf("seen: %.300s", v)
						return
					}
				}
				t.Errorf("the checker reported no %q violation saying %q (got %d: %q)", tc.want, tc.why, len(got), got)
			})
		}
	}
}

// TestContractDocuments: every document loads, validates and names its
// source in SOURCES.md.
func TestContractDocuments(t *testing.T) {
	c := loadContracts(t)
	b, err := os.ReadFile(contractDir + "/SOURCES.md")
	if err != nil {
		t.Fatal(err)
	}
	sources := string(b)
	for _, d := range c.docs {
		if !strings.Contains(sources, d.file) {
			t.Errorf("SOURCES.md does not name %s", d.file)
		}
		if d.doc.Paths.Len() == 0 {
			t.Errorf("%s documents no operation", d.file)
		}
	}
}

// corruptSuccess gives every 2xx JSON answer the wrong shape.
func corruptSuccess(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil || resp.StatusCode/100 != 2 {
			return resp, err
		}
		b := corruptJSON(readBody(resp.Body))
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		return resp, nil
	})
}

// createdIsOK answers 200 instead of 201, and 201 instead of 200.
func createdIsOK(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
		case http.StatusOK:
			resp.StatusCode, resp.Status = http.StatusCreated, "201 Created"
		}
		return resp, nil
	})
}

// dropAuth sends every request without its Authorization header.
func dropAuth(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.Header.Del("Authorization")
		return next.RoundTrip(r)
	})
}

// extraField adds a field no document defines to every JSON object or form
// body.
func extraField(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		body := readBody(req.Body)
		r := req.Clone(req.Context())
		switch ct := req.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "application/json"):
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				m["rotaryUndocumented"] = true
				body, _ = json.Marshal(m)
			}
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			form, _ := url.ParseQuery(string(body))
			form.Set("RotaryUndocumented", "1")
			body = []byte(form.Encode())
		}
		setBody(r, body)
		return next.RoundTrip(r)
	})
}

// otherPath sends every request to a path no document has.
func otherPath(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		body := readBody(req.Body)
		r := req.Clone(req.Context())
		u := *req.URL
		u.Path, u.RawPath = "/undocumented"+u.Path, ""
		r.URL = &u
		setBody(r, body)
		return next.RoundTrip(r)
	})
}
