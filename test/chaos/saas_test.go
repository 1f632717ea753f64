package chaos_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/saasfakes"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// sendGridTarget observes the SendGrid fake: a value authenticates when its
// apiKey works, and every live key but the admin's must be held by a stored
// version (a key minted and never stored, or never revoked, is reported).
type sendGridTarget struct{ sg *saasfakes.SendGrid }

func (s *sendGridTarget) Authenticates(_ context.Context, v secret.Value) (bool, error) {
	k, _ := v.Get("apiKey")
	return k != "" && s.sg.Works(k), nil
}

func (s *sendGridTarget) Users(context.Context) ([]string, error) {
	var ids []string
	for _, k := range s.sg.Live() {
		if k.Secret != s.sg.AdminKey {
			ids = append(ids, k.ID)
		}
	}
	return ids, nil
}

func (s *sendGridTarget) Holds(_ context.Context, account string, v secret.Value) (bool, error) {
	id, _ := v.Get("apiKeyId")
	k, _ := v.Get("apiKey")
	return id == account && s.sg.Works(k), nil
}

// certFile writes the fake's self-signed certificate where the function
// trusts it (SSL_CERT_FILE).
func certFile(t *testing.T, rawURL string) string {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(rawURL, "https://"), &tls.Config{InsecureSkipVerify: true}) // only to read the certificate, which is then trusted
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.Fatal("the fake sent no certificate")
	}
	f := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0].Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSendGridKilledUnderRIE runs the built sendgrid function under the
// Lambda RIE against the SendGrid fake: killed after the key was minted and
// before PutSecretValue stored it, and with revocation failing at
// finishSecret (a later rotation, so there is a previous key to revoke).
// ROTARY_CHAOS=full adds every other Secrets Manager kill point. The
// service's retries must complete the rotation, no minted key may be left
// that no version holds, and AWSPREVIOUS keeps working at rest.
func TestSendGridKilledUnderRIE(t *testing.T) {
	dbtest.NeedsServers(t)
	t.Parallel()
	calls := chaos.StepCalls{localaws.StepCreate: {"PutSecretValue": 1}}
	if chaos.Full() {
		calls = chaos.StepCalls{
			localaws.StepCreate: {"DescribeSecret": 1, "GetSecretValue": 2, "PutSecretValue": 1},
			localaws.StepSet:    {"GetSecretValue": 1},
			localaws.StepTest:   {"GetSecretValue": 1},
			localaws.StepFinish: {"DescribeSecret": 1, "UpdateSecretVersionStage": 1},
		}
	}
	var scheds []rieSchedule
	for _, s := range rieSchedules(calls, nil) {
		if chaos.Full() || (s.op == "PutSecretValue" && s.when == chaos.Before) {
			scheds = append(scheds, s)
		}
	}
	var sg *saasfakes.SendGrid
	revoke := rieSchedule{step: localaws.StepFinish, what: "revocation-fails", fault: func() func() int {
		before := sg.Calls("delete")
		sg.Inject(saasfakes.Fault{Method: http.MethodDelete, Path: "/v3/api_keys/", Status: http.StatusInternalServerError})
		return func() int {
			if sg.Calls("delete") > before {
				return 1
			}
			return 0
		}
	}}
	scheds = append(scheds, revoke)
	for _, sc := range scheds {
		t.Run(sc.String(), func(t *testing.T) {
			sg = saasfakes.NewSendGrid(t)
			k := sg.Seed("chaos-app", "mail.send")
			var master, v secret.Value
			master.Set("apiKey", sg.AdminKey)
			v.Engine = saas.EngineSendGrid
			v.Set("apiKeyId", k.ID)
			v.Set("apiKey", k.Secret)
			pre := 0
			if sc.fault != nil {
				pre = 2 // the first key was made by hand: Rotary revokes only keys it minted
			}
			runRIE(t, rieCase{fn: "sendgrid", value: v, master: &master, pre: pre, keepsPrevious: true, accountsAtRest: true,
				env: []string{"SSL_CERT_FILE=" + certFile(t, sg.URL()), saas.EnvSendGridBaseURL + "=" + sg.URL(),
					saas.EnvVerifyWait + "=0s", saas.EnvMaxAttempts + "=1"},
				target: &sendGridTarget{sg: sg}, atRest: onlyLabelledKeys(sg, k.ID)}, sc)
		})
	}
}

// onlyLabelledKeys: at rest the live keys Rotary minted are exactly the ones
// AWSCURRENT and AWSPREVIOUS hold; a key whose version lost its labels must
// have been revoked (a stored but unlabelled version does not excuse it).
// hand is the first key, made by hand, which Rotary leaves to its owner.
func onlyLabelledKeys(sg *saasfakes.SendGrid, hand string) func(context.Context, *secretsmanager.Client, string) error {
	return func(ctx context.Context, sm *secretsmanager.Client, arn string) error {
		held := map[string]bool{}
		for _, label := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			v, err := chaos.ReadValue(ctx, sm, arn, "", label)
			if err != nil {
				return fmt.Errorf("read %s: %w", label, err)
			}
			id, _ := v.Get("apiKeyId")
			held[id] = true
		}
		for _, k := range sg.Live() {
			if k.Secret != sg.AdminKey && k.ID != hand && !held[k.ID] {
				return fmt.Errorf("key %s is live but neither AWSCURRENT nor AWSPREVIOUS holds it", k.ID)
			}
		}
		return nil
	}
}
