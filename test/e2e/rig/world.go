package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// The accounts and names of the standard world.
const (
	Region         = "us-east-1"
	CentralAccount = "111111111111" // the central function's home
	MemberA        = "222222222222" // member accounts, allowed in central mode
	MemberB        = "333333333333"
	RoleName       = awsx.DefaultRoleName // the member role central mode assumes
	// ExternalID is the ExternalId the member roles require and the central
	// function is configured with. It is not a secret; functions keep it out
	// of their logs anyway, which the tests check.
	ExternalID = "rotary-e2e-external-id-5c1d"
)

// World is a local AWS (Secrets Manager and STS) with a central account and
// member accounts. Close it when done.
type World struct {
	// AWS is the emulator: rotation runs, call counters, faults.
	AWS *localaws.Server
	// URL is the emulator's endpoint (http://127.0.0.1:PORT).
	URL string

	srv   *httptest.Server
	mu    sync.Mutex
	creds map[string]localaws.Credentials
	fns   []*Function
}

// NewWorld starts an emulator on a loopback port with the central account and
// MemberA and MemberB, whose rotary-member roles trust the central account and
// require ExternalID.
func NewWorld(opts localaws.Options) *World {
	s := localaws.New(opts)
	srv := httptest.NewServer(s) // listens on 127.0.0.1
	s.URL = srv.URL
	w := &World{AWS: s, URL: srv.URL, srv: srv, creds: map[string]localaws.Credentials{}}
	w.Account(CentralAccount)
	w.AddMember(MemberA, ExternalID)
	w.AddMember(MemberB, ExternalID)
	return w
}

// Close stops every function started with StartFunction, then the emulator.
func (w *World) Close() {
	w.mu.Lock()
	fns := w.fns
	w.fns = nil
	w.mu.Unlock()
	for _, f := range fns {
		f.Stop()
	}
	w.AWS.WaitRotations()
	w.srv.Close()
}

// Account makes sure the account exists and returns credentials acting in it
// (the same ones on every call).
func (w *World) Account(id string) localaws.Credentials {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.creds[id]; ok {
		return c
	}
	c := w.AWS.AddAccount(id)
	w.creds[id] = c
	return c
}

// AddMember creates a member account whose RoleName role (rotation) and
// AuditRoleName role (the fleet audit, read-only) trust the central account
// and require externalID ("" for none).
func (w *World) AddMember(account, externalID string) {
	w.Account(account)
	for _, name := range []string{RoleName, AuditRoleName} {
		w.AWS.AddRole(localaws.Role{
			Account:         account,
			Name:            name,
			TrustedAccounts: []string{CentralAccount},
			ExternalID:      externalID,
		})
	}
}

// SecretsManager returns a client acting in account with the account's own
// (administrator) credentials, as the secret's owner would use.
func (w *World) SecretsManager(account string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(w.AWS.AWSConfig(w.Account(account), Region))
}

// FunctionConfig describes one deployment of a rotation function.
type FunctionConfig struct {
	// Name is the function's name; its ARN is
	// arn:aws:lambda:<Region>:<Home>:function:<Name>.
	Name string
	// Home is the account the function runs in (its credentials).
	Home string
	// Mode is ROTARY_MODE; central mode allows Allowed.
	Mode awsx.Mode
	// Allowed is ROTARY_ALLOWED_ACCOUNTS (central mode).
	Allowed []string
	// ExternalID is ROTARY_EXTERNAL_ID.
	ExternalID string
	// CABundle is ROTARY_CA_BUNDLE: the PEM file the database rotators trust.
	CABundle string
	// Env holds more KEY=VALUE settings.
	Env []string
}

// Function is a rotation function running under the RIE and registered with
// the emulator.
type Function struct {
	*lambdarie.Function
	ARN    string
	Config FunctionConfig

	mu     sync.Mutex
	tokens []string // every RotationToken sent to the function
}

