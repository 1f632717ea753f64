package saas

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scripted answers each request with the next of its answers (the last one
// repeats).
type answer struct {
	status int
	header map[string]string
	body   string
}

func scripted(t *testing.T, answers ...answer) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		a := answers[min(i, len(answers)-1)]
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestClientRetries(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		answers   []answer
		wantErr   error // nil: success
		wantCalls int32
		wantWaits []time.Duration // exact waits; nil: only count them
		nWaits    int
	}{
		{name: "200 at once", answers: []answer{{status: 200, body: "{}"}}, wantCalls: 1},
		{name: "500 then 200", answers: []answer{{status: 500}, {status: 200}}, wantCalls: 2, nWaits: 1},
		{name: "502 503 then 201", answers: []answer{{status: 502}, {status: 503}, {status: 201}}, wantCalls: 3, nWaits: 2},
		{name: "500 until attempts run out", answers: []answer{{status: 500}}, wantErr: ErrUnavailable, wantCalls: 4, nWaits: 3},
		{name: "429 Retry-After seconds", answers: []answer{{status: 429, header: map[string]string{"Retry-After": "3"}}, {status: 200}},
			wantCalls: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "429 Retry-After HTTP date", answers: []answer{{status: 429, header: map[string]string{"Date": now.Format(http.TimeFormat), "Retry-After": now.Add(4 * time.Second).Format(http.TimeFormat)}}, {status: 200}},
			wantCalls: 2, wantWaits: []time.Duration{4 * time.Second}},
		{name: "429 Okta X-Rate-Limit-Reset", answers: []answer{{status: 429, header: map[string]string{"Date": now.Format(http.TimeFormat), "X-Rate-Limit-Reset": fmt.Sprint(now.Add(2 * time.Second).Unix())}}, {status: 200}},
			wantCalls: 2, wantWaits: []time.Duration{2 * time.Second}},
		// The provider's clock is an hour ahead of ours: its reset is
		// measured against its Date. Seen failing before the fix: "asks to
		// wait 1h0m2s, more than the cap".
		{name: "429 SendGrid X-RateLimit-Reset, provider clock ahead", answers: []answer{{status: 429, header: map[string]string{
			"Date": now.Add(time.Hour).Format(http.TimeFormat), "X-RateLimit-Reset": fmt.Sprint(now.Add(time.Hour + 2*time.Second).Unix())}}, {status: 200}},
			wantCalls: 2, wantWaits: []time.Duration{2 * time.Second}},
		// Its clock is an hour behind: seen failing before the fix (a wait
		// of 0 instead of 4s, a burst of retries).
		{name: "429 Retry-After HTTP date, provider clock behind", answers: []answer{{status: 429, header: map[string]string{
			"Date": now.Add(-time.Hour).Format(http.TimeFormat), "Retry-After": now.Add(-time.Hour + 4*time.Second).Format(http.TimeFormat)}}, {status: 200}},
			wantCalls: 2, wantWaits: []time.Duration{4 * time.Second}},
		{name: "429 asking past the cap fails at once", answers: []answer{{status: 429, header: map[string]string{"Retry-After": "3600"}}},
			wantErr: ErrRateLimited, wantCalls: 1},
		{name: "429 until attempts run out", answers: []answer{{status: 429, header: map[string]string{"Retry-After": "1"}}},
			wantErr: ErrRateLimited, wantCalls: 4, wantWaits: []time.Duration{time.Second, time.Second, time.Second}},
		{name: "400 never retried", answers: []answer{{status: 400, body: `{"errors":[{"message":"bad"}]}`}}, wantCalls: 1},
		{name: "401 never retried", answers: []answer{{status: 401}}, wantErr: ErrUnauthorized, wantCalls: 1},
		{name: "403 never retried", answers: []answer{{status: 403}}, wantErr: ErrForbidden, wantCalls: 1},
		{name: "404 never retried", answers: []answer{{status: 404}}, wantErr: ErrNotFound, wantCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := scripted(t, tc.answers...)
			var waits []time.Duration
			c := &Client{HTTP: srv.Client(), MaxAttempts: 4, MaxWait: 10 * time.Second, Now: func() time.Time { return now },
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			_, err := c.Do(t.Context(), Request{Op: "test: op", Method: http.MethodGet, URL: srv.URL + "/v3/x?limit=1"})
			switch {
			case tc.wantErr == nil && tc.answers[len(tc.answers)-1].status < 300 && err != nil:
				t.Fatalf("Do = %v, want success", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Do = %v, want %v", err, tc.wantErr)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantWaits != nil {
				if fmt.Sprint(waits) != fmt.Sprint(tc.wantWaits) {
					t.Errorf("waits = %v, want %v", waits, tc.wantWaits)
				}
			} else if len(waits) != tc.nWaits {
				t.Errorf("waits = %v, want %d of them", waits, tc.nWaits)
			}
			for _, w := range waits {
				if w <= 0 || w > 10*time.Second {
					t.Errorf("wait %v outside (0, cap]", w)
				}
			}
			var herr *HTTPError
			if err != nil && errors.As(err, &herr) && strings.Contains(herr.Error(), "limit=1") {
				t.Errorf("error holds the query: %v", err)
			}
		})
	}
}

func TestClientStopsWithContext(t *testing.T) {
	t.Run("cancelled while waiting", func(t *testing.T) {
		srv, calls := scripted(t, answer{status: 500})
		ctx, cancel := context.WithCancel(t.Context())
		c := &Client{HTTP: srv.Client(), MaxAttempts: 5, Sleep: func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }}
		_, err := c.Do(ctx, Request{Op: "op", Method: http.MethodGet, URL: srv.URL})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Do = %v, want context.Canceled and ErrUnavailable", err)
		}
		if calls.Load() != 1 {
			t.Errorf("calls = %d, want 1", calls.Load())
		}
	})
	t.Run("deadline shorter than the wait", func(t *testing.T) {
		srv, calls := scripted(t, answer{status: 429, header: map[string]string{"Retry-After": "60"}})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		slept := false
		c := &Client{HTTP: srv.Client(), MaxAttempts: 5, MaxWait: time.Minute, Sleep: func(context.Context, time.Duration) error { slept = true; return nil }}
		_, err := c.Do(ctx, Request{Op: "op", Method: http.MethodGet, URL: srv.URL})
		if !errors.Is(err, ErrRateLimited) || slept || calls.Load() != 1 {
			t.Fatalf("Do = %v, slept %v, calls %d; want ErrRateLimited at once", err, slept, calls.Load())
		}
	})
	t.Run("no time left for an attempt after the wait", func(t *testing.T) {
		// The wait (10s) fits before the deadline (10.5s) but the attempt
		// after it would not: neither is started. Seen failing before the
		// fix: the client slept and tried again.
		srv, calls := scripted(t, answer{status: 429, header: map[string]string{"Retry-After": "10"}})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second+500*time.Millisecond)
		defer cancel()
		slept := false
		c := &Client{HTTP: srv.Client(), MaxAttempts: 5, MaxWait: time.Minute, Sleep: func(context.Context, time.Duration) error { slept = true; return nil }}
		_, err := c.Do(ctx, Request{Op: "op", Method: http.MethodGet, URL: srv.URL})
		if !errors.Is(err, ErrRateLimited) || slept || calls.Load() != 1 {
			t.Fatalf("Do = %v, slept %v, calls %d; want ErrRateLimited at once", err, slept, calls.Load())
		}
	})
	t.Run("an attempt that stalls ends at the per-attempt timeout and is retried", func(t *testing.T) {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				<-r.Context().Done() // a provider that never answers
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(srv.Close)
		// srv.Client() has no Timeout of its own: Client.Timeout bounds the
		// attempt. Seen failing before the fix: Do never returned.
		c := &Client{HTTP: srv.Client(), Timeout: 200 * time.Millisecond, MaxAttempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
		if _, err := c.Do(t.Context(), Request{Op: "op", Method: http.MethodGet, URL: srv.URL}); err != nil {
			t.Fatalf("Do = %v, want the second attempt's success", err)
		}
		if n.Load() != 2 {
			t.Errorf("calls = %d, want 2", n.Load())
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		srv, calls := scripted(t, answer{status: 200})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c := &Client{HTTP: srv.Client(), MaxAttempts: 3}
		if _, err := c.Do(ctx, Request{Op: "op", Method: http.MethodGet, URL: srv.URL}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
		if calls.Load() != 0 {
			t.Errorf("calls = %d, want 0", calls.Load())
		}
	})
}

func TestClientTransportErrorRetried(t *testing.T) {
	// The first connection is dropped before any answer (as on a timeout or
	// a reset); the second is answered. No timing is involved.
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	c := &Client{HTTP: srv.Client(), MaxAttempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
	if _, err := c.Do(t.Context(), Request{Op: "op", Method: http.MethodGet, URL: srv.URL}); err != nil {
		t.Fatalf("Do = %v, want success on the second attempt", err)
	}
	if n.Load() != 2 {
		t.Errorf("calls = %d, want 2", n.Load())
	}
}

func TestErrorBodyScrubbed(t *testing.T) {
	const adminKey = "SG.admin.CANARYadminsecretvalue"
	const newKey = "CANARYnewkeyvalue1234"
	long := strings.Repeat("x", 2000)
	cases := []struct {
		name string
		body string
	}{
		{"echoes the admin key", `{"errors":[{"message":"bad key SG.admin.CANARYadminsecretvalue"}]}`},
		{"echoes the request body", `{"message":"got name=` + newKey + `"}`},
		{"echoes both with control characters", "line1\n" + adminKey + "\r\n" + newKey},
		{"very long", `{"message":"` + long + `"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := scripted(t, answer{status: 400, body: tc.body})
			c := &Client{HTTP: srv.Client(), MaxAttempts: 1}
			_, err := c.Do(t.Context(), Request{Op: "sendgrid: create key", Method: http.MethodPost, URL: srv.URL + "/v3/api_keys",
				Secrets: []string{adminKey, newKey}})
			var herr *HTTPError
			if !errors.As(err, &herr) || herr.Status != 400 {
				t.Fatalf("Do = %v, want *HTTPError 400", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "CANARY") {
				t.Errorf("error leaks a secret: %s", msg)
			}
			if len(herr.Detail) > maxDetail+len("…") || strings.ContainsAny(herr.Detail, "\r\n") {
				t.Errorf("detail not shortened and flattened: %q", herr.Detail)
			}
			if !strings.Contains(msg, "sendgrid: create key") || !strings.Contains(msg, "POST /v3/api_keys") || !strings.Contains(msg, "HTTP 400") {
				t.Errorf("error does not name operation, request and status: %s", msg)
			}
		})
	}
}

func TestScrubLongestFirst(t *testing.T) {
	got := scrub("a=abcdef b=abcdefghij", []string{"abcdef", "abcdefghij", "ab"})
	if want := "a=" + Redacted + " b=" + Redacted; got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
}
