package saas_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// entraSetup builds an Entra fake, an adapter against it, the first
// AWSCURRENT value (holding a secret made in the portal) and the admin secret
// (certificate or client secret).
func entraSetup(t testing.TB, cfg saas.Config, cert bool) (*fakes.Entra, *saas.Entra, secret.Value, secret.Value) {
	t.Helper()
	f := fakes.NewEntra(t)
	k := f.Seed("made in the portal")
	cfg.BaseURLs, cfg.HTTPClient = map[string]string{saas.EngineEntra: f.URL(), saas.EntraLoginURLKey: f.URL()}, f.Client()
	cur := obj(t, map[string]string{"engine": saas.EngineEntra, "masterarn": "arn:aws:secretsmanager:us-east-1:111111111111:secret:entra-admin-AbCdEf",
		"tenantId": f.TenantID, "clientId": f.AppClientID, "applicationObjectId": f.AppObjectID, "keyId": k.ID, "clientSecret": k.Secret})
	admin := map[string]string{"tenantId": f.TenantID, "clientId": f.AdminClientID}
	if cert {
		admin["certificate"], admin["privateKey"] = f.AdminCertPEM, f.AdminKeyPEM
	} else {
		admin["clientSecret"] = f.AdminSecret
	}
	return f, &saas.Entra{Config: cfg, Client: cfg.Client(), Lifetime: 60 * 24 * time.Hour}, cur, obj(t, admin)
}

// entraProviders run in the contract suite.
var entraProviders = []provider{
	{name: "entra-certificate-admin", idKey: "keyId", secretKey: "clientSecret",
		setup: func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
			return entraSetupAny(t, cfg, true)
		}},
	{name: "entra-secret-admin", idKey: "keyId", secretKey: "clientSecret",
		setup: func(t testing.TB, cfg saas.Config) (fake, saas.Adapter, secret.Value, secret.Value) {
			return entraSetupAny(t, cfg, false)
		}},
}

func entraSetupAny(t testing.TB, cfg saas.Config, cert bool) (fake, saas.Adapter, secret.Value, secret.Value) {
	f, a, cur, admin := entraSetup(t, cfg, cert)
	return f, a, cur, admin
}

// entraEnv is the Entra fake behind the real engine, every exchange checked
// against the contracts.
type entraEnv struct {
	*rotationtest.Env
	f      *fakes.Entra
	a      *saas.Entra
	arn    string
	check  *contractChecker
	bodies []string // addPassword request bodies
}

func newEntraEnv(t testing.TB, cert bool, rot func(*saas.Entra) rotators.Rotator) *entraEnv {
	t.Helper()
	f, a, cur, admin := entraSetup(t, testConfig(nil), cert)
	e := &entraEnv{f: f, a: a, check: loadContracts(t)}
	record := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if strings.HasSuffix(req.URL.Path, "/addPassword") {
				b := readBody(req.Body)
				setBody(req, b)
				e.bodies = append(e.bodies, string(b))
			}
			return next.RoundTrip(req)
		})
	}
	installChecker(t, a, f, e.check, []wrapper{record}, nil)
	var reg rotators.Registry
	reg.Register(rot(a), rotators.APIKey, saas.EngineEntra)
	e.Env = rotationtest.New(t, &reg)
	cur.MasterARN = e.CreateSecret(t, "entra-admin", admin)
	e.arn = e.CreateSecret(t, "entra-app", cur)
	return e
}

func entraRotator(a *saas.Entra) rotators.Rotator { return saas.NewEntraRotator(a) }

func (e *entraEnv) keyID(t *testing.T, stage string) string {
	t.Helper()
	id, _ := e.Value(t, e.arn, stage).Get("keyId")
	return id
}

func (e *entraEnv) works(t *testing.T, stage string) bool {
	t.Helper()
	sec, _ := e.Value(t, e.arn, stage).Get("clientSecret")
	return e.f.Works(sec)
}

