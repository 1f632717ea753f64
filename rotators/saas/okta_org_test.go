package saas_test

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// TestOktaOrgIsTheAdmins: the admin credential (an SSWS API token, or a
// service app's client assertion) is sent to the rotated secret's orgUrl, which
// whoever may write that secret chooses. Any Okta org host is allowed by
// default, and anyone can own one (a developer org): so the user secret's
// orgUrl must be the admin secret's own, or a writer of a user secret could
// send the admin's API token to an org they own.
func TestOktaOrgIsTheAdmins(t *testing.T) {
	o := &saas.Okta{}
	user := func(org string) secret.Value {
		return obj(t, map[string]string{"engine": "okta", "orgUrl": org, "appId": "0oaAPP1", "clientId": "0oaCLIENT1"})
	}
	admin := obj(t, map[string]string{"apiToken": "00CANARYadmintoken", "orgUrl": "https://acme.okta.com"})
	for _, org := range []string{"https://acme.okta.com", "https://ACME.okta.com/", "HTTPS://acme.okta.com"} {
		if err := o.Permit(user(org), admin); err != nil {
			t.Errorf("orgUrl %q, the admin's own: %v", org, err)
		}
	}
	for _, org := range []string{"https://evil.okta.com", "https://acme.okta.com.evil.example", "http://acme.okta.com", "https://acme.okta.com:8443"} {
		if err := o.Permit(user(org), admin); !errors.Is(err, saas.ErrNotAllowed) {
			t.Errorf("orgUrl %q with the admin of https://acme.okta.com: %v, want ErrNotAllowed", org, err)
		}
	}
	noOrg := obj(t, map[string]string{"apiToken": "00CANARYadmintoken"})
	var ke *secret.KeyError
	if err := o.Permit(user("https://acme.okta.com"), noOrg); !errors.As(err, &ke) || ke.Key != "orgUrl" {
		t.Errorf("an admin secret without orgUrl: %v, want a KeyError naming orgUrl", err)
	}
}
