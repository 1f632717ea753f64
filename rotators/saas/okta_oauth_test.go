package saas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// TestOktaOAuthAdmin: an admin secret holding an OAuth 2.0 service app
// (clientId, privateKey) rotates the app's client secret with access tokens
// got by the client credentials grant and a private_key_jwt assertion (RS256
// or ES256), one token for all of a rotation's calls. Seen failing before
// the feature: "key apiToken must hold an Okta API token".
func TestOktaOAuthAdmin(t *testing.T) {
	for _, rsaKey := range []bool{false, true} {
		name := map[bool]string{false: "ES256", true: "RS256"}[rsaKey]
		t.Run(name, func(t *testing.T) {
			ff, a, cur, _ := providers[2].setup(t, testConfig(nil))
			f := ff.(*fakes.Okta)
			id, key := f.ServiceApp(rsaKey, "okta.apps.read", "okta.apps.manage")
			admin := obj(t, map[string]string{"orgUrl": "https://acme.okta.com", saas.OktaAdminClientID: id, saas.OktaAdminPrivateKey: key, saas.OktaAdminKeyID: "kid1"})
			s := newStore(t, saas.NewRotator(a), cur, admin)
			s.rotate()
			s.rotate()
			checkCurrent(t, s, f, providers[2])
			if got := len(f.Live()); got != 2 {
				t.Errorf("%d live secrets, want 2", got)
			}
			if n := f.TokenRequests(); n != 1 {
				t.Errorf("%d token requests for two rotations, want 1 (the token is reused until it expires)", n)
			}
			for _, err := range s.errs {
				noCanary(t, "error", err.Error())
			}
		})
	}
}

// TestOktaOAuthRefusals: a key the app does not know, or scopes it was not
// granted, fail with a clear error and change nothing; a malformed key is a
// KeyError naming privateKey.
func TestOktaOAuthRefusals(t *testing.T) {
	ff, a, cur, _ := providers[2].setup(t, testConfig(nil))
	f := ff.(*fakes.Okta)
	id, _ := f.ServiceApp(false, "okta.apps.read") // not okta.apps.manage
	_, otherKey := fakes.NewOkta(t).ServiceApp(false)
	cases := []struct {
		name  string
		admin map[string]string
		check func(error) bool
	}{
		{"unknown key", map[string]string{"orgUrl": "https://acme.okta.com", saas.OktaAdminClientID: id, saas.OktaAdminPrivateKey: otherKey},
			func(err error) bool { return errors.Is(err, saas.ErrUnauthorized) }},
		{"malformed key", map[string]string{"orgUrl": "https://acme.okta.com", saas.OktaAdminClientID: id, saas.OktaAdminPrivateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
			func(err error) bool {
				var ke *secret.KeyError
				return errors.As(err, &ke) && ke.Key == saas.OktaAdminPrivateKey
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, saas.NewRotator(a), cur, obj(t, tc.admin))
			_, err := s.create(s.token(), false)
			if err == nil || !tc.check(err) {
				t.Fatalf("createSecret = %v", err)
			}
			noCanary(t, "error", err.Error())
		})
	}
	t.Run("scope not granted", func(t *testing.T) {
		id, key := f.ServiceApp(false, "okta.apps.read")
		s := newStore(t, saas.NewRotator(a), cur, obj(t, map[string]string{"orgUrl": "https://acme.okta.com", saas.OktaAdminClientID: id, saas.OktaAdminPrivateKey: key}))
		_, err := s.create(s.token(), false)
		var herr *saas.HTTPError
		if !errors.As(err, &herr) || herr.Status != 400 || !strings.Contains(herr.Detail, "invalid_scope") {
			t.Fatalf("createSecret = %v, want the token endpoint's invalid_scope", err)
		}
		if f.Calls("create")+f.Calls("delete")+f.Calls("deactivate") != 0 {
			t.Error("the app's secrets were changed")
		}
	})
}

// TestOktaSSWSRefusalExplained: a refused SSWS API token's error says why
// such tokens stop working (30 days unused) and what to use instead.
func TestOktaSSWSRefusalExplained(t *testing.T) {
	_, a, cur, _ := providers[2].setup(t, testConfig(nil))
	s := newStore(t, saas.NewRotator(a), cur, obj(t, map[string]string{"apiToken": "00CANARYexpiredtoken0000000000000000000", "orgUrl": "https://acme.okta.com"}))
	_, err := s.create(s.token(), false)
	if !errors.Is(err, saas.ErrUnauthorized) || !strings.Contains(err.Error(), "30 days") {
		t.Fatalf("createSecret = %v, want ErrUnauthorized with the API token expiry explained", err)
	}
	noCanary(t, "error", err.Error())
}
