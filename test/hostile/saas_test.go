package hostile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas/saasfakes"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
)

// saasWorld is the emulator, the three SaaS fakes and the central function
// pointed at them (<PROVIDER>_BASE_URL; the fakes' certificates trusted through
// SSL_CERT_FILE, the function's system roots).
type saasWorld struct {
	w        *rig.World
	fn       *rig.Function
	sendgrid *saasfakes.SendGrid
	twilio   *saasfakes.Twilio
	okta     *saasfakes.Okta
}

func startSaaS(t *testing.T) *saasWorld {
	t.Helper()
	sw := &saasWorld{w: world(t), sendgrid: saasfakes.NewSendGrid(t), twilio: saasfakes.NewTwilio(t), okta: saasfakes.NewOkta(t)}
	var roots []byte
	for _, f := range []interface{ CertPEM() []byte }{sw.sendgrid, sw.twilio, sw.okta} {
		roots = append(roots, f.CertPEM()...)
	}
	rootsFile := filepath.Join(t.TempDir(), "saas-roots.pem")
	if err := os.WriteFile(rootsFile, roots, 0o644); err != nil {
		t.Fatal(err)
	}
	sw.fn = startCentral(t, sw.w, centralConfig("rotary-central", "",
		"SSL_CERT_FILE="+rootsFile,
		"SENDGRID_BASE_URL="+sw.sendgrid.URL(),
		"TWILIO_BASE_URL="+sw.twilio.URL(),
		"OKTA_BASE_URL="+sw.okta.URL(),
		"SAAS_VERIFY_WAIT=1s",
	))
	return sw
}

// createJSON creates a secret from keys (every value a string) in account.
func createJSON(t *testing.T, w *rig.World, account, name string, keys map[string]string) string {
	t.Helper()
	var v secret.Value
	for k, val := range keys {
		v.Set(k, val)
	}
	return createSecret(t, w, account, name, v)
}

