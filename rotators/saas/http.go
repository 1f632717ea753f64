package saas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Conditions callers branch on. An *HTTPError unwraps to one of them when its
// status matches.
var (
	// ErrUnauthorized: the provider did not accept the credential (HTTP 401).
	ErrUnauthorized = errors.New("provider refused the credential")
	// ErrForbidden: the provider accepted the credential but refused the
	// operation (HTTP 403): a missing permission (Okta E0000006, a SendGrid
	// scope) or a quota (SendGrid's 100 keys). Never retried, and never
	// taken for a new key that has not propagated yet.
	ErrForbidden = errors.New("provider refused the operation: missing permission or quota reached")
	// ErrNotFound: the provider has no such resource (HTTP 404).
	ErrNotFound = errors.New("provider has no such resource")
	// ErrRateLimited: the provider kept answering 429, or asked to wait
	// longer than the configured cap.
	ErrRateLimited = errors.New("provider rate limit")
	// ErrUnavailable: the provider kept failing with a 5xx status.
	ErrUnavailable = errors.New("provider unavailable")
)

// minAttempt is the least time left before ctx's deadline worth waiting for
// and starting another attempt with: a retry or a wait that would leave less
// is not started.
const minAttempt = time.Second

// maxBody is the most of a response body the client reads.
const maxBody = 1 << 20

// maxDetail is the most of a scrubbed error body kept in an error message.
const maxDetail = 300

// HTTPError is a provider's non-2xx answer. Its message names the operation,
// the method, the path and the status; Detail is the start of the provider's
// error body with every known secret value replaced.
type HTTPError struct {
	Op     string // what Rotary was doing, e.g. "sendgrid: create key"
	Method string
	Path   string // URL path only, no query, no host
	Status int
	Detail string // scrubbed, shortened provider error body
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s: %s %s: HTTP %d", e.Op, e.Method, e.Path, e.Status)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap maps the status to ErrUnauthorized, ErrForbidden, ErrNotFound,
// ErrRateLimited or ErrUnavailable.
func (e *HTTPError) Unwrap() error {
	switch {
	case e.Status == http.StatusUnauthorized:
		return ErrUnauthorized
	case e.Status == http.StatusForbidden:
		return ErrForbidden
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Status >= 500:
		return ErrUnavailable
	}
	return nil
}

// Request is one call to a provider.
type Request struct {
	Op      string // names the operation in errors, e.g. "twilio: delete key"
	Method  string
	URL     string // never holds a secret
	Header  http.Header
	Body    []byte
	Secrets []string // every secret value the response might echo; scrubbed from errors
}

// Response is a provider's 2xx answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Client sends provider requests with a timeout per attempt, and retries 429
// (honouring Retry-After or the provider's rate-limit reset header) and 5xx
// answers and transport errors with capped exponential backoff, never other
// 4xx answers, for at most MaxAttempts attempts and never past ctx's deadline.
type Client struct {
	HTTP *http.Client // its Timeout bounds each attempt
	// Timeout bounds each attempt too (0: only HTTP.Timeout and ctx), also
	// when HTTP is a client without its own Timeout.
	Timeout     time.Duration
	MaxAttempts int // attempts in all, at least 1
	MaxWait     time.Duration
	// Sleep waits d or until ctx is done. Tests inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used to read reset headers; time.Now when nil.
	Now func() time.Time
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do sends req, retrying as the Client's doc says. It returns a *Response for
// a 2xx answer and an error wrapping an *HTTPError for any other final answer.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	attempts := max(c.MaxAttempts, 1)
	sleep := c.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	path := pathOf(req.URL)
	var last error
	for attempt := 1; ; attempt++ {
		resp, wait, err := c.once(ctx, req, path, attempt)
		if err == nil {
			return resp, nil
		}
		last = err
		if wait < 0 || attempt >= attempts {
			return nil, last
		}
		// Never start a wait, or an attempt after it, that cannot end before
		// ctx's deadline.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+minAttempt {
			return nil, last
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %s %s: gave up waiting to retry: %w (last error: %w)", req.Op, req.Method, path, err, last)
		}
	}
}

