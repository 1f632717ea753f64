package saas

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/shared/secret"
)

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring naming the variable
	}{
		{name: "empty", env: nil, want: Config{}},
		{name: "all set", env: map[string]string{
			EnvTimeout: "5s", EnvMaxAttempts: "3", EnvMaxWait: "30s", EnvVerifyWait: "0s", EnvAllowedHosts: " login.example.com, .corp.example ,",
			EnvSendGridBaseURL: "http://127.0.0.1:9/", EnvTwilioBaseURL: "https://proxy.example/twilio", EnvOktaBaseURL: "https://okta.proxy",
		}, want: Config{Timeout: 5 * time.Second, MaxAttempts: 3, MaxWait: 30 * time.Second, VerifyWait: new(time.Duration),
			AllowedHosts: []string{"login.example.com", ".corp.example"},
			BaseURLs:     map[string]string{"sendgrid": "http://127.0.0.1:9", "twilio": "https://proxy.example/twilio", "okta": "https://okta.proxy"}}},
		{name: "bad timeout", env: map[string]string{EnvTimeout: "ten"}, wantErr: EnvTimeout},
		{name: "negative wait", env: map[string]string{EnvMaxWait: "-1s"}, wantErr: EnvMaxWait},
		{name: "verify wait too long", env: map[string]string{EnvVerifyWait: "1h"}, wantErr: EnvVerifyWait},
		{name: "zero attempts", env: map[string]string{EnvMaxAttempts: "0"}, wantErr: EnvMaxAttempts},
		{name: "too many attempts", env: map[string]string{EnvMaxAttempts: "50"}, wantErr: EnvMaxAttempts},
		{name: "base URL with credentials", env: map[string]string{EnvSendGridBaseURL: "https://user:pw@api.sendgrid.com"}, wantErr: EnvSendGridBaseURL},
		{name: "base URL not a URL", env: map[string]string{EnvOktaBaseURL: "acme.okta.com"}, wantErr: EnvOktaBaseURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ConfigFromEnv = %v, want an error naming %s", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "pw@") {
					t.Errorf("error quotes the value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(Config{})); diff != "" {
				t.Errorf("ConfigFromEnv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	allowed := []string{"api.sendgrid.com", ".twilio.com"}
	cases := []struct {
		name       string
		cfg        Config
		fromSecret string
		def        string
		want       string
		wantErr    bool
	}{
		{name: "default", def: "https://api.sendgrid.com", want: "https://api.sendgrid.com"},
		{name: "no default, no URL", wantErr: true},
		{name: "exact host", fromSecret: "https://api.sendgrid.com/", want: "https://api.sendgrid.com"},
		{name: "host case", fromSecret: "https://API.SendGrid.com", want: "https://API.SendGrid.com"},
		{name: "suffix host", fromSecret: "https://api.dublin.ie1.twilio.com", want: "https://api.dublin.ie1.twilio.com"},
		{name: "suffix is not a substring", fromSecret: "https://eviltwilio.com", wantErr: true},
		{name: "other host", fromSecret: "https://attacker.example", wantErr: true},
		{name: "plain http", fromSecret: "http://api.sendgrid.com", wantErr: true},
		{name: "userinfo", fromSecret: "https://x@api.sendgrid.com", wantErr: true},
		{name: "path", fromSecret: "https://api.sendgrid.com/v3", wantErr: true},
		{name: "query", fromSecret: "https://api.sendgrid.com?x=1", wantErr: true},
		{name: "allowed by config", cfg: Config{AllowedHosts: []string{"login.acme.example"}}, fromSecret: "https://login.acme.example", want: "https://login.acme.example"},
		{name: "override wins", cfg: Config{BaseURLs: map[string]string{"sendgrid": "http://127.0.0.1:1"}}, fromSecret: "https://attacker.example", want: "http://127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.baseURL("sendgrid", tc.fromSecret, tc.def, allowed)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("baseURL = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestKeyName(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:app-AbCdEf"
	short := "7d1c2f4e-0000-4000-8000-000000000001"
	long := strings.Repeat("a", 64)
	p := SecretPrefix(arn)
	if len(p) != len(KeyPrefix)+9 || !strings.HasPrefix(p, KeyPrefix) || p == SecretPrefix(arn+"x") {
		t.Errorf("SecretPrefix = %q: want rotary-<8 hex>- distinct per secret", p)
	}
	if got := KeyName(arn, short); got != p+short {
		t.Errorf("KeyName(uuid) = %q", got)
	}
	got := KeyName(arn, long)
	if len(got) > 64 || !strings.HasPrefix(got, p) || got != KeyName(arn, long) || got == KeyName(arn, strings.Repeat("b", 64)) {
		t.Errorf("KeyName(64 chars) = %q: want a stable, distinct name of at most 64 characters", got)
	}
}

func TestSendGridHost(t *testing.T) {
	cases := []struct {
		name string
		keys map[string]string
		want string
	}{
		{"global by default", nil, SendGridGlobalURL},
		{"region eu", map[string]string{"region": "EU"}, SendGridEUURL},
		{"baseUrl eu", map[string]string{"baseUrl": "https://api.eu.sendgrid.com"}, SendGridEUURL},
		{"baseUrl wins over region", map[string]string{"region": "eu", "baseUrl": "https://api.sendgrid.com"}, SendGridGlobalURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v secret.Value
			for k, s := range tc.keys {
				v.Set(k, s)
			}
			got, err := (&SendGrid{}).base(v)
			if err != nil || got != tc.want {
				t.Errorf("base = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	var hit atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Store(true) }))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	c := Config{MaxAttempts: 1}.Client()
	_, err := c.Do(t.Context(), Request{Op: "op", Method: http.MethodGet, URL: srv.URL, Header: http.Header{"Authorization": {"Bearer CANARY"}}})
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.Status != http.StatusFound || hit.Load() {
		t.Fatalf("Do = %v, redirect followed %v; want an HTTP 302 error and no request to the target", err, hit.Load())
	}
}

// TestOktaHosts: every Okta cloud domain, US DoD's okta.mil included, is an
// allowed orgUrl without SAAS_ALLOWED_HOSTS. Seen failing before the fix:
// acme.okta.mil was refused.
func TestOktaHosts(t *testing.T) {
	o := &Okta{}
	for _, host := range []string{"acme.okta.com", "acme.oktapreview.com", "acme.okta-emea.com", "acme.okta-gov.com", "acme.okta.mil"} {
		v, err := secret.Parse([]byte(`{"orgUrl":"https://` + host + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := o.org(v); err != nil || got != "https://"+host {
			t.Errorf("org(%s) = %q, %v; want it allowed", host, got, err)
		}
	}
	v, _ := secret.Parse([]byte(`{"orgUrl":"https://acme.okta.mil.attacker.example"}`))
	if _, err := o.org(v); err == nil {
		t.Error("a host merely containing okta.mil was allowed")
	}
}