// TestEntraRotations: rotations through the engine with a certificate admin
// and a client-secret admin. Each rotation mints a secret named for this
// secret and token, valid for the configured lifetime; AWSPREVIOUS keeps
// working for one period; finishSecret removes only secrets minted for this
// secret, so the portal's secret and another secret's survive.
func TestEntraRotations(t *testing.T) {
	for _, cert := range []bool{true, false} {
		name := map[bool]string{true: "certificate admin", false: "client-secret admin"}[cert]
		t.Run(name, func(t *testing.T) {
			e := newEntraEnv(t, cert, entraRotator)
			portal := e.keyID(t, "AWSCURRENT")
			other := e.f.Seed(saas.SecretPrefix("arn:aws:secretsmanager:us-east-1:111111111111:secret:another-AbCdEf") + "tok")
			for i := range 4 {
				before := time.Now()
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
				if !e.works(t, "AWSCURRENT") || !e.works(t, "AWSPREVIOUS") {
					t.Fatalf("rotation %d: AWSCURRENT or AWSPREVIOUS does not authenticate", i+1)
				}
				var in struct {
					PasswordCredential struct{ DisplayName, EndDateTime string } `json:"passwordCredential"`
				}
				if err := json.Unmarshal([]byte(e.bodies[len(e.bodies)-1]), &in); err != nil {
					t.Fatal(err)
				}
				stages := e.Stages(t, e.arn)
				var tok string
				for v, s := range stages {
					if slices.Contains(s, "AWSCURRENT") {
						tok = v
					}
				}
				if want := saas.KeyName(e.arn, tok); in.PasswordCredential.DisplayName != want {
					t.Errorf("displayName %q, want %q", in.PasswordCredential.DisplayName, want)
				}
				end, err := time.Parse(time.RFC3339, in.PasswordCredential.EndDateTime)
				if life := end.Sub(before); err != nil || life < 60*24*time.Hour-time.Minute || life > 60*24*time.Hour+time.Minute {
					t.Errorf("endDateTime %q is not 60 days away (%v)", in.PasswordCredential.EndDateTime, err)
				}
			}
			want := []string{portal, other.ID, e.keyID(t, "AWSCURRENT"), e.keyID(t, "AWSPREVIOUS")}
			got := liveIDs(e.f)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("live secrets %v, want the portal's, the other secret's, AWSCURRENT's and AWSPREVIOUS's %v", got, want)
			}
			e.check.assertClean(t)
			logs := e.Logs()
			noCanary(t, "engine logs", logs)
		})
	}
}

// TestEntraFinishOnlyOwnKeys: a previous version naming a secret Rotary did
// not mint for this secret (the portal's, or another secret's) is kept. The
// generic rotator, run as a control, removes it: the test can fail.
func TestEntraFinishOnlyOwnKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		rot  func(*saas.Entra) rotators.Rotator
		kept bool
	}{
		{"entra rotator", entraRotator, true},
		{"generic rotator (control)", func(a *saas.Entra) rotators.Rotator { return saas.NewRotator(a) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEntraEnv(t, true, tc.rot)
			portal := e.keyID(t, "AWSCURRENT")
			for i := range 2 {
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
			}
			alive := slices.Contains(liveIDs(e.f), portal)
			if alive != tc.kept {
				t.Errorf("portal secret alive after it left AWSPREVIOUS: %v, want %v", alive, tc.kept)
			}
			// Rotary's own keys are still retired one rotation later.
			if n := len(e.f.Live()); tc.kept && n != 3 {
				t.Errorf("%d live secrets, want 3 (portal, AWSCURRENT, AWSPREVIOUS)", n)
			}
		})
	}
}

