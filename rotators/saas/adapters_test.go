package saas_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// TestRevokeGoneKeyIsSuccess: every provider answers 404 for a key that is
// already gone; Revoke treats it as done.
func TestRevokeGoneKeyIsSuccess(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, a, cur, admin := p.setup(t, testConfig(nil))
			ids := map[string]string{"sendgrid": "NoSuchKey0000000000000", "twilio": "SK00000000000000000000000000000000", "okta": "ocsNoSuchSecret0000",
				"entra-app-secret": "00000000-0000-0000-0000-000000000000"}
			if err := a.Revoke(t.Context(), saas.RevokeKeyRequest{Secret: cur, Admin: admin, KeyID: ids[p.name]}); err != nil {
				t.Fatalf("Revoke(unknown) = %v, want nil", err)
			}
			if f.Calls("delete")+f.Calls("deactivate") == 0 {
				t.Error("the provider was not asked")
			}
		})
	}
}

// TestWrongAdminCredential: a refused admin credential is ErrUnauthorized,
// never retried, and the error holds no credential even when the provider
// echoes the request.
func TestWrongAdminCredential(t *testing.T) {
	wrong := map[string]map[string]string{
		"sendgrid":         {"apiKey": "SG.wrong.CANARYwrongadmin"},
		"twilio":           {"accountSid": "", "authToken": "CANARYwrongtoken"},
		"okta":             {"apiToken": "00CANARYwrongtoken", "orgUrl": "https://acme.okta.com"},
		"entra-app-secret": {"tenantId": "", "clientId": "", "clientSecret": "CANARYwrongsecret"},
	}
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, a, cur, _ := p.setup(t, testConfig(nil))
			f.EchoRequests(true)
			adm := wrong[p.name]
			if p.name == "twilio" {
				adm["accountSid"], _ = cur.Get("accountSid")
			}
			if ef, ok := f.(*fakes.Entra); ok {
				adm["tenantId"], adm["clientId"] = ef.TenantID, ef.AdminClientID
			}
			admin := obj(t, adm)
			s := newStore(t, saas.NewRotator(a), cur, admin)
			_, err := s.create(s.token(), false)
			if !errors.Is(err, saas.ErrUnauthorized) {
				t.Fatalf("createSecret = %v, want ErrUnauthorized", err)
			}
			noCanary(t, "error", err.Error())
			// The provider's documented error body reaches the operator.
			summary := map[string]string{"sendgrid": "authorization required", "twilio": `"code":20003`, "okta": "E0000011", "entra-app-secret": "AADSTS7000215"}[p.name]
			if !strings.Contains(err.Error(), summary) || !strings.Contains(err.Error(), "HTTP 401") {
				t.Errorf("error %q does not carry the provider's status and message %q", err, summary)
			}
			for _, cred := range admin.Secrets() {
				if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte(cred))[:8]) {
					t.Errorf("error holds an encoded credential: %v", err)
				}
			}
			first := "list"
			if p.name == "entra-app-secret" {
				first = "token" // the admin's token request is refused first
			}
			if got := f.Calls(first); got != 1 {
				t.Errorf("%s calls = %d, want 1 (401 is not retried)", first, got)
			}
		})
	}
}

// TestErrorsNeverHoldSecrets drives failing calls of every kind against
// providers that echo the request (Authorization header and body) in error
// bodies, and scans every error for a secret.
func TestErrorsNeverHoldSecrets(t *testing.T) {
	faults := []fakes.Fault{
		{Method: "POST", Status: 400, Times: 10},
		{Method: "DELETE", Status: 500, Times: 10},
		{Method: "GET", Status: 429, RetryAfter: "9999"},
		{Status: 503, Times: 10},
	}
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, a, cur, admin := p.setup(t, testConfig(nil))
			f.EchoRequests(true)
			rot := saas.NewRotator(a)
			s := newStore(t, rot, cur, admin)
			s.rotate()
			s.rotate()
			var errs []error
			for _, fault := range faults {
				f.Inject(fault)
				tok := s.token()
				if _, err := s.create(tok, false); err != nil {
					errs = append(errs, err)
					f.Clear()
					continue
				}
				for _, step := range []func(string) error{s.test, s.finish} {
					if err := step(tok); err != nil {
						errs = append(errs, err)
					}
				}
				f.Clear()
			}
			// A pending key that no longer works: the verify call echoes it.
			tok := s.token()
			pending, err := s.create(tok, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rot.Discard(t.Context(), rotators.DiscardRequest{Rotation: s.rotation(tok), Pending: pending, Master: s.master()}); err != nil {
				t.Fatal(err)
			}
			if err := s.test(tok); err != nil {
				errs = append(errs, err)
			}
			if len(errs) < 3 {
				t.Fatalf("only %d errors provoked: %v", len(errs), errs)
			}
			for _, err := range errs {
				msg := err.Error()
				noCanary(t, "error", msg)
				if strings.Contains(msg, "Basic ") && !strings.Contains(msg, saas.Redacted) {
					t.Errorf("error quotes an Authorization header: %s", msg)
				}
			}
			checkCurrent(t, s, f, p)
		})
	}
}

