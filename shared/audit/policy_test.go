package audit_test

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/shared/audit"
)

func TestEvaluatePolicy(t *testing.T) {
	cfg := audit.DefaultConfig()
	cfg.OrgID = orgID
	env := audit.Env{Home: home, Known: []string{memberA, memberB}}
	stmt := func(s string) string { return *policy(s) }
	tests := []struct {
		name  string
		doc   string
		check audit.Check // "" for no finding
		sev   audit.Severity
	}{
		{"public", stmt(`{"Effect":"Allow","Principal":"*","Action":"*"}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"public AWS list", stmt(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root","*"]},"Action":"*"}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"NotPrincipal", stmt(`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"*"}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"confined to this org", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + orgID + `"}}}`), "", 0},
		{"confined to another org", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"negative operator does not confine", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"IfExists does not confine", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqualsIfExists":{"aws:PrincipalOrgID":"` + orgID + `"}}}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"confined to known accounts", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":["111111111111","222222222222"]}}}`), "", 0},
		{"confined to one unknown account", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":["111111111111","999999999999"]}}}`), audit.PublicOrExternalPolicy, audit.Critical},
		{"VPC endpoint", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}`), "", 0},
		{"external account ID", stmt(`{"Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":"*"}`), audit.PublicOrExternalPolicy, audit.High},
		{"external account, org condition", stmt(`{"Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + orgID + `"}}}`), "", 0},
		{"federated", stmt(`{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"*"}`), audit.PublicOrExternalPolicy, audit.High},
		{"own account", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:role/app"},"Action":"*"}`), "", 0},
		{"known account", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::222222222222:assumed-role/app/s"},"Action":"*"}`), "", 0},
		{"service principal", stmt(`{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"*"}`), "", 0},
		{"deny only", stmt(`{"Effect":"Deny","Principal":"*","Action":"*"}`), "", 0},
		{"single statement object", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`, audit.PublicOrExternalPolicy, audit.Critical},
		{"not JSON", `{"Statement":`, audit.MalformedPolicy, audit.Medium},
		{"no statement", `{"Version":"2012-10-17"}`, audit.MalformedPolicy, audit.Medium},
		{"bad effect", stmt(`{"Effect":"Maybe","Principal":"*"}`), audit.MalformedPolicy, audit.Medium},
		{"no principal", stmt(`{"Effect":"Allow","Action":"*"}`), audit.MalformedPolicy, audit.Medium},
		{"principal string", stmt(`{"Effect":"Allow","Principal":"arn:aws:iam::1:root"}`), audit.MalformedPolicy, audit.Medium},
		{"principal number list", stmt(`{"Effect":"Allow","Principal":{"AWS":[1,2]}}`), audit.MalformedPolicy, audit.Medium},
		{"condition value object", stmt(`{"Effect":"Allow","Principal":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":{"x":1}}}}`), audit.MalformedPolicy, audit.Medium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.EvaluatePolicy(tt.doc, cfg, env, "333333333333")
			if tt.check == "" {
				if len(got) > 0 {
					t.Fatalf("findings %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Check != tt.check || got[0].Severity != tt.sev {
				t.Fatalf("findings %+v, want one %s/%s", got, tt.check, tt.sev)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	bad := map[string]string{
		audit.EnvAccounts:       "12345",
		audit.EnvRegions:        "Mars",
		audit.EnvMaxAgeDays:     "0",
		audit.EnvUnusedDays:     "-1",
		audit.EnvGrace:          "soon",
		audit.EnvStuckAfter:     "-1h",
		audit.EnvFleetFunctions: "rotary-[",
		audit.EnvNamePattern:    "(",
		audit.EnvConcurrency:    "0",
	}
	for k, v := range bad {
		t.Run(k, func(t *testing.T) {
			_, err := audit.ConfigFromEnv(func(n string) string {
				if n == k {
					return v
				}
				return ""
			}, "")
			if !errors.Is(err, audit.ErrConfig) {
				t.Fatalf("%s=%q: err %v, want ErrConfig", k, v, err)
			}
		})
	}
	c, err := audit.ConfigFromEnv(func(n string) string {
		return map[string]string{audit.EnvUnusedDays: "0", audit.EnvAccounts: "111111111111, 111111111111,222222222222", audit.EnvRequiredTags: "team, owner"}[n]
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.UnusedAfter != 0 || len(c.Accounts) != 2 || len(c.RequiredTags) != 2 || c.MaxAge != 90*days || c.FleetFunctions[0] != "rotary-*" {
		t.Errorf("config %+v", c)
	}
}