// TestEntraRefusals: settings that would send a credential elsewhere or
// touch another application are refused before the call that would do it.
func TestEntraRefusals(t *testing.T) {
	f, a, cur, admin := entraSetup(t, testConfig(nil), true)
	ctx := t.Context()
	other := func(v secret.Value, key, val string) secret.Value {
		c := v.Clone()
		if val == "" {
			c.Delete(key)
		} else {
			c.Set(key, val)
		}
		return c
	}
	bogus := "0e0e0e0e-1111-2222-3333-444444444444"
	cases := []struct {
		name       string
		cur, admin secret.Value
		keyErr     string // the secret.KeyError key expected, if any
	}{
		{"admin of another tenant", cur, other(admin, "tenantId", bogus), "tenantId"},
		{"admin of another cloud", cur, other(admin, "cloud", "china"), "cloud"},
		{"unknown cloud", other(cur, "cloud", "https://evil.example"), admin, "cloud"},
		{"tenant not a GUID", other(cur, "tenantId", "../../x"), admin, "tenantId"},
		{"object ID not a GUID", other(cur, "applicationObjectId", "x/../../me"), admin, "applicationObjectId"},
		{"app not allowed for the admin", cur, other(admin, "allowedClientIds", bogus), "allowedClientIds"},
		{"no admin credential", cur, other(other(admin, "certificate", ""), "privateKey", ""), "certificate"},
		{"key not matching the certificate", cur, other(admin, "privateKey", otherKeyPEM(t)), "privateKey"},
		{"admin rotating itself", other(cur, "clientId", f.AdminClientID), admin, ""},
		{"object of an app the admin does not own", other(cur, "applicationObjectId", f.OtherObjectID), admin, ""},
		{"object not of the clientId's app", other(cur, "clientId", f.OtherClientID), admin, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.Calls("create")
			_, err := a.Create(ctx, saas.CreateKeyRequest{Secret: tc.cur, Admin: tc.admin, Name: "rotary-x"})
			if err == nil {
				t.Fatal("Create succeeded")
			}
			var kerr *secret.KeyError
			if tc.keyErr != "" && (!errors.As(err, &kerr) || kerr.Key != tc.keyErr) {
				t.Errorf("Create = %v, want a KeyError for %s", err, tc.keyErr)
			}
			if f.Calls("create") != before {
				t.Error("addPassword was called")
			}
			noCanary(t, "error", err.Error())
		})
	}
	if err := a.Revoke(ctx, saas.RevokeKeyRequest{Secret: cur, Admin: admin, KeyID: "../x"}); err == nil {
		t.Error("Revoke accepted a key ID that is not a GUID")
	}
}

// TestEntraVerifyAndRevoke: a wrong secret is ErrUnauthorized (so testSecret
// waits for replication); revoking a secret already gone is success; a
// secret of an app the admin does not own cannot be touched.
func TestEntraVerifyAndRevoke(t *testing.T) {
	f, a, cur, admin := entraSetup(t, testConfig(nil), false)
	ctx := t.Context()
	id, _ := cur.Get("keyId")
	if err := a.Verify(ctx, saas.VerifyKeyRequest{Secret: cur, Key: saas.Key{ID: id, Secret: "wrong-secret-value"}}); !errors.Is(err, saas.ErrUnauthorized) {
		t.Errorf("Verify(wrong) = %v, want ErrUnauthorized", err)
	}
	sec, _ := cur.Get("clientSecret")
	if err := a.Verify(ctx, saas.VerifyKeyRequest{Secret: cur, Key: saas.Key{ID: id, Secret: sec}}); err != nil {
		t.Errorf("Verify(current) = %v", err)
	}
	for i := range 2 {
		if err := a.Revoke(ctx, saas.RevokeKeyRequest{Secret: cur, Admin: admin, KeyID: id}); err != nil {
			t.Errorf("Revoke #%d = %v", i+1, err)
		}
	}
	if f.Works(sec) {
		t.Error("the revoked secret still works")
	}
	ok := f.SeedFor(f.OtherObjectID, "x")
	otherApp := cur.Clone()
	otherApp.Set("applicationObjectId", f.OtherObjectID)
	otherApp.Set("clientId", f.OtherClientID)
	err := a.Revoke(ctx, saas.RevokeKeyRequest{Secret: otherApp, Admin: admin, KeyID: ok.ID})
	if !errors.Is(err, saas.ErrUnauthorized) && !errors.Is(err, saas.ErrNotFound) {
		var herr *saas.HTTPError
		if !errors.As(err, &herr) || herr.Status != http.StatusForbidden {
			t.Errorf("Revoke on an app the admin does not own = %v, want Graph's 403", err)
		}
	}
	if !f.Works(ok.Secret) {
		t.Error("a secret of an app the admin does not own was removed")
	}
}

