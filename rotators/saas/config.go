package saas

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
)

// Environment variables read by ConfigFromEnv.
const (
	// EnvTimeout bounds each HTTP attempt (a Go duration, default 10s).
	EnvTimeout = "SAAS_HTTP_TIMEOUT"
	// EnvMaxAttempts is the most attempts per provider call, retries
	// included (default 4).
	EnvMaxAttempts = "SAAS_HTTP_MAX_ATTEMPTS"
	// EnvMaxWait caps each wait between attempts; a 429 asking to wait longer
	// fails at once, so Secrets Manager retries the step later (default 20s).
	EnvMaxWait = "SAAS_HTTP_MAX_WAIT"
	// EnvVerifyWait is the most testSecret waits, in all, for a new key the
	// provider still refuses to start working (a Go duration, default 7s:
	// attempts after 1s, 2s and 4s; 0 disables).
	EnvVerifyWait = "SAAS_VERIFY_WAIT"
	// EnvAllowedHosts lists extra hosts, comma separated, that a secret's
	// baseUrl or orgUrl may name (a leading dot allows every subdomain), e.g.
	// an Okta custom domain.
	EnvAllowedHosts = "SAAS_ALLOWED_HOSTS"
	// EnvSendGridBaseURL, EnvTwilioBaseURL and EnvOktaBaseURL replace the
	// provider's URL for every secret (tests, proxies). They win over a
	// secret's own baseUrl or orgUrl.
	EnvSendGridBaseURL = "SENDGRID_BASE_URL"
	EnvTwilioBaseURL   = "TWILIO_BASE_URL"
	EnvOktaBaseURL     = "OKTA_BASE_URL"
	// EnvEntraLoginBaseURL and EnvEntraGraphBaseURL replace the Microsoft
	// Entra login and Microsoft Graph hosts for every secret (tests, proxies).
	EnvEntraLoginBaseURL = "ENTRA_LOGIN_BASE_URL"
	EnvEntraGraphBaseURL = "ENTRA_GRAPH_BASE_URL"
	// EnvEntraLifetime is how long a minted Entra client secret stays valid
	// (a Go duration, default 4320h = 180 days): at least two rotation
	// periods, so the previous secret outlives its overlap.
	EnvEntraLifetime = "ENTRA_SECRET_LIFETIME"
	// EnvTwilioIAMBaseURL replaces Twilio's iam host (Restricted keys);
	// unset, TWILIO_BASE_URL is used for it too when set.
	EnvTwilioIAMBaseURL = "TWILIO_IAM_BASE_URL"
)

// Config configures the SaaS rotators. The zero value is usable: every unset
// field takes its default.
type Config struct {
	Timeout      time.Duration  // per HTTP attempt; default 10s
	MaxAttempts  int            // per provider call; default 4
	MaxWait      time.Duration  // cap on each wait between attempts; default 20s
	VerifyWait   *time.Duration // most testSecret waits for a new key to work; nil: 7s
	AllowedHosts []string       // extra hosts a secret may name
	// BaseURLs replaces the provider URL per engine ("sendgrid", "twilio",
	// "okta") for every secret.
	BaseURLs map[string]string

	// EntraLifetime is how long a minted Entra client secret stays valid;
	// default 180 days.
	EntraLifetime time.Duration

	// HTTPClient, when set, is used instead of a new client with Timeout.
	HTTPClient *http.Client
	// Sleep, when set, replaces the wait between attempts (tests).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now, when set, is the clock the HTTP client reads reset headers with.
	Now func() time.Time
}

