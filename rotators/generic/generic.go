// Package generic rotates a secret that lives nowhere but in Secrets Manager: a
// shared random value (a webhook signing key, an internal token) that consumers
// read from the secret itself. Its engine is "generic"; each rotation replaces the
// password key with a new random value and keeps every other key.
//
// It is the smallest complete rotator and the one the engine's own tests use. It
// must not change anything outside the secret.
package generic

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Engine is the engine key this rotator handles.
const Engine = "generic"

// Rotator replaces the password key with a new random value.
type Rotator struct {
	Policy password.Policy
}

var _ rotators.Rotator = (*Rotator)(nil)

// New returns a Rotator generating passwords with policy.
func New(policy password.Policy) *Rotator { return &Rotator{Policy: policy} }

// Register adds the rotator to reg under the generic engine.
func Register(reg *rotators.Registry, policy password.Policy) {
	reg.Register(New(policy), rotators.SingleUser, Engine)
}

// Build is start-up's way in: it reads the password policy of AWS's
// template variables through deps.Getenv and registers the rotator.
func Build(reg *rotators.Registry, deps rotators.Deps) error {
	policy, err := password.FromEnv(deps.Env, "")
	if err != nil {
		return err
	}
	Register(reg, policy)
	return nil
}

// Create returns the current value with a new password. Safe to call twice:
// nothing outside the returned value changes.
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if err := req.Current.Require(secret.KeyEngine); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	pw, err := req.Passwords.Generate(ctx, r.Policy)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: generate password: %w", err)
	}
	pending := req.Current.Clone()
	pending.Password = pw
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set has nothing to apply: the secret is the only place the value lives.
func (r *Rotator) Set(context.Context, rotators.SetRequest) (rotators.SetResponse, error) {
	return rotators.SetResponse{}, nil
}

// Test checks that the pending value holds a password.
func (r *Rotator) Test(_ context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	if req.Pending.Password == "" {
		return rotators.TestResponse{}, errors.New("testSecret: pending value has no password")
	}
	return rotators.TestResponse{}, nil
}
