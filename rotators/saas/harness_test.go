package saas_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// fake is what every provider fake offers the tests.
type fake interface {
	URL() string
	Client() *http.Client
	Inject(fakes.Fault)
	Clear()
	EchoRequests(bool)
	Calls(op string) int
	Live() []fakes.Key
	All() []fakes.Key
	Works(secret string) bool
	Rename(id, name string)
}

// provider builds a fake, a rotator against it, the first AWSCURRENT value and
// the admin secret.
type provider struct {
	name string
	// spec fields, repeated so tests read keys without the adapter
	idKey, secretKey string
	setup            func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value)
}

func mustParse(t testing.TB, s string) secret.Value {
	t.Helper()
	v, err := secret.Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

func obj(t testing.TB, m map[string]string) secret.Value {
	t.Helper()
	b, _ := json.Marshal(m)
	return mustParse(t, string(b))
}

// testConfig never sleeps for real and records the waits.
func testConfig(waits *[]time.Duration) saas.Config {
	var mu sync.Mutex
	return saas.Config{
		MaxAttempts: 4,
		MaxWait:     5 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			if waits != nil {
				*waits = append(*waits, d)
			}
			return ctx.Err()
		},
	}
}

var providers = []provider{
	{
		name: "sendgrid", idKey: "apiKeyId", secretKey: "apiKey",
		setup: func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
			f := fakes.NewSendGrid(t)
			k := f.Seed(seedName(t), "mail.send")
			cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineSendGrid: f.URL()}, checked(t, f)
			cur := obj(t, map[string]string{"engine": "sendgrid", "masterarn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:sg-admin-AbCdEf",
				"apiKeyId": k.ID, "apiKey": k.Secret, saas.RecordKey: seedName(t)})
			return f, &saas.SendGrid{Config: cfg, Client: cfg.Client()}, cur, obj(t, map[string]string{"apiKey": f.AdminKey})
		},
	},
	{
		name: "twilio", idKey: "apiKeyId", secretKey: "apiKeySecret",
		setup: func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
			f := fakes.NewTwilio(t)
			k := f.Seed(seedName(t))
			cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineTwilio: f.URL()}, checked(t, f)
			cur := obj(t, map[string]string{"engine": "twilio", "masterarn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:tw-admin-AbCdEf",
				"accountSid": f.AccountSID, "apiKeyId": k.ID, "apiKeySecret": k.Secret, saas.RecordKey: seedName(t)})
			return f, &saas.Twilio{Config: cfg, Client: cfg.Client()}, cur, obj(t, map[string]string{"accountSid": f.AccountSID, "authToken": f.AuthToken})
		},
	},
	{
		name: "okta", idKey: "keyId", secretKey: "clientSecret",
		setup: func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
			f := fakes.NewOkta(t)
			k := f.Seed()
			cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineOkta: f.URL()}, checked(t, f)
			cur := obj(t, map[string]string{"engine": "okta", "masterarn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:okta-admin-AbCdEf",
				"orgUrl": "https://acme.okta.com", "appId": f.AppID, "clientId": f.ClientID, "keyId": k.ID, "clientSecret": k.Secret, saas.RecordKey: seedName(t)})
			return f, &saas.Okta{Config: cfg, Client: cfg.Client()}, cur, obj(t, map[string]string{"apiToken": f.APIToken, "orgUrl": "https://acme.okta.com"})
		},
	},
	{
		name: "entra-app-secret", idKey: "keyId", secretKey: "clientSecret",
		setup: func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
			f := fakes.NewEntra(t)
			k := f.Seed(seedName(t))
			cfg.BaseURLs, cfg.HTTPClient = map[string]string{"entra-login": f.URL(), "entra-graph": f.URL()}, checked(t, f)
			cur := obj(t, map[string]string{"engine": "entra-app-secret", "masterarn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:entra-admin-AbCdEf",
				"tenantId": f.TenantID, "applicationObjectId": f.AppObjectID, "clientId": f.AppClientID, "keyId": k.ID, "clientSecret": k.Secret,
				saas.RecordKey: seedName(t)})
			return f, &saas.Entra{Config: cfg, Client: cfg.Client()}, cur,
				obj(t, map[string]string{"tenantId": f.TenantID, "clientId": f.AdminClientID, "clientSecret": f.AdminSecret})
		},
	},
}

// store is a minimal stand-in for Secrets Manager's versions and labels, to
// drive the steps in the engine's order without AWS.
type store struct {
	t        *testing.T
	arn      string
	rot      *saas.Rotator
	admin    secret.Value
	versions map[string]secret.Value
	current  string
	previous string
	pending  string
	errs     []error // every error a step returned, for the canary scan
	n        int
}