// TestSendGridCopiesScopes: the new key has the current key's scopes, and a
// current key without scopes is never replaced by a full-access key.
func TestSendGridCopiesScopes(t *testing.T) {
	cfg := testConfig(nil)
	f := fakes.NewSendGrid(t)
	cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineSendGrid: f.URL()}, checked(t, f)
	a := &saas.SendGrid{Config: cfg, Client: cfg.Client()}
	admin := obj(t, map[string]string{"apiKey": f.AdminKey})
	for _, tc := range []struct {
		name    string
		scopes  []string
		wantErr bool
	}{
		{name: "restricted key", scopes: []string{"mail.send", "stats.read", "2fa_required", "sender_verification_eligible"}},
		// Seen failing before the fix: the fake (like older accounts) refused
		// the self-assigned scope with a 400.
		{name: "older account's legacy scope", scopes: []string{"mail.send", "sender_verification_legacy"}},
		{name: "no scopes listed", scopes: nil, wantErr: true},
		{name: "only scopes SendGrid assigns itself", scopes: []string{"2fa_required", "sender_verification_eligible"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := f.Seed(tc.name, tc.scopes...)
			cur := obj(t, map[string]string{"engine": "sendgrid", "apiKeyId": k.ID, "apiKey": k.Secret})
			got, err := a.Create(t.Context(), saas.CreateKeyRequest{Secret: cur, Current: saas.Key{ID: k.ID, Secret: k.Secret}, Admin: admin, Name: "rotary-x-" + tc.name})
			if tc.wantErr {
				if err == nil {
					t.Fatal("Create minted a key without known scopes")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, live := range f.Live() {
				if live.ID == got.ID {
					found = true
					own := func(scopes []string) []string { // less those SendGrid assigns itself
						return slices.Sorted(slices.Values(slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool {
							return strings.HasPrefix(sc, "2fa_") || strings.HasPrefix(sc, "sender_verification_")
						})))
					}
					gotScopes, want := own(live.Scopes), own(tc.scopes)
					if !slices.Equal(gotScopes, want) {
						t.Errorf("new key scopes %v, want %v", gotScopes, want)
					}
				}
			}
			if !found {
				t.Error("the new key is not live")
			}
		})
	}
}

// TestSecretBaseURL: a secret's own baseUrl (SendGrid EU, Twilio regions, an
// Okta org) is used when its host is allowed, and refused before any request
// when it is not, so a secret cannot send the admin credential elsewhere.
func TestSecretBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed []string
		wantErr bool
	}{
		{name: "allowed host", allowed: []string{"127.0.0.1"}},
		{name: "host not allowed", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fakes.NewSendGrid(t)
			k := f.Seed("eu", "mail.send")
			cfg := testConfig(nil)
			cfg.HTTPClient, cfg.AllowedHosts = checked(t, f), tc.allowed
			rot := saas.NewRotator(&saas.SendGrid{Config: cfg, Client: cfg.Client()})
			cur := obj(t, map[string]string{"engine": "sendgrid", "apiKeyId": k.ID, "apiKey": k.Secret, "baseUrl": f.URL(), "masterarn": "arn:x"})
			s := newStore(t, rot, cur, obj(t, map[string]string{"apiKey": f.AdminKey}))
			_, err := s.create(s.token(), false)
			if tc.wantErr {
				if err == nil || f.Calls("list")+f.Calls("create") != 0 {
					t.Fatalf("createSecret = %v with %d calls, want a refusal before any call", err, f.Calls("list"))
				}
				noCanary(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Calls("create") != 1 {
				t.Errorf("create calls = %d, want 1", f.Calls("create"))
			}
		})
	}
}

