package saas_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// errKeyRefused is a provider fake refusing a key.
var errKeyRefused = errors.New("the provider refuses the key")

// identifierKeys are, per provider, the secret keys that name something at
// the provider (beyond the key ID).
var identifierKeys = map[string][]string{
	"twilio":           {"accountSid"},
	"okta":             {"appId"},
	"entra-app-secret": {"applicationObjectId"},
}

// saasAdapter is the conformance kit's adapter for one provider: its fake,
// with the first key named and recorded as Rotary's for the stored secret.
func saasAdapter(p provider) rotatortest.Adapter {
	return rotatortest.Adapter{
		Name:           p.name,
		KeepsPrevious:  true,
		IdentifierKeys: append([]string{p.idKey}, identifierKeys[p.name]...),
		New: func(t testing.TB) *rotatortest.Target {
			f, a, cur, admin := p.setup(t, testConfig(nil))
			var reg rotators.Registry
			reg.Register(saas.NewRotator(a), rotators.APIKey, p.name)
			works := func(v secret.Value) bool {
				sec, _ := v.Get(p.secretKey)
				return f.Works(sec)
			}
			return &rotatortest.Target{
				Rotators: &reg,
				Value:    cur,
				Master:   &admin,
				// The first key counts as Rotary's for this secret, so the
				// second rotation revokes it.
				Bind: func(arn string, v secret.Value) (secret.Value, bool) {
					id, _ := v.Get(p.idKey)
					name := saas.SecretPrefix(arn) + "seed"
					f.Rename(id, name)
					v.Set(saas.RecordKey, name)
					return v, true
				},
				Login: func(_ context.Context, v secret.Value) error {
					if !works(v) {
						return errKeyRefused
					}
					return nil
				},
				Credentials: func(context.Context) ([]string, error) { return liveIDs(f), nil },
				Holds: func(_ context.Context, id string, v secret.Value) (bool, error) {
					have, _ := v.Get(p.idKey)
					return have == id && works(v), nil
				},
			}
		},
	}
}

// TestConformance runs the conformance kit for every provider against its
// fake, every request checked against the provider's published OpenAPI
// documents.
func TestConformance(t *testing.T) {
	var names []string
	for _, p := range providers {
		names = append(names, p.name)
		t.Run(p.name, func(t *testing.T) { rotatortest.Run(t, saasAdapter(p)) })
	}
	// Every SaaS engine of the package runs the kit.
	for _, e := range saas.Engines() {
		if !slices.Contains(names, e) {
			t.Errorf("engine %q is registered but has no conformance run", e)
		}
	}
}
