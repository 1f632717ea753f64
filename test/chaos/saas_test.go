package chaos_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/saasfakes"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// saasFake is what the chaos cases use of a provider fake.
type saasFake interface {
	URL() string
	CertPEM() []byte
	Works(secret string) bool
	Live() []saasfakes.Key
	Calls(op string) int
	Inject(f saasfakes.Fault)
}

// saasTarget observes a provider fake: a value authenticates when its key
// works, and every live key but the admin's must be held by a stored version
// (a key minted and never stored, or never revoked, is reported).
type saasTarget struct {
	fake             saasFake
	admin            string // the admin credential, not a rotated key
	idKey, secretKey string // the secret's keys
}

func (s *saasTarget) Authenticates(_ context.Context, v secret.Value) (bool, error) {
	k, _ := v.Get(s.secretKey)
	return k != "" && s.fake.Works(k), nil
}

func (s *saasTarget) Users(context.Context) ([]string, error) {
	var ids []string
	for _, k := range s.fake.Live() {
		if k.Secret != s.admin {
			ids = append(ids, k.ID)
		}
	}
	return ids, nil
}

func (s *saasTarget) Holds(_ context.Context, account string, v secret.Value) (bool, error) {
	id, _ := v.Get(s.idKey)
	k, _ := v.Get(s.secretKey)
	return id == account && s.fake.Works(k), nil
}

// saasProvider is one SaaS function with its fake, for the RIE cases.
type saasProvider struct {
	fn string
	// revoke is the request that takes a key out of service (Okta's
	// deactivation: a deactivated key no longer works, its deletion
	// follows), made to fail once; revokeOp names it for Calls.
	revoke   saasfakes.Fault
	revokeOp string
	// revokeStep is the step that revokes AWSPREVIOUS's key: finishSecret,
	// or createSecret at Okta (which makes room for the new secret first).
	revokeStep string
	// removeHand, when set, deletes the hand-made first key as its owner
	// must after the first rotation (Okta keeps two secrets per app, and
	// Rotary never revokes a key it did not mint).
	removeHand func(t *testing.T, f saasFake, id string)
	// start starts the fake and returns it, the master and current values
	// (the current key made by hand), the target and the function's
	// settings.
	start func(t *testing.T) (saasFake, secret.Value, secret.Value, *saasTarget, []string)
}

var saasProviders = []saasProvider{
	{fn: "sendgrid", revoke: saasfakes.Fault{Method: http.MethodDelete, Path: "/v3/api_keys/"}, revokeOp: "delete", start: func(t *testing.T) (saasFake, secret.Value, secret.Value, *saasTarget, []string) {
		sg := saasfakes.NewSendGrid(t)
		k := sg.Seed("chaos-app", "mail.send")
		var master, v secret.Value
		master.Set("apiKey", sg.AdminKey)
		v.Engine = saas.EngineSendGrid
		v.Set("apiKeyId", k.ID)
		v.Set("apiKey", k.Secret)
		return sg, master, v, &saasTarget{fake: sg, admin: sg.AdminKey, idKey: "apiKeyId", secretKey: "apiKey"},
			[]string{saas.EnvSendGridBaseURL + "=" + sg.URL()}
	}},
	{fn: "twilio", revoke: saasfakes.Fault{Method: http.MethodDelete, Path: "/Keys/"}, revokeOp: "delete", start: func(t *testing.T) (saasFake, secret.Value, secret.Value, *saasTarget, []string) {
		tw := saasfakes.NewTwilio(t)
		k := tw.Seed("chaos-app")
		var master, v secret.Value
		master.Set("accountSid", tw.AccountSID)
		master.Set("authToken", tw.AuthToken)
		v.Engine = saas.EngineTwilio
		v.Set("accountSid", tw.AccountSID)
		v.Set("apiKeyId", k.ID)
		v.Set("apiKeySecret", k.Secret)
		return tw, master, v, &saasTarget{fake: tw, admin: tw.AuthToken, idKey: "apiKeyId", secretKey: "apiKeySecret"},
			[]string{saas.EnvTwilioBaseURL + "=" + tw.URL(), saas.EnvTwilioIAMBaseURL + "=" + tw.URL()}
	}},
	{fn: "okta", revoke: saasfakes.Fault{Method: http.MethodPost, Path: "/lifecycle/deactivate"}, revokeOp: "deactivate", revokeStep: localaws.StepCreate, removeHand: removeOktaSecret, start: func(t *testing.T) (saasFake, secret.Value, secret.Value, *saasTarget, []string) {
		o := saasfakes.NewOkta(t)
		k := o.Seed()
		var master, v secret.Value
		master.Set("apiToken", o.APIToken)
		master.Set("orgUrl", "https://chaos.okta.com")
		v.Engine = saas.EngineOkta
		v.Set("orgUrl", "https://chaos.okta.com") // OKTA_BASE_URL sends the calls to the fake
		v.Set("appId", o.AppID)
		v.Set("clientId", o.ClientID)
		v.Set("keyId", k.ID)
		v.Set("clientSecret", k.Secret)
		return o, master, v, &saasTarget{fake: o, admin: o.APIToken, idKey: "keyId", secretKey: "clientSecret"},
			[]string{saas.EnvOktaBaseURL + "=" + o.URL()}
	}},
	{fn: "entra", revoke: saasfakes.Fault{Method: http.MethodPost, Path: "/removePassword"}, revokeOp: "delete", start: func(t *testing.T) (saasFake, secret.Value, secret.Value, *saasTarget, []string) {
		e := saasfakes.NewEntra(t)
		k := e.Seed("chaos-app")
		var master, v secret.Value
		master.Set("tenantId", e.TenantID)
		master.Set("clientId", e.AdminClientID)
		master.Set("clientSecret", e.AdminSecret)
		v.Engine = saas.EngineEntra
		v.Set("tenantId", e.TenantID)
		v.Set("applicationObjectId", e.AppObjectID)
		v.Set("clientId", e.AppClientID)
		v.Set("keyId", k.ID)
		v.Set("clientSecret", k.Secret)
		return e, master, v, &saasTarget{fake: e, admin: e.AdminSecret, idKey: "keyId", secretKey: "clientSecret"},
			[]string{saas.EnvEntraLoginBaseURL + "=" + e.URL(), saas.EnvEntraGraphBaseURL + "=" + e.URL()}
	}},
}