// TestEntraRegisterFromEnv: the ENTRA_* settings are read and checked.
func TestEntraRegisterFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{"defaults", nil, false},
		{"settings", map[string]string{saas.EnvEntraSecretLifetime: "720h", saas.EnvEntraGraphBaseURL: "https://graph.example", saas.EnvEntraLoginBaseURL: "https://login.example"}, false},
		{"lifetime too short", map[string]string{saas.EnvEntraSecretLifetime: "1h"}, true},
		{"lifetime not a duration", map[string]string{saas.EnvEntraSecretLifetime: "90 days"}, true},
		{"graph URL with credentials", map[string]string{saas.EnvEntraGraphBaseURL: "https://u:p@graph.example"}, true},
		{"bad shared setting", map[string]string{saas.EnvTimeout: "soon"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reg rotators.Registry
			err := saas.RegisterEntraFromEnv(&reg, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("RegisterEntraFromEnv = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestEntraVerifyWaitsForReplication: a new secret Entra still refuses
// (invalid_client while it replicates) is retried with doubling waits, and
// the rotation completes.
func TestEntraVerifyWaitsForReplication(t *testing.T) {
	var waits []time.Duration
	e := newEntraEnv(t, true, func(a *saas.Entra) rotators.Rotator {
		r := saas.NewEntraRotator(a)
		r.VerifyWait = 15 * time.Second
		r.Sleep = func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			return ctx.Err()
		}
		return r
	})
	e.f.Replication = 2
	if err := e.Rotate(t, e.arn); err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("testSecret waited %v, want %v", waits, want)
	}
	if !e.works(t, "AWSCURRENT") {
		t.Error("AWSCURRENT does not authenticate")
	}
	e.check.assertClean(t)
}

// TestEntraNoLeaks: the admin's private key, certificate and client secret,
// every minted secret and every token stay out of the engine's logs and of
// the errors of a failing rotation.
func TestEntraNoLeaks(t *testing.T) {
	for _, cert := range []bool{true, false} {
		e := newEntraEnv(t, cert, entraRotator)
		if err := e.Rotate(t, e.arn); err != nil {
			t.Fatal(err)
		}
		e.f.EchoRequests(true)
		e.f.Inject(fakes.Fault{Path: "/addPassword", Status: 500, Times: 100})
		err := e.Rotate(t, e.arn)
		if err == nil {
			t.Fatal("rotation succeeded against a failing Graph")
		}
		var values []string
		for _, v := range e.AllValues(t, e.arn) {
			values = append(values, v.Secrets()...)
		}
		values = append(values, e.f.AdminSecret, e.f.AdminKeyPEM)
		for _, text := range []string{e.Logs(), err.Error()} {
			rotationtest.AssertNoLeak(t, "engine logs and error", text, values...)
			noCanary(t, "engine logs and error", text)
		}
	}
}

// otherKeyPEM is an RSA private key that is not the admin certificate's.
func otherKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// BenchmarkEntraRotation reports, per whole rotation through the engine, the
// Secrets Manager calls and the Entra calls (token requests and Graph calls).
func BenchmarkEntraRotation(b *testing.B) {
	e := newEntraEnv(b, true, entraRotator)
	if err := e.Rotate(b, e.arn); err != nil { // past the first rotation: AWSPREVIOUS exists
		b.Fatal(err)
	}
	count := func(ops ...string) (n int) {
		for _, op := range ops {
			n += e.f.Calls(op)
		}
		return n
	}
	tokens, graph := count("token"), count("get", "create", "delete")
	e.ResetSMCalls()
	n := 0
	for b.Loop() {
		if err := e.Rotate(b, e.arn); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(e.SMCalls())/float64(n), "sm-calls/op")
	b.ReportMetric(float64(count("token")-tokens)/float64(n), "token-calls/op")
	b.ReportMetric(float64(count("get", "create", "delete")-graph)/float64(n), "graph-calls/op")
}