// TestTwilioPaging: Find follows next_page_uri across pages.
func TestTwilioPaging(t *testing.T) {
	cfg := testConfig(nil)
	f := fakes.NewTwilio(t)
	f.MaxPageSize = 2
	cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineTwilio: f.URL()}, checked(t, f)
	a := &saas.Twilio{Config: cfg, Client: cfg.Client()}
	for range 5 {
		f.Seed("someone-else")
	}
	want := []string{f.Seed("rotary-tok").ID, f.Seed("rotary-tok").ID}
	cur := obj(t, map[string]string{"engine": "twilio", "accountSid": f.AccountSID})
	admin := obj(t, map[string]string{"accountSid": f.AccountSID, "authToken": f.AuthToken})
	got, err := a.Find(t.Context(), saas.FindKeysRequest{Secret: cur, Admin: admin, Name: "rotary-tok", Keep: want[1:]})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[:1]) {
		t.Errorf("Find = %v, want %v (the kept key excluded)", got, want[:1])
	}
	if f.Calls("list") != 4 {
		t.Errorf("list calls = %d, want 4 pages", f.Calls("list"))
	}
}

// TestOkta covers what is special about Okta: two secrets at most, secrets
// without names, deactivate before delete, client_secret_post.
func TestOkta(t *testing.T) {
	setup := func(t *testing.T) (*fakes.Okta, *saas.Rotator, *store) {
		cfg := testConfig(nil)
		f := fakes.NewOkta(t)
		cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineOkta: f.URL()}, checked(t, f)
		k := f.Seed()
		cur := obj(t, map[string]string{"engine": "okta", "orgUrl": "https://acme.okta.com", "appId": f.AppID, "clientId": f.ClientID,
			"keyId": k.ID, "clientSecret": k.Secret, "masterarn": "arn:x", saas.RecordKey: seedName(t)})
		rot := saas.NewRotator(&saas.Okta{Config: cfg, Client: cfg.Client()})
		return f, rot, newStore(t, rot, cur, obj(t, map[string]string{"apiToken": f.APIToken, "orgUrl": "https://acme.okta.com"}))
	}
	t.Run("previous secret retired before minting, deactivated then deleted", func(t *testing.T) {
		f, _, s := setup(t)
		s.rotate()
		prev := s.secretOf(s.previous, "keyId")
		tok := s.token()
		if _, err := s.create(tok, false); err != nil {
			t.Fatal(err)
		}
		for _, k := range f.All() {
			if k.ID == prev {
				t.Errorf("AWSPREVIOUS secret %s still exists", prev)
			}
		}
		if f.Calls("deactivate") != 1 || f.Calls("delete") != 1 {
			t.Errorf("deactivate %d, delete %d calls; want 1 and 1", f.Calls("deactivate"), f.Calls("delete"))
		}
	})
	t.Run("a secret Rotary did not mint for this secret is never removed", func(t *testing.T) {
		// Before the fix, Find returned every secret of the app and
		// createSecret deleted them all (test seen failing: "the stray
		// secret was removed").
		f, _, s := setup(t)
		stray := f.Seed()
		_, err := s.create(s.token(), false)
		if err == nil {
			t.Fatal("createSecret succeeded on an app that already holds two secrets")
		}
		for _, k := range []fakes.Key{stray} {
			if !f.Works(k.Secret) {
				t.Error("the stray secret was removed")
			}
		}
		if got := f.Calls("deactivate") + f.Calls("delete"); got != 0 {
			t.Errorf("%d deactivate/delete calls, want 0", got)
		}
	})
	t.Run("client_secret_post", func(t *testing.T) {
		f, _, s := setup(t)
		v := s.versions[s.current]
		v.Set("tokenEndpointAuthMethod", "client_secret_post")
		s.versions[s.current] = v
		s.rotate()
		if f.Calls("verify") != 1 {
			t.Errorf("verify calls = %d", f.Calls("verify"))
		}
	})
	t.Run("missing keys named", func(t *testing.T) {
		_, rot, s := setup(t)
		v := s.versions[s.current].Clone()
		v.Delete("appId")
		_, err := rot.Create(t.Context(), rotators.CreateRequest{Rotation: s.rotation(s.token()), Current: v, Master: s.master()})
		var ke *secret.KeyError
		if !errors.As(err, &ke) || ke.Key != "appId" {
			t.Fatalf("Create = %v, want a KeyError for appId", err)
		}
	})
}

