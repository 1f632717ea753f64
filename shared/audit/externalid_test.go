package audit_test

import (
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/shared/awsx"
)

// TestAuditSendsTheExternalID: the audit reaches a member only with the
// ExternalId its role trusts (the same ROTARY_EXTERNAL_ID as the rotation
// role); with another one every member is account-unreachable, no call is
// made in it, the finding names no ExternalId, and the home account is still
// audited. With the right one, the member's requests come from a session
// named rotary.<function>.
func TestAuditSendsTheExternalID(t *testing.T) {
	const wrong = "not-the-Audit-Ext-Id"
	w := newWorld(t)
	w.clean(home, "app/home")
	w.clean(memberA, "app/a")

	sc := w.scanner(testConfig())
	base := w.aws.AWSConfig(w.aws.DefaultCredentials(), region)
	base.Retryer = audit.Retryer
	sc.Clients = audit.AWSXClients{Clients: awsx.New(base, awsx.Config{Mode: awsx.ModeCentral, RoleName: roleName, ExternalID: wrong,
		AllowedAccounts: []string{memberA, memberB}, HomeAccount: home, FunctionName: "rotary-audit"})}
	w.aws.ResetCalls()
	rep := sc.Run(t.Context())
	unreachable := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Check == audit.AccountUnreachable {
			unreachable[f.Account] = true
			for _, s := range []string{wrong, externalID} {
				if strings.Contains(f.Detail, s) {
					t.Errorf("finding %q names an ExternalId", f.Detail)
				}
			}
		}
	}
	if !unreachable[memberA] || !unreachable[memberB] || unreachable[home] {
		t.Errorf("unreachable accounts %v, want both members and not the home account", unreachable)
	}
	for _, m := range []string{memberA, memberB} {
		if n := w.aws.Calls("ListSecrets", m); n != 0 {
			t.Errorf("%d ListSecrets calls in %s with a wrong ExternalId, want 0", n, m)
		}
	}
	if n := w.aws.Calls("ListSecrets", home); n == 0 {
		t.Error("the home account was not audited")
	}

	w.aws.ResetRequestLog()
	rep = w.scanner(testConfig()).Run(t.Context())
	if rep.Summary.AccountsFailed != 0 {
		t.Fatalf("with the right ExternalId: %d accounts failed", rep.Summary.AccountsFailed)
	}
	var seen int
	for _, r := range w.aws.RequestLog() {
		if r.RoleARN == "" {
			continue
		}
		seen++
		if r.Session != "rotary.rotary-audit" {
			t.Errorf("%s in %s by session %q, want rotary.rotary-audit", r.Action, r.PrincipalAccount, r.Session)
		}
	}
	if seen == 0 {
		t.Error("no request of a member's role was logged")
	}
}