// removeOktaSecret deactivates and deletes an Okta client secret through the
// fake's API with the admin token, as the app's owner would in Okta's console.
func removeOktaSecret(t *testing.T, f saasFake, id string) {
	t.Helper()
	o := f.(*saasfakes.Okta)
	base := o.URL() + "/api/v1/apps/" + o.AppID + "/credentials/secrets/" + id
	for _, req := range []struct{ method, url string }{{http.MethodPost, base + "/lifecycle/deactivate"}, {http.MethodDelete, base}} {
		r, err := http.NewRequestWithContext(t.Context(), req.method, req.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "SSWS "+o.APIToken)
		resp, err := o.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s", req.method, req.url, resp.Status)
		}
	}
}

// certFile writes the fake's self-signed certificate where the function
// trusts it (SSL_CERT_FILE).
func certFile(t *testing.T, f saasFake) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(path, f.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSaaSKilledUnderRIE runs the built sendgrid, twilio, okta and entra
// functions under the Lambda RIE against their provider fakes: killed after
// the key was minted and before PutSecretValue stored it, and with
// revocation failing (a later rotation, so there is a previous key Rotary
// minted to revoke: at finishSecret; at Okta, which keeps two secrets per
// app, at createSecret, where the deactivation makes room; Entra's is
// removePassword). ROTARY_CHAOS=full adds every other
// Secrets Manager kill point (counted on an undisturbed run). The service's
// retries must complete the rotation, no minted key may be left at rest that
// no version holds (nor one that only an unlabelled version holds), and
// AWSPREVIOUS keeps working at rest.
func TestSaaSKilledUnderRIE(t *testing.T) {
	dbtest.NeedsServers(t)
	t.Parallel()
	for _, p := range saasProviders {
		t.Run(p.fn, func(t *testing.T) {
			var fake saasFake
			newCase := func(t *testing.T, sc rieSchedule) rieCase {
				f, master, v, target, env := p.start(t)
				fake = f
				hand, _ := v.Get(target.idKey)
				pre := 0
				if sc.fault != nil {
					pre = 2 // the first key was made by hand: Rotary revokes only keys it minted
				}
				c := rieCase{fn: p.fn, value: v, master: &master, pre: pre, keepsPrevious: true, accountsAtRest: true,
					env:    append(env, "SSL_CERT_FILE="+certFile(t, f), saas.EnvVerifyWait+"=0s", saas.EnvMaxAttempts+"=1"),
					target: target, atRest: onlyLabelledKeys(target, hand)}
				if p.removeHand != nil {
					c.afterFirst = func(t *testing.T) { p.removeHand(t, f, hand) }
				}
				return c
			}
			calls := chaos.StepCalls{localaws.StepCreate: {"PutSecretValue": 1}}
			if chaos.Full() {
				calls = rieDiscover(t, newCase(t, rieSchedule{}))
			}
			var scheds []rieSchedule
			for _, s := range rieSchedules(calls, nil) {
				if chaos.Full() || (s.op == "PutSecretValue" && s.when == chaos.Before) {
					scheds = append(scheds, s)
				}
			}
			step := p.revokeStep
			if step == "" {
				step = localaws.StepFinish
			}
			scheds = append(scheds, rieSchedule{step: step, what: "revocation-fails", fault: func() func() int {
				before := fake.Calls(p.revokeOp)
				f := p.revoke
				f.Status = http.StatusInternalServerError
				fake.Inject(f)
				return func() int {
					if fake.Calls(p.revokeOp) > before {
						return 1
					}
					return 0
				}
			}})
			for _, sc := range scheds {
				t.Run(sc.String(), func(t *testing.T) { runRIE(t, newCase(t, sc), sc) })
			}
		})
	}
}

// onlyLabelledKeys: at rest the live keys Rotary minted are exactly the ones
// AWSCURRENT and AWSPREVIOUS hold; a key whose version lost its labels must
// have been revoked (a stored but unlabelled version does not excuse it).
// hand is the first key, made by hand, which Rotary leaves to its owner.
func onlyLabelledKeys(tg *saasTarget, hand string) func(context.Context, *secretsmanager.Client, string) error {
	return func(ctx context.Context, sm *secretsmanager.Client, arn string) error {
		held := map[string]bool{}
		for _, label := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			v, err := chaos.ReadValue(ctx, sm, arn, "", label)
			if err != nil {
				return fmt.Errorf("read %s: %w", label, err)
			}
			id, _ := v.Get(tg.idKey)
			held[id] = true
		}
		for _, k := range tg.fake.Live() {
			if k.Secret != tg.admin && k.ID != hand && !held[k.ID] {
				return fmt.Errorf("key %s is live but neither AWSCURRENT nor AWSPREVIOUS holds it", k.ID)
			}
		}
		return nil
	}
}