// TestNoAdminSecret: a secret without masterarn fails with a KeyError naming
// masterarn, before any provider call.
func TestNoAdminSecret(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			f, a, cur, _ := p.setup(t, testConfig(nil))
			_, err := saas.NewRotator(a).Create(t.Context(), rotators.CreateRequest{Rotation: rotators.Rotation{Token: "t"}, Current: cur})
			var ke *secret.KeyError
			if !errors.As(err, &ke) || ke.Key != secret.KeyMasterARN {
				t.Fatalf("Create = %v, want a KeyError for masterarn", err)
			}
			if n := f.Calls("list") + f.Calls("create"); n != 0 {
				t.Errorf("%d provider calls", n)
			}
		})
	}
}

// TestRegister routes the three engines with the api-key strategy.
func TestRegister(t *testing.T) {
	var reg rotators.Registry
	if err := saas.Register(&reg, saas.Config{}); err != nil {
		t.Fatal(err)
	}
	if got := reg.Engines(); !slices.Equal(got, []string{"entra-app-secret", "okta", "sendgrid", "twilio"}) {
		t.Errorf("Engines = %v", got)
	}
	for _, e := range []string{"sendgrid", "twilio", "okta", "entra-app-secret"} {
		r, err := reg.Lookup(secret.Value{Engine: e})
		if err != nil {
			t.Fatalf("Lookup(%s): %v", e, err)
		}
		sr, ok := r.(*saas.Rotator)
		if !ok || sr.Adapter().Spec().Engine != e {
			t.Errorf("Lookup(%s) = %T", e, r)
		}
	}
}

// TestBuild registers only the named engines, and fails on a bad setting or
// an unknown engine.
func TestBuild(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		engines []string
		want    []string
		wantErr bool
	}{
		{name: "one engine", engines: []string{"twilio"}, want: []string{"twilio"}},
		{name: "all", want: []string{"entra-app-secret", "okta", "sendgrid", "twilio"}},
		{name: "unknown engine", engines: []string{"mailchimp"}, wantErr: true},
		{name: "bad setting", env: map[string]string{saas.EnvMaxAttempts: "many"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reg rotators.Registry
			err := saas.Build(&reg, rotators.Deps{Getenv: func(k string) string { return tc.env[k] }}, tc.engines...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Build = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !slices.Equal(reg.Engines(), tc.want) {
				t.Errorf("Engines = %v, want %v", reg.Engines(), tc.want)
			}
		})
	}
}

// TestTwilioMainKeyAdmin: a Main key in the admin secret manages keys like
// the auth token does.
func TestTwilioMainKeyAdmin(t *testing.T) {
	cfg := testConfig(nil)
	f := fakes.NewTwilio(t)
	cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineTwilio: f.URL()}, checked(t, f)
	mainKey := f.SeedMain()
	first := f.Seed(seedName(t))
	cur := obj(t, map[string]string{"engine": "twilio", "accountSid": f.AccountSID, "apiKeyId": first.ID, "apiKeySecret": first.Secret, "masterarn": "arn:x"})
	s := newStore(t, saas.NewRotator(&saas.Twilio{Config: cfg, Client: cfg.Client()}), cur,
		obj(t, map[string]string{"accountSid": f.AccountSID, "apiKeyId": mainKey.ID, "apiKeySecret": mainKey.Secret}))
	s.rotate()
	s.rotate()
	if f.Works(first.Secret) {
		t.Error("the first key survived two rotations")
	}
	if !f.Works(mainKey.Secret) {
		t.Error("the Main key was revoked")
	}
	checkCurrent(t, s, f, providers[1])
}

