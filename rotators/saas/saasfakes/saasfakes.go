// Package saasfakes exports the SaaS provider fakes of rotators/saas
// (internal/fakes: httptest TLS servers of SendGrid's, Twilio's and Okta's key
// endpoints, and of Entra ID's token endpoint with Graph's application
// password credentials) to tests outside rotators/saas, such as the hostile-tenant suite
// in test/hostile, which runs the built central function against them. It
// only re-exports: the fakes themselves stay in internal/fakes.
//
// Test infrastructure: production code must never import it.
package saasfakes

import (
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
)

// The fakes and their values, as defined in rotators/saas/internal/fakes.
type (
	// SendGrid fakes the SendGrid v3 API keys endpoints.
	SendGrid = fakes.SendGrid
	// Twilio fakes the Twilio v2010 Key and Balance resources.
	Twilio = fakes.Twilio
	// Okta fakes an Okta org's app client secret endpoints.
	Okta = fakes.Okta
	// Entra fakes an Entra ID tenant's token endpoint and Graph's
	// application password credentials.
	Entra = fakes.Entra
	// Key is a key a fake holds.
	Key = fakes.Key
	// Fault makes a fake answer a matching request with an error.
	Fault = fakes.Fault
)

// Canary starts every secret a fake mints or seeds.
const Canary = fakes.Canary

// NewSendGrid starts a SendGrid fake, closed when t ends.
func NewSendGrid(t testing.TB) *SendGrid { return fakes.NewSendGrid(t) }

// NewTwilio starts a Twilio fake with a random account, closed when t ends.
func NewTwilio(t testing.TB) *Twilio { return fakes.NewTwilio(t) }

// NewOkta starts an Okta fake org with one app, closed when t ends.
func NewOkta(t testing.TB) *Okta { return fakes.NewOkta(t) }

// NewEntra starts an Entra ID fake tenant with an admin app and one
// application, closed when t ends.
func NewEntra(t testing.TB) *Entra { return fakes.NewEntra(t) }
