package saas

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/rotary-secrets/rotary/shared/ascii"
	"net/http"
)

// userAgent identifies Rotary to providers.
const userAgent = "rotary-saas/1"

// idPattern is what a provider ID from a secret must look like before it goes
// into a URL path.
func validID(id string) bool { return ascii.Chars(id, 1, 128, "_.-") }

// checkID rejects IDs that could change a URL's path.
func checkID(key, id string) error {
	if !validID(id) || id == "." || id == ".." {
		return fmt.Errorf("key %q must be a provider ID of letters, digits, '_', '-' and '.'", key)
	}
	return nil
}

// call sends one JSON or form request through the shared client.
func call(ctx context.Context, c *Client, op, method, url string, auth http.Header, body []byte, contentType string, secrets []string) (*Response, error) {
	h := http.Header{}
	for k, vs := range auth {
		h[k] = vs
	}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", userAgent)
	if body != nil {
		h.Set("Content-Type", contentType)
	}
	return c.Do(ctx, Request{Op: op, Method: method, URL: url, Header: h, Body: body, Secrets: secrets})
}

// decode unmarshals a 2xx body. Its error never quotes the body, which may
// hold a key.
func decode(op string, resp *Response, dst any) error {
	if err := json.Unmarshal(resp.Body, dst); err != nil {
		return fmt.Errorf("%s: the provider's answer (HTTP %d) is not the documented JSON", op, resp.Status)
	}
	return nil
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v) // maps and structs of strings always marshal
	return b
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func basic(user, pass string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth(user, pass)
	return http.Header{"Authorization": r.Header["Authorization"]}
}
