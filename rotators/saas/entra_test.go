package saas_test

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// The generic kit (overlap, retried create, faults, discard, stalls, leak
// scans, only-what-it-owns, engine runs) covers Entra through its entry in
// providers; these tests cover what is special about it.

// TestEntraCertificateAdmin: an admin app authenticating with a certificate
// (PS256 client assertion naming it by its SHA-256 thumbprint in x5t#S256, as
// Microsoft's certificate credentials documentation describes; the fake
// refuses anything else) rotates the app's secrets, with one token for two
// rotations. Seen failing before the change, with the fake following the
// documentation: the SHA-256 thumbprint refused as "must be the
// certificate's SHA-1 thumbprint".
func TestEntraCertificateAdmin(t *testing.T) {
	ff, a, cur, _ := providers[3].setup(t, testConfig(nil))
	f := ff.(*fakes.Entra)
	key, thumb := f.AdminCertificate()
	admin := obj(t, map[string]string{"tenantId": f.TenantID, "clientId": f.AdminClientID, "privateKey": key, "certificateThumbprint": thumb})
	s := newStore(t, saas.NewRotator(a), cur, admin)
	s.rotate()
	s.rotate()
	checkCurrent(t, s, f, providers[3])
	if got := len(f.Live()); got != 2 {
		t.Errorf("%d live secrets, want 2", got)
	}
	if n := f.Calls("token"); n != 1 {
		t.Errorf("%d admin token requests, want 1", n)
	}
	// A thumbprint of another certificate is refused by Entra.
	bad := admin.Clone()
	// Change the first digit (a fixed "00" prefix would leave a thumbprint
	// that already starts with it unchanged, 1 run in 256).
	flip := "0"
	if thumb[0] == '0' {
		flip = "1"
	}
	bad.Set("certificateThumbprint", flip+thumb[1:])
	s2 := newStore(t, saas.NewRotator(&saas.Entra{Config: saas.Config{BaseURLs: map[string]string{"entra-login": f.URL(), "entra-graph": f.URL()},
		HTTPClient: checked(t, f)}, Client: saas.Config{HTTPClient: checked(t, f)}.Client()}), s.versions[s.current], bad)
	if _, err := s2.create(s2.token(), false); !errors.Is(err, saas.ErrUnauthorized) {
		t.Errorf("createSecret with a wrong thumbprint = %v, want ErrUnauthorized", err)
	}
	// A SHA-1 thumbprint (the one the portal shows) is refused before any
	// call, naming the key.
	tokens := f.Calls("token")
	sha1 := admin.Clone()
	sha1.Set("certificateThumbprint", thumb[:40])
	s3 := newStore(t, saas.NewRotator(a), s.versions[s.current], sha1)
	var kerr *secret.KeyError
	if _, err := s3.create(s3.token(), false); !errors.As(err, &kerr) || kerr.Key != "certificateThumbprint" {
		t.Errorf("createSecret with a SHA-1 thumbprint = %v, want a KeyError naming certificateThumbprint", err)
	}
	if n := f.Calls("token") - tokens; n != 0 {
		t.Errorf("%d token requests with a SHA-1 thumbprint, want 0", n)
	}
}

// TestEntraTenantConfined: an admin app of another tenant, or an app outside
// the admin's allowedAppIds, is refused before any call.
func TestEntraTenantConfined(t *testing.T) {
	ff, a, cur, admin := providers[3].setup(t, testConfig(nil))
	f := ff.(*fakes.Entra)
	other := admin.Clone()
	other.Set("tenantId", "99999999-9999-9999-9999-999999999999")
	s := newStore(t, saas.NewRotator(a), cur, other)
	if _, err := s.create(s.token(), false); !errors.Is(err, saas.ErrNotAllowed) {
		t.Fatalf("createSecret = %v, want ErrNotAllowed", err)
	}
	listed := admin.Clone()
	listed.Extra[saas.AllowAppIDs] = []byte(`["11111111-1111-1111-1111-111111111111"]`)
	s.admin = listed
	if _, err := s.create(s.token(), false); !errors.Is(err, saas.ErrNotAllowed) {
		t.Fatalf("createSecret = %v, want ErrNotAllowed", err)
	}
	if n := totalCalls(f) + f.Calls("token"); n != 0 {
		t.Errorf("%d calls reached Entra, want 0", n)
	}
	// A user secret naming another cloud would send the admin credential to
	// that cloud's login host: refused before any call.
	china := cur.Clone()
	china.Set("cloud", "china")
	s2 := newStore(t, saas.NewRotator(a), china, admin)
	if _, err := s2.create(s2.token(), false); !errors.Is(err, saas.ErrNotAllowed) {
		t.Fatalf("createSecret with a user secret in another cloud = %v, want ErrNotAllowed", err)
	}
	if n := totalCalls(f) + f.Calls("token"); n != 0 {
		t.Errorf("%d calls reached Entra, want 0", n)
	}
	listed.Extra[saas.AllowAppIDs] = []byte(`["` + f.AppClientID + `"]`)
	s.admin = listed
	s.rotate()
}