// ConfigFromEnv reads the SAAS_* and <PROVIDER>_BASE_URL variables (see the
// Env constants). A malformed value is an error naming the variable, so a
// function fails at start-up rather than mid-rotation.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	dur := func(name string, dst *time.Duration) error {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("saas config: %s must be a positive Go duration such as 10s", name)
		}
		*dst = d
		return nil
	}
	if err := dur(EnvTimeout, &c.Timeout); err != nil {
		return Config{}, err
	}
	if err := dur(EnvMaxWait, &c.MaxWait); err != nil {
		return Config{}, err
	}
	if err := dur(EnvEntraLifetime, &c.EntraLifetime); err != nil {
		return Config{}, err
	}
	if v := strings.TrimSpace(getenv(EnvVerifyWait)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			return Config{}, fmt.Errorf("saas config: %s must be a Go duration from 0s to 5m", EnvVerifyWait)
		}
		c.VerifyWait = &d
	}
	if v := strings.TrimSpace(getenv(EnvMaxAttempts)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			return Config{}, fmt.Errorf("saas config: %s must be a whole number from 1 to 10", EnvMaxAttempts)
		}
		c.MaxAttempts = n
	}
	for h := range strings.SplitSeq(getenv(EnvAllowedHosts), ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			c.AllowedHosts = append(c.AllowedHosts, h)
		}
	}
	for engine, name := range map[string]string{EngineSendGrid: EnvSendGridBaseURL, EngineTwilio: EnvTwilioBaseURL, EngineOkta: EnvOktaBaseURL,
		twilioIAM: EnvTwilioIAMBaseURL, entraLogin: EnvEntraLoginBaseURL, entraGraph: EnvEntraGraphBaseURL} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return Config{}, fmt.Errorf("saas config: %s must be an http(s) URL without credentials", name)
		}
		if c.BaseURLs == nil {
			c.BaseURLs = map[string]string{}
		}
		c.BaseURLs[engine] = strings.TrimRight(v, "/")
	}
	return c, nil
}

// Client returns the HTTP client the adapters use.
func (c Config) Client() *Client {
	hc := c.HTTPClient
	if hc == nil {
		// Provider APIs do not redirect; following one could carry the
		// admin credential somewhere the allow-list never checked.
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	attempts := c.MaxAttempts
	if attempts <= 0 {
		attempts = 4
	}
	t := c.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	return &Client{HTTP: hc, Timeout: t, MaxAttempts: attempts, MaxWait: c.MaxWait, Sleep: c.Sleep, Now: c.Now}
}

// baseURL picks the URL for engine: the configured override, else the
// secret's own URL when it is https on an allowed host, else def. A secret may
// not send the admin credential to a host of its choosing.
func (c Config) baseURL(engine, fromSecret, def string, allowed []string) (string, error) {
	if o := c.BaseURLs[engine]; o != "" {
		return o, nil
	}
	if fromSecret == "" {
		if def == "" {
			return "", fmt.Errorf("no %s URL: the secret must name one", engine)
		}
		return def, nil
	}
	u, err := url.Parse(fromSecret)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", fmt.Errorf("the secret's %s URL must be https://host with no path", engine)
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range append(allowed, c.AllowedHosts...) {
		if host == a || (strings.HasPrefix(a, ".") && strings.HasSuffix(host, a)) {
			return "https://" + u.Host, nil
		}
	}
	return "", fmt.Errorf("the secret's %s URL names host %q, which is not allowed (allow it with %s)", engine, host, EnvAllowedHosts)
}

// Engines lists the engines this package rotates.
func Engines() []string { return []string{EngineSendGrid, EngineTwilio, EngineOkta, EngineEntra} }

// Register adds the rotators of the named engines (all of Engines when none is
// named) to reg under the api-key strategy. An unknown engine is an error.
func Register(reg *rotators.Registry, cfg Config, engines ...string) error {
	if len(engines) == 0 {
		engines = Engines()
	}
	client := cfg.Client()
	for _, e := range engines {
		var a Adapter
		switch e {
		case EngineSendGrid:
			a = &SendGrid{Config: cfg, Client: client}
		case EngineTwilio:
			a = &Twilio{Config: cfg, Client: client}
		case EngineOkta:
			a = &Okta{Config: cfg, Client: client}
		case EngineEntra:
			a = &Entra{Config: cfg, Client: client}
		default:
			return fmt.Errorf("saas: no adapter for engine %q (have %s)", e, strings.Join(Engines(), ", "))
		}
		rot := NewRotator(a)
		rot.VerifyWait, rot.Sleep = 7*time.Second, cfg.Sleep
		if cfg.VerifyWait != nil {
			rot.VerifyWait = *cfg.VerifyWait
		}
		reg.Register(rot, rotators.APIKey, e)
	}
	return nil
}

// Build is start-up's way in: it reads the configuration with ConfigFromEnv
// through deps.Getenv, uses deps.HTTP (when set) as the HTTP client and
// deps.Now as the clock, and registers the named engines (all when none is
// named), as Register does.
func Build(reg *rotators.Registry, deps rotators.Deps, engines ...string) error {
	cfg, err := ConfigFromEnv(deps.Env)
	if err != nil {
		return err
	}
	if deps.HTTP != nil {
		cfg.HTTPClient = deps.HTTP
	}
	cfg.Now = deps.Now
	return Register(reg, cfg, engines...)
}