// TestSendGridSubuser: with onBehalfOf, the parent's admin key rotates a
// subuser's key and never touches the parent account's keys.
func TestSendGridSubuser(t *testing.T) {
	cfg := testConfig(nil)
	f := fakes.NewSendGrid(t)
	cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineSendGrid: f.URL()}, checked(t, f)
	parent := f.Seed("parent-key", "mail.send")
	sub := f.SeedFor("marketing", seedName(t), "mail.send")
	cur := obj(t, map[string]string{"engine": "sendgrid", "apiKeyId": sub.ID, "apiKey": sub.Secret, "onBehalfOf": "marketing", "masterarn": "arn:x"})
	s := newStore(t, saas.NewRotator(&saas.SendGrid{Config: cfg, Client: cfg.Client()}), cur, obj(t, map[string]string{"apiKey": f.AdminKey}))
	s.rotate()
	s.rotate()
	if f.Works(sub.Secret) || !f.Works(parent.Secret) {
		t.Errorf("subuser key live %v (want false), parent key live %v (want true)", f.Works(sub.Secret), f.Works(parent.Secret))
	}
	for _, k := range f.Live() {
		if k.ID != parent.ID && k.Owner != "marketing" {
			t.Errorf("key %s minted for %q, want the subuser", k.ID, k.Owner)
		}
	}
	checkCurrent(t, s, f, providers[0])
}

// TestSendGridKeyCapIsForbidden: SendGrid's 100-key cap answers 403; it is
// ErrForbidden (a quota, not a refused credential), never retried, and
// leaves no key behind. Seen failing before the fix: ErrUnauthorized.
func TestSendGridKeyCapIsForbidden(t *testing.T) {
	var waits []time.Duration
	ff, a, cur, admin := providers[0].setup(t, testConfig(&waits))
	f := ff.(*fakes.SendGrid)
	for len(f.All()) < 100 {
		f.Seed("someone-else", "mail.send")
	}
	s := newStore(t, saas.NewRotator(a), cur, admin)
	_, err := s.create(s.token(), false)
	if !errors.Is(err, saas.ErrForbidden) || errors.Is(err, saas.ErrUnauthorized) {
		t.Fatalf("createSecret = %v, want ErrForbidden only", err)
	}
	if f.Calls("create") != 1 || len(waits) != 0 {
		t.Errorf("%d create calls, waits %v; want 1 and none", f.Calls("create"), waits)
	}
	noCanary(t, "error", err.Error())
}

// TestSendGridGrantedScopesChecked: a key SendGrid minted with fewer scopes
// than requested is revoked and the step fails with ErrScopesDiffer. Seen
// failing before the fix: the key was stored with mail.send missing.
func TestSendGridGrantedScopesChecked(t *testing.T) {
	ff, a, cur, admin := providers[0].setup(t, testConfig(nil))
	f := ff.(*fakes.SendGrid)
	f.Withhold = []string{"mail.send"}
	s := newStore(t, saas.NewRotator(a), cur, admin)
	_, err := s.create(s.token(), false)
	if !errors.Is(err, saas.ErrScopesDiffer) {
		t.Fatalf("createSecret = %v, want ErrScopesDiffer", err)
	}
	if n := len(f.Live()); n != 1 {
		t.Errorf("%d live keys, want only the current one (the short-scoped key revoked)", n)
	}
}