// keyState is what an attack could change at a provider: which keys exist and
// whether each is active.
func keyState(keys []saasfakes.Key) []string {
	var out []string
	for _, k := range keys {
		s := k.ID + " inactive"
		if k.Active {
			s = k.ID + " active"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// provider is a SaaS fake as the cross-account attacks see it.
type provider interface {
	All() []saasfakes.Key
	Calls(op string) int
}

// crossAccountRefused rotates s (member A's secret naming B's admin secret)
// and checks that it is refused, naming masterarn and the account, before
// anything in B was read, and that B's provider account p saw no change
// (keys) and no create, delete or list call (account).
func crossAccountRefused(t *testing.T, sw *saasWorld, s *rig.Secret, planted *secrets, p provider, keys, account string) {
	t.Helper()
	w := sw.w
	before := keyState(p.All())

	w.AWS.ResetCalls()
	refused(t, w, s, sw.fn, planted, "masterarn", "account")
	neverRead(t, w, memberB)
	centralNeverRead(t, w)
	if after := keyState(p.All()); !slices.Equal(after, before) {
		t.Errorf("%s changed: before %v, after %v", keys, before, after)
	}
	for _, op := range []string{"create", "delete", "list"} {
		if n := p.Calls(op); n != 0 {
			t.Errorf("%d %s calls to %s, want 0", n, op, account)
		}
	}
}

// TestCrossAccountSaaSAdmin is attack 1 for API keys: member A's secret names
// member B's admin secret as its masterarn, and B's provider account as its
// own (Twilio: B's accountSid; Okta: B's app). The function must refuse before
// reading B's admin secret: no call in B, no key minted, revoked or
// deactivated in B's provider account.
func TestCrossAccountSaaSAdmin(t *testing.T) {
	sw := startSaaS(t)
	w := sw.w

	t.Run("twilio", func(t *testing.T) {
		planted := &secrets{}
		planted.add(sw.twilio.AuthToken)
		seeded := sw.twilio.Seed("b-app")
		planted.add(seeded.Secret)
		adminARN := createJSON(t, w, memberB, "twilio/admin", map[string]string{"accountSid": sw.twilio.AccountSID, "authToken": sw.twilio.AuthToken})
		mine := "A-own-" + rig.RandomHex(8)
		planted.add(mine)
		arn := createJSON(t, w, memberA, "hostile/twilio", map[string]string{
			"engine": "twilio", "masterarn": adminARN, "accountSid": sw.twilio.AccountSID,
			"apiKeyId": "SK" + rig.RandomHex(16), "apiKeySecret": mine,
		})
		s := &rig.Secret{Case: rig.Case{Name: "hostile/twilio", Account: memberA, Strategy: rotators.APIKey}, ARN: arn}
		crossAccountRefused(t, sw, s, planted, sw.twilio, "B's Twilio keys", "B's Twilio account")
	})

	t.Run("okta", func(t *testing.T) {
		planted := &secrets{}
		planted.add(sw.okta.APIToken)
		for range 2 {
			planted.add(sw.okta.Seed().Secret) // B's consumers' current and previous secrets
		}
		adminARN := createJSON(t, w, memberB, "okta/admin", map[string]string{"apiToken": sw.okta.APIToken, "orgUrl": "https://b-org.okta.com"})
		mine := "A-own-" + rig.RandomHex(8)
		planted.add(mine)
		arn := createJSON(t, w, memberA, "hostile/okta", map[string]string{
			"engine": "okta", "masterarn": adminARN, "orgUrl": "https://b-org.okta.com",
			"appId": sw.okta.AppID, "clientId": sw.okta.ClientID, "keyId": "ocs" + rig.RandomHex(8), "clientSecret": mine,
		})
		s := &rig.Secret{Case: rig.Case{Name: "hostile/okta", Account: memberA, Strategy: rotators.APIKey}, ARN: arn}
		crossAccountRefused(t, sw, s, planted, sw.okta, "B's Okta app client secrets", "B's Okta org")
	})
}

// TestSaaSRotation is a legitimate path: member A's SendGrid key, with A's
// own admin secret, rotates through the built function; the new key works,
// the old one keeps working (one period of overlap), and B is never touched.
func TestSaaSRotation(t *testing.T) {
	sw := startSaaS(t)
	w := sw.w
	planted := &secrets{}
	planted.add(sw.sendgrid.AdminKey)
	k := sw.sendgrid.Seed("a-app", "mail.send")
	planted.add(k.Secret)
	adminARN := createJSON(t, w, memberA, "sendgrid/admin", map[string]string{"apiKey": sw.sendgrid.AdminKey})
	arn := createJSON(t, w, memberA, "app/sendgrid", map[string]string{"engine": "sendgrid", "masterarn": adminARN, "apiKeyId": k.ID, "apiKey": k.Secret})
	s := &rig.Secret{Case: rig.Case{Name: "app/sendgrid", Account: memberA, Strategy: rotators.APIKey}, ARN: arn}

	w.AWS.ResetCalls()
	r, err := w.Rotate(t.Context(), s, sw.fn)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Outcome != "Succeeded" {
		t.Fatalf("rotation: %s: %s", r.Run.Outcome, r.Run.Error)
	}
	out, err := w.SecretsManager(memberA).GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := secret.Parse([]byte(aws.ToString(out.SecretString)))
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := cur.Get("apiKey")
	planted.add(newKey)
	if newKey == k.Secret || !sw.sendgrid.Works(newKey) {
		t.Error("AWSCURRENT's key is not a new working key")
	}
	if !sw.sendgrid.Works(k.Secret) {
		t.Error("the previous key stopped working: consumers have one rotation period of overlap")
	}
	neverRead(t, w, memberB)
	centralNeverRead(t, w)
	noLeaks(t, sw.fn, planted, nil, r.Run.Error)
}

// TestSaaSOnlyWhatItOwns: two teams of member A share one SendGrid account and
// its admin secret. The hostile team writes the other team's key ID into its
// own secret — as the version that will be AWSPREVIOUS (which finishSecret
// revokes), and as its current key ID (whose scopes a new key copies). The
// victim's key must stay live, and no key with the victim's scopes may be
// minted for the attacker. (Whether the rotation is refused or the foreign key
// is merely left alone is the rotator's choice; what it owns is not.)
func TestSaaSOnlyWhatItOwns(t *testing.T) {
	sw := startSaaS(t)
	w := sw.w
	planted := &secrets{}
	planted.add(sw.sendgrid.AdminKey)
	own := sw.sendgrid.Seed("hostile-team", "mail.send")
	planted.add(own.Secret)
	// The other team's key, one per case.
	victimKey := func() saasfakes.Key {
		k := sw.sendgrid.Seed("victim-team", "mail.send", "api_keys.read", "user.profile.read")
		planted.add(k.Secret)
		return k
	}
	adminARN := createJSON(t, w, memberA, "sendgrid/shared-admin", map[string]string{"apiKey": sw.sendgrid.AdminKey})

	t.Run("victim key as AWSPREVIOUS", func(t *testing.T) {
		// The first version names the victim's key; the second, the
		// attacker's own key, becomes AWSCURRENT and pushes the first to
		// AWSPREVIOUS.
		victim := victimKey()
		arn := createJSON(t, w, memberA, "hostile/sendgrid-previous", map[string]string{"engine": "sendgrid", "masterarn": adminARN, "apiKeyId": victim.ID, "apiKey": "SG." + victim.ID + ".not-the-real-secret"})
		var v secret.Value
		for k, val := range map[string]string{"engine": "sendgrid", "masterarn": adminARN, "apiKeyId": own.ID, "apiKey": own.Secret} {
			v.Set(k, val)
		}
		if _, err := w.SecretsManager(memberA).PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(v.StoredJSON())}); err != nil {
			t.Fatal(err)
		}
		s := &rig.Secret{Case: rig.Case{Name: "hostile/sendgrid-previous", Account: memberA, Strategy: rotators.APIKey}, ARN: arn}
		r, err := w.Rotate(t.Context(), s, sw.fn)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("outcome %s %s", r.Run.Outcome, r.Run.Error)
		if !sw.sendgrid.Works(victim.Secret) {
			t.Error("the other team's key was revoked by a rotation of a secret that merely named it")
		}
		noLeaks(t, sw.fn, planted, s, r.Run.Error)
	})

	t.Run("victim key ID as current", func(t *testing.T) {
		victim := victimKey()
		before := len(sw.sendgrid.All())
		arn := createJSON(t, w, memberA, "hostile/sendgrid-scopes", map[string]string{"engine": "sendgrid", "masterarn": adminARN, "apiKeyId": victim.ID, "apiKey": own.Secret})
		s := &rig.Secret{Case: rig.Case{Name: "hostile/sendgrid-scopes", Account: memberA, Strategy: rotators.APIKey}, ARN: arn}
		r, err := w.Rotate(t.Context(), s, sw.fn)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("outcome %s %s", r.Run.Outcome, r.Run.Error)
		for _, k := range sw.sendgrid.All()[before:] {
			planted.add(k.Secret)
			if slices.Contains(k.Scopes, "user.profile.read") || slices.Contains(k.Scopes, "api_keys.read") {
				t.Errorf("key %s was minted for the attacker with the other team's scopes %v", k.ID, k.Scopes)
			}
		}
		if !sw.sendgrid.Works(victim.Secret) {
			t.Error("the other team's key stopped working")
		}
		noLeaks(t, sw.fn, planted, s, r.Run.Error)
	})
}