// Invoke implements localaws.Function: it remembers the event's
// RotationToken (for FindTokenLeak) and forwards the event to the RIE.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev struct{ RotationToken string }
	if json.Unmarshal(payload, &ev) == nil && ev.RotationToken != "" {
		f.mu.Lock()
		if !slices.Contains(f.tokens, ev.RotationToken) {
			f.tokens = append(f.tokens, ev.RotationToken)
		}
		f.mu.Unlock()
	}
	return localaws.HTTPFunction(f.InvokeURL).Invoke(ctx, payload)
}

// TokensSeen returns how many distinct RotationTokens the function received.
func (f *Function) TokensSeen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokens)
}

// FindTokenLeak returns an error if text holds any RotationToken sent to the
// function. The error does not show the token.
func (f *Function) FindTokenLeak(what, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, t := range f.tokens {
		if strings.Contains(text, t) {
			return fmt.Errorf("%s holds RotationToken #%d of %s", what, i+1, f.Config.Name)
		}
	}
	return nil
}

// FindTokenInRequests returns an error if the emulator's request log reqs
// holds any RotationToken sent to the function, in any field, or an STS
// session named after one (awsx.SessionName keeps only a token's first 8
// characters, so a session name is checked for that prefix): sessions must
// be named after the ClientRequestToken, a version ID. The error does not
// show the token.
func (f *Function) FindTokenInRequests(what string, reqs []localaws.LoggedRequest) error {
	all, err := json.Marshal(reqs)
	if err != nil {
		return err
	}
	if err := f.FindTokenLeak(what, string(all)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range reqs {
		for i, t := range f.tokens {
			if r.Session != "" && len(t) >= 8 && strings.Contains(r.Session, t[:8]) {
				return fmt.Errorf("%s: %s by a session named after RotationToken #%d of %s", what, r.Action, i+1, f.Config.Name)
			}
		}
	}
	return nil
}

// Environment returns the function's environment for cfg: the home account's
// credentials, the emulator as every AWS endpoint, and Rotary's settings.
func (w *World) Environment(cfg FunctionConfig) []string {
	creds := w.Account(cfg.Home)
	env := []string{
		"AWS_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + w.URL,
		"AWS_LAMBDA_LOG_LEVEL=INFO",
		awsx.EnvHomeAccount + "=" + cfg.Home,
		awsx.EnvMode + "=" + string(cfg.Mode),
		awsx.EnvRoleName + "=" + RoleName,
		"ROTARY_CONNECT_TIMEOUT=5s",
	}
	if len(cfg.Allowed) > 0 {
		env = append(env, awsx.EnvAllowedAccounts+"="+strings.Join(cfg.Allowed, ","))
	}
	if cfg.ExternalID != "" {
		env = append(env, awsx.EnvExternalID+"="+cfg.ExternalID)
	}
	if cfg.CABundle != "" {
		env = append(env, "ROTARY_CA_BUNDLE="+cfg.CABundle)
	}
	return append(env, cfg.Env...)
}

// StartFunction runs bootstrap under the RIE binary rie with cfg and
// registers it with the emulator under its ARN: RotateSecret invokes it over
// HTTP through the RIE's invoke URL. World.Close stops it.
func (w *World) StartFunction(ctx context.Context, rie, bootstrap string, cfg FunctionConfig) (*Function, error) {
	if cfg.Mode == "" {
		cfg.Mode = awsx.ModeAccount
	}
	lf, err := lambdarie.Start(ctx, rie, bootstrap, w.Environment(cfg))
	if err != nil {
		return nil, fmt.Errorf("start function %s: %w", cfg.Name, err)
	}
	if err := CheckLoopback(lf.InvokeURL); err != nil {
		lf.Stop()
		return nil, err
	}
	f := &Function{Function: lf, ARN: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, cfg.Home, cfg.Name), Config: cfg}
	w.AWS.RegisterFunction(f.ARN, f)
	w.mu.Lock()
	w.fns = append(w.fns, f)
	w.mu.Unlock()
	return f, nil
}

// CheckLoopback returns an error unless rawURL's host is a loopback IP
// address.
func CheckLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse %q: %w", rawURL, err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not on a loopback address", rawURL)
	}
	return nil
}