// TestTwilioVerifySubaccount: a subaccount's key verifies (Twilio serves no
// Balance for subaccounts), and so does a key the account does not let read
// the account resource (403/404 mean authenticated); only 401 is a refusal.
// Seen failing before the fix: HTTP 404 on Balance.json for the subaccount.
func TestTwilioVerifySubaccount(t *testing.T) {
	ff, a, cur, admin := providers[1].setup(t, testConfig(nil))
	f := ff.(*fakes.Twilio)
	f.Subaccount = true
	s := newStore(t, saas.NewRotator(a), cur, admin)
	s.rotate()
	for _, status := range []int{403, 404} {
		f.Inject(fakes.Fault{Method: "GET", Path: "/Accounts/" + f.AccountSID + ".json", Status: status})
		key := saas.Key{ID: s.secretOf(s.current, "apiKeyId"), Secret: s.secretOf(s.current, "apiKeySecret")}
		if err := a.Verify(t.Context(), saas.VerifyKeyRequest{Secret: s.versions[s.current], Key: key}); err != nil {
			t.Errorf("Verify with a %d = %v, want authenticated", status, err)
		}
	}
	bad := saas.Key{ID: s.secretOf(s.current, "apiKeyId"), Secret: "CANARYnot-the-secret"}
	if err := a.Verify(t.Context(), saas.VerifyKeyRequest{Secret: s.versions[s.current], Key: bad}); !errors.Is(err, saas.ErrUnauthorized) {
		t.Errorf("Verify with a wrong secret = %v, want ErrUnauthorized", err)
	}
}

// twilioWith returns a store whose AWSCURRENT holds key k of the Twilio fake.
func twilioWith(t *testing.T, k func(f *fakes.Twilio) fakes.Key) (*fakes.Twilio, *store) {
	t.Helper()
	ff, a, cur, admin := providers[1].setup(t, testConfig(nil))
	f := ff.(*fakes.Twilio)
	key := k(f)
	v := cur.Clone()
	v.Set("apiKeyId", key.ID)
	v.Set("apiKeySecret", key.Secret)
	return f, newStore(t, saas.NewRotator(a), v, admin)
}

// TestTwilioKeyTypePreserved: a Restricted key is replaced by a Restricted
// key with the same policy (iam v1 Keys API), never by a Standard key. Seen
// failing before the fix: the new key had no policy (a Standard key, which
// may call every API: privilege escalation).
func TestTwilioKeyTypePreserved(t *testing.T) {
	const policy = `{"allow":["/twilio/messaging/messages/read","/twilio/messaging/messages/create"]}`
	f, s := twilioWith(t, func(f *fakes.Twilio) fakes.Key { return f.SeedRestricted(seedName(t), policy) })
	s.rotate()
	s.rotate()
	for _, k := range f.Live() {
		if k.Policy == "" {
			t.Errorf("key %s (%s) is a Standard key", k.ID, k.Name)
			continue
		}
		var got, want any
		_ = json.Unmarshal([]byte(k.Policy), &got)
		_ = json.Unmarshal([]byte(policy), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("key %s has policy %s, want %s", k.ID, k.Policy, policy)
		}
	}
	checkCurrent(t, s, f, providers[1])
}

// TestTwilioMainKeyRefused: a Main key (which only the Console can create) is
// refused with ErrMainKey and nothing is minted. Seen failing before the fix:
// a Standard key was minted in its place, without /Keys access.
func TestTwilioMainKeyRefused(t *testing.T) {
	f, s := twilioWith(t, func(f *fakes.Twilio) fakes.Key { return f.SeedMain() })
	_, err := s.create(s.token(), false)
	if !errors.Is(err, saas.ErrMainKey) {
		t.Fatalf("createSecret = %v, want ErrMainKey", err)
	}
	if f.Calls("create") != 0 {
		t.Errorf("%d keys minted", f.Calls("create"))
	}
	noCanary(t, "error", err.Error())
}

// TestTwilioRegion: Twilio credentials are regional; a secret on a regional
// host needs an admin credential of that region (the admin secret's region,
// default us1), checked before any call. Seen failing before the check: the
// us1 credential was sent to the ie1 host.
func TestTwilioRegion(t *testing.T) {
	f, a, cur, admin := providers[1].setup(t, testConfig(nil))
	v := cur.Clone()
	v.Set("baseUrl", "https://api.dublin.ie1.twilio.com")
	s := newStore(t, saas.NewRotator(a), v, admin)
	_, err := s.create(s.token(), false)
	if !errors.Is(err, saas.ErrNotAllowed) {
		t.Fatalf("createSecret = %v, want ErrNotAllowed", err)
	}
	if n := totalCalls(f); n != 0 {
		t.Errorf("%d calls reached Twilio, want 0", n)
	}
	s.admin = admin.Clone()
	s.admin.Set("region", "ie1")
	s.rotate() // the fake stands in for the ie1 host (TWILIO_BASE_URL)
}