// once sends one attempt. wait < 0 means the error is final.
func (c *Client) once(ctx context.Context, req Request, path string, attempt int) (*Response, time.Duration, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	actx := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(actx, req.Method, req.URL, body)
	if err != nil {
		return nil, -1, fmt.Errorf("%s: build request for %s: %w", req.Op, path, err)
	}
	for k, vs := range req.Header {
		hreq.Header[k] = vs
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	hresp, err := hc.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, -1, fmt.Errorf("%s: %s %s: %w", req.Op, req.Method, path, ctx.Err())
		}
		// A *url.Error names the method and URL, which hold no secret.
		return nil, c.backoff(attempt), fmt.Errorf("%s: %s %s: %w: %w", req.Op, req.Method, path, ErrUnavailable, err)
	}
	defer hresp.Body.Close()
	data, readErr := io.ReadAll(io.LimitReader(hresp.Body, maxBody))
	if hresp.StatusCode >= 200 && hresp.StatusCode < 300 {
		if readErr != nil {
			return nil, c.backoff(attempt), fmt.Errorf("%s: %s %s: read response: %w", req.Op, req.Method, path, ErrUnavailable)
		}
		return &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: data}, 0, nil
	}
	herr := &HTTPError{Op: req.Op, Method: req.Method, Path: path, Status: hresp.StatusCode, Detail: detail(data, requestSecrets(req))}
	switch {
	case hresp.StatusCode == http.StatusTooManyRequests:
		wait, ok := c.retryAfter(hresp.Header)
		if !ok {
			return nil, c.backoff(attempt), herr
		}
		if wait > c.maxWait() {
			return nil, -1, fmt.Errorf("%w (the provider asks to wait %s, more than the %s cap)", herr, wait.Round(time.Second), c.maxWait())
		}
		return nil, wait, herr
	case hresp.StatusCode >= 500:
		wait := c.backoff(attempt)
		if ra, ok := c.retryAfter(hresp.Header); ok && ra > wait {
			wait = min(ra, c.maxWait())
		}
		return nil, wait, herr
	}
	return nil, -1, herr
}

func (c *Client) maxWait() time.Duration {
	if c.MaxWait <= 0 {
		return 20 * time.Second
	}
	return c.MaxWait
}

// backoff is 250ms doubled per attempt, capped, with equal jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt-1, 16)
	d = min(d, c.maxWait())
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads Retry-After (seconds or an HTTP date), or the epoch-second
// reset headers SendGrid (X-RateLimit-Reset) and Okta (X-Rate-Limit-Reset) send.
// Absolute times are measured against the response's own Date header, so a
// skewed local clock neither hurries nor stalls the retry; the local clock is
// used only when the answer has no valid Date.
func (c *Client) retryAfter(h http.Header) (time.Duration, bool) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if d, err := http.ParseTime(strings.TrimSpace(h.Get("Date"))); err == nil {
		now = func() time.Time { return d }
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			// Anything past a day is as good as forever; cap before multiplying.
			return time.Duration(min(s, 86400)) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now()), 0), true
		}
	}
	for _, k := range []string{"X-Rate-Limit-Reset", "X-RateLimit-Reset"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			if s, err := strconv.ParseInt(v, 10, 64); err == nil {
				return max(time.Unix(s, 0).Sub(now()), 0), true
			}
		}
	}
	return 0, false
}

func pathOf(raw string) string {
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[j:]
		} else {
			s = "/"
		}
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	return s
}

// detail returns the start of an error body with every secret replaced and
// control characters flattened, so a provider that echoes the request cannot
// leak a credential into an error.
func detail(body []byte, secrets []string) string {
	s := scrub(string(body), secrets)
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	// Flattening could turn an echoed form of a secret into the secret itself.
	s = strings.TrimSpace(scrub(s, secrets))
	if len(s) > maxDetail {
		s = strings.ToValidUTF8(s[:maxDetail], "")
		// Cutting may split a secret that was not known; it was never known, so
		// nothing more can be done here. The engine's decorator scrubs again.
		s += "…"
	}
	return s
}

// requestSecrets is req.Secrets plus the credentials in its Authorization
// header (a Basic header is base64, which no secret list holds).
func requestSecrets(req Request) []string {
	out := slices.Clone(req.Secrets)
	for _, v := range req.Header.Values("Authorization") {
		out = append(out, v)
		if _, cred, ok := strings.Cut(v, " "); ok {
			out = append(out, cred)
		}
	}
	return out
}

// Redacted replaces secret values in text.
const Redacted = "[REDACTED]"

// scrub replaces every secret in s, longest first so a secret containing
// another is replaced whole.
func scrub(s string, secrets []string) string {
	ordered := make([]string, 0, 3*len(secrets))
	for _, sec := range secrets {
		if len(sec) < 4 {
			continue
		}
		// Also the forms a provider echoes: form-encoded and JSON-escaped.
		quoted, _ := json.Marshal(sec)
		for _, form := range []string{sec, url.QueryEscape(sec), strings.Trim(string(quoted), `"`)} {
			if !slices.Contains(ordered, form) {
				ordered = append(ordered, form)
			}
		}
	}
	slices.SortStableFunc(ordered, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range ordered {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}
