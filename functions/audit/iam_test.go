package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/templates"
)

// auditActions is everything the audit's IAM may allow: what the scanner
// calls (audit.SecretsManagerAPI), STS for the member role, its own logs.
var auditActions = []string{
	"secretsmanager:ListSecrets", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds",
	"secretsmanager:GetResourcePolicy", "sts:AssumeRole", "logs:CreateLogStream", "logs:PutLogEvents",
}

func parse(t *testing.T, rel string) *templates.Node {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	n, err := templates.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAuditIAMReadsNoValue: the audit function's execution role and the
// member accounts' AuditRole allow only the metadata calls the scanner makes
// (no GetSecretValue, no KMS), and the function's environment holds only
// variables the code reads.
func TestAuditIAMReadsNoValue(t *testing.T) {
	for _, c := range []struct{ file, role string }{
		{"template.yaml", "AuditFunctionRole"},
		{"infra/member-role.yaml", "AuditRole"},
	} {
		t.Run(c.file+"/"+c.role, func(t *testing.T) {
			role := parse(t, c.file).Get("Resources").Get(c.role)
			if role == nil {
				t.Fatalf("%s has no %s", c.file, c.role)
			}
			n := 0
			for _, pol := range role.Get("Properties").Get("Policies").List {
				for _, st := range pol.Get("PolicyDocument").Get("Statement").List {
					acts := st.Get("Action")
					list := []string{acts.Str()}
					if acts.Kind == templates.List {
						list = nil
						for _, a := range acts.List {
							list = append(list, a.Str())
						}
					}
					for _, a := range list {
						n++
						if !slices.Contains(auditActions, a) {
							t.Errorf("statement %s allows %s, which the audit never calls", st.Get("Sid").Str(), a)
						}
					}
					if st.Get("Effect").Str() != "Allow" {
						t.Errorf("statement %s: effect %s", st.Get("Sid").Str(), st.Get("Effect").Str())
					}
				}
			}
			if n == 0 {
				t.Fatal("no actions found")
			}
		})
	}
	known := []string{awsx.EnvMode, awsx.EnvRoleName, awsx.EnvExternalID, awsx.EnvAllowedAccounts, awsx.EnvOrgID, awsx.EnvHomeAccount, envMetricsNamespace,
		audit.EnvAccounts, audit.EnvRegions, audit.EnvFleetFunctions, audit.EnvRequiredTags, audit.EnvNamePattern, audit.EnvGrace, audit.EnvStuckAfter,
		audit.EnvMaxAgeDays, audit.EnvUnusedDays, audit.EnvConcurrency, audit.EnvAccountConcurrency}
	fn := parse(t, "template.yaml").Get("Resources").Get("AuditFunction").Get("Properties")
	vars := fn.Get("Environment").Get("Variables")
	for _, k := range vars.Keys {
		if !slices.Contains(known, k) {
			t.Errorf("AuditFunction sets %s, which the audit does not read", k)
		}
	}
	if got := vars.Get(awsx.EnvRoleName).Get("Ref").Str(); got != "AuditRoleName" {
		t.Errorf("AuditFunction assumes %q, want the read-only AuditRoleName, never the rotation role", got)
	}
	// The ExternalId the function sends is the one its own AssumeMemberAuditRoles
	// and the member AuditRole's trust require (test/iam proves the decisions).
	if got := vars.Get(awsx.EnvExternalID).Get("Ref").Str(); got != "ExternalId" {
		t.Errorf("AuditFunction sends %s = %q, want !Ref ExternalId", awsx.EnvExternalID, got)
	}
	if s := fn.Get("Events").Get("Schedule").Get("Properties").Get("Schedule").Get("Ref").Str(); s != "AuditSchedule" {
		t.Errorf("schedule %q, want !Ref AuditSchedule", s)
	}
	if d := parse(t, "template.yaml").Get("Parameters").Get("AuditSchedule").Get("Default").Str(); !strings.Contains(d, "1 day") {
		t.Errorf("AuditSchedule default %q, want daily", d)
	}
}

// TestSavedQueries: the three Logs Insights queries exist and filter on the
// messages the code writes.
func TestSavedQueries(t *testing.T) {
	res := parse(t, "template.yaml").Get("Resources")
	want := map[string]string{
		"Rotary/audit findings by account": `message = "audit finding"`,
		"Rotary/failing rotations":         `check in ["rotation-stuck", "rotation-overdue"]`,
		"Rotary/rotation failures in the last 24 h by account and error (set the range to 24 h)": `message = "rotation step failed"`,
	}
	found := 0
	for _, id := range res.Keys {
		r := res.Get(id)
		if r.Get("Type").Str() != "AWS::Logs::QueryDefinition" {
			continue
		}
		p := r.Get("Properties")
		needle, ok := want[p.Get("Name").Str()]
		if !ok {
			t.Errorf("%s: unexpected query %q", id, p.Get("Name").Str())
			continue
		}
		found++
		if q := p.Get("QueryString").Str(); !strings.Contains(q, needle) {
			t.Errorf("%s: query %q does not filter on %s", id, q, needle)
		}
	}
	if found != len(want) {
		t.Errorf("%d saved queries, want %d", found, len(want))
	}
}