// storeCount counts the stores each test run made, so each store of a test
// has its own secret ARN and the first one's is known before it is made. It
// is keyed by the run's *testing.T, not its name, and forgets the run when it
// ends: a test run again in the same process (go test -count=2) starts a new
// world, with fresh fakes, whose first store must again be store 1 (the one
// seedName names), or its rotations find the seeded key named for another
// secret and, rightly, refuse to revoke it.
var storeCount = struct {
	sync.Mutex
	n map[*testing.T]int
}{n: map[*testing.T]int{}}

// nextStore returns the number (from 1) of the next store t makes.
func nextStore(t *testing.T) int {
	storeCount.Lock()
	defer storeCount.Unlock()
	if storeCount.n[t] == 0 {
		t.Cleanup(func() {
			storeCount.Lock()
			defer storeCount.Unlock()
			delete(storeCount.n, t)
		})
	}
	storeCount.n[t]++
	return storeCount.n[t]
}

// testARN is the ARN of the nth store (from 1) a test makes.
func testARN(t testing.TB, n int) string {
	sum := sha256.Sum256([]byte(t.Name()))
	return fmt.Sprintf("arn:aws:secretsmanager:us-east-1:111111111111:secret:app%x-%d-AbCdEf", sum[:4], n)
}

// seedName is the name of a test's first key: as if Rotary had minted it for
// the test's first store, so that store's rotations may revoke it.
func seedName(t testing.TB) string { return saas.SecretPrefix(testARN(t, 1)) + "seed" }

func newStore(t *testing.T, rot *saas.Rotator, cur, admin secret.Value) *store {
	return &store{t: t, rot: rot, admin: admin, versions: map[string]secret.Value{"v0": cur}, current: "v0",
		arn: testARN(t, nextStore(t))}
}

func (s *store) loader(id *string) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) {
		if *id == "" {
			return secret.Value{}, false, nil
		}
		return s.versions[*id], true, nil
	}
}

func (s *store) master() rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) { return s.admin, true, nil }
}

func (s *store) note(err error) error {
	if err != nil {
		s.errs = append(s.errs, err)
	}
	return err
}

func (s *store) token() string {
	s.n++
	return fmt.Sprintf("%08d-aaaa-bbbb-cccc-%012d", s.n, s.n)
}

func (s *store) rotation(tok string) rotators.Rotation {
	return rotators.Rotation{SecretARN: s.arn, Token: tok}
}

// create runs Create and, unless drop, stores the result as AWSPENDING.
func (s *store) create(tok string, drop bool) (secret.Value, error) {
	resp, err := s.rot.Create(s.t.Context(), rotators.CreateRequest{Rotation: s.rotation(tok), Current: s.versions[s.current],
		Previous: s.loader(&s.previous), Master: s.master()})
	if s.note(err) != nil || drop {
		return resp.Pending, err
	}
	s.versions[tok] = resp.Pending
	s.pending = tok
	return resp.Pending, nil
}

func (s *store) set(tok string) error {
	_, err := s.rot.Set(s.t.Context(), rotators.SetRequest{Rotation: s.rotation(tok), Current: s.versions[s.current], Pending: s.versions[tok],
		Previous: s.loader(&s.previous), Master: s.master()})
	return s.note(err)
}

func (s *store) test(tok string) error {
	_, err := s.rot.Test(s.t.Context(), rotators.TestRequest{Rotation: s.rotation(tok), Pending: s.versions[tok], Current: s.loader(&s.current), Master: s.master()})
	return s.note(err)
}

func (s *store) finish(tok string) error {
	_, err := s.rot.Finish(s.t.Context(), rotators.FinishRequest{Rotation: s.rotation(tok), Pending: s.loader(&s.pending),
		Current: s.loader(&s.current), Previous: s.loader(&s.previous), Master: s.master()})
	return s.note(err)
}

// move is the engine's stage move after finishSecret.
func (s *store) move(tok string) {
	s.previous, s.current, s.pending = s.current, tok, ""
}

// rotate runs the four steps and the stage move, failing the test on error.
func (s *store) rotate() string {
	s.t.Helper()
	tok := s.token()
	if _, err := s.create(tok, false); err != nil {
		s.t.Fatalf("createSecret: %v", err)
	}
	if err := s.set(tok); err != nil {
		s.t.Fatalf("setSecret: %v", err)
	}
	if err := s.test(tok); err != nil {
		s.t.Fatalf("testSecret: %v", err)
	}
	if err := s.finish(tok); err != nil {
		s.t.Fatalf("finishSecret: %v", err)
	}
	s.move(tok)
	return tok
}

func (s *store) secretOf(id, key string) string {
	v, _ := s.versions[id].Get(key)
	return v
}

// liveIDs lists the IDs of live keys.
func liveIDs(f fake) []string {
	var out []string
	for _, k := range f.Live() {
		out = append(out, k.ID)
	}
	return out
}

// noCanary fails when any text holds a fake's secret marker.
func noCanary(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, fakes.Canary) {
			t.Errorf("%s leaks a secret: %s", what, s)
		}
	}
}
