package saas_test

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
)

// The generic kit (overlap, retried create, faults, discard, stalls, leak
// scans, only-what-it-owns, engine runs) covers Entra through its entry in
// providers; these tests cover what is special about it.

// TestEntraCertificateAdmin: an admin app authenticating with a certificate
// (RS256 client assertion with x5t) rotates the app's secrets, with one token
// for two rotations.
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
	bad.Set("certificateThumbprint", "00"+thumb[2:])
	s2 := newStore(t, saas.NewRotator(&saas.Entra{Config: saas.Config{BaseURLs: map[string]string{"entra-login": f.URL(), "entra-graph": f.URL()},
		HTTPClient: checked(t, f)}, Client: saas.Config{HTTPClient: checked(t, f)}.Client()}), s.versions[s.current], bad)
	if _, err := s2.create(s2.token(), false); !errors.Is(err, saas.ErrUnauthorized) {
		t.Errorf("createSecret with a wrong thumbprint = %v, want ErrUnauthorized", err)
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
	listed.Extra[saas.AllowAppIDs] = []byte(`["` + f.AppClientID + `"]`)
	s.admin = listed
	s.rotate()
}
