package templates

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/password"
)

func parseFile(t *testing.T, rel string) *Node {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// statements returns every IAM policy statement of every AWS::IAM::Role in
// the template, named Resource/Policy[i].
func statements(tmpl *Node) map[string]*Node {
	out := map[string]*Node{}
	res := tmpl.Get("Resources")
	for _, id := range res.Keys {
		r := res.Get(id)
		if r.Get("Type").Str() != "AWS::IAM::Role" {
			continue
		}
		for _, pol := range r.Get("Properties").Get("Policies").List {
			for i, st := range pol.Get("PolicyDocument").Get("Statement").List {
				out[fmt.Sprintf("%s/%s[%d]", id, pol.Get("PolicyName").Str(), i)] = st
			}
		}
	}
	return out
}

func scalars(n *Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == Scalar {
		return []string{n.Value}
	}
	var out []string
	for _, el := range n.List {
		out = append(out, el.Str())
	}
	return out
}

// TestIAMLeastPrivilege defends the permission model of every role the
// templates create: no wildcard actions, secret access only to secrets tagged
// rotary:rotate=true, KMS only through Secrets Manager, AssumeRole only on the
// member role name (the fleet audit: its read-only audit role name).
func TestIAMLeastPrivilege(t *testing.T) {
	secretActions := []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}
	// The fleet audit reads metadata of every secret, tagged or not; its
	// statements (Sid Audit…) hold nothing else (functions/audit checks them).
	auditActions := []string{"secretsmanager:ListSecrets", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds", "secretsmanager:GetResourcePolicy"}
	for _, file := range []string{"template.yaml", "infra/member-role.yaml", "infra/per-account.yaml"} {
		t.Run(file, func(t *testing.T) {
			sts := statements(parseFile(t, file))
			if len(sts) == 0 {
				t.Fatal("no policy statements found")
			}
			for name, st := range sts {
				actions := scalars(st.Get("Action"))
				cond := st.Get("Condition")
				for _, a := range actions {
					if a == "*" || strings.HasSuffix(a, ":*") {
						t.Errorf("%s: wildcard action %q", name, a)
					}
				}
				audit := strings.HasPrefix(st.Get("Sid").Str(), "Audit") && !slices.ContainsFunc(actions, func(a string) bool { return !slices.Contains(auditActions, a) })
				if !audit && slices.ContainsFunc(actions, func(a string) bool { return slices.Contains(secretActions, a) }) {
					// Master/admin secrets are read (never written) under the
					// marker tag rotary:role (see infra/README.md, IAM).
					readOnly := !slices.ContainsFunc(actions, func(a string) bool {
						return a != "secretsmanager:DescribeSecret" && a != "secretsmanager:GetSecretValue"
					})
					marked := readOnly && slices.Equal(scalars(cond.Get("StringEquals").Get("aws:ResourceTag/rotary:role")), []string{"master", "admin"})
					if got := cond.Get("StringEquals").Get("aws:ResourceTag/rotary:rotate").Str(); got != "true" && !marked {
						t.Errorf("%s: secret actions without the condition aws:ResourceTag/rotary:rotate = true (or, read-only, rotary:role = master/admin)", name)
					}
				}
				if slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
					if cond.Get("StringEquals").Get("kms:ViaService") == nil && cond.Get("StringLike").Get("kms:ViaService") == nil {
						t.Errorf("%s: KMS actions without a kms:ViaService condition", name)
					}
				}
				if slices.Contains(actions, "sts:AssumeRole") {
					sub := st.Get("Resource").Get("Fn::Sub").Str()
					if !strings.HasSuffix(sub, ":role/${MemberRoleName}") && !strings.HasSuffix(sub, ":role/${AuditRoleName}") {
						t.Errorf("%s: sts:AssumeRole on %q, want only the member role name", name, sub)
					}
				}
				if st.Get("Resource").Str() == "*" && !slices.Equal(actions, []string{"secretsmanager:GetRandomPassword"}) && !slices.Equal(actions, []string{"secretsmanager:ListSecrets"}) {
					t.Errorf("%s: Resource * for %v", name, actions)
				}
			}
		})
	}
}

// knownEnv are the variables Rotary's code reads.
var knownEnv = []string{
	awsx.EnvMode, awsx.EnvRoleName, awsx.EnvExternalID, awsx.EnvAllowedAccounts, awsx.EnvOrgID,
	awsx.EnvHomeAccount, awsx.EnvSMEndpoint,
	password.EnvLength, password.EnvExcludeCharacters, password.EnvExcludeNumbers, password.EnvExcludePunctuation,
	password.EnvExcludeUppercase, password.EnvExcludeLowercase, password.EnvIncludeSpace,
	password.EnvRequireEachIncludedType, password.EnvSource,
	// Read by packages this test does not import (functions/internal/lambdamain,
	// rotators/postgres, rotators/mysql) or, for ROTARY_FUNCTION, informational.
	"ROTARY_METRICS_NAMESPACE", "ROTARY_CA_BUNDLE", "ROTARY_CONNECT_TIMEOUT", "ROTARY_FUNCTION",
	// shared/rotation's step deadline reserve (cross-branch contract 2).
	"ROTARY_CLEANUP_RESERVE",
	saas.EnvTimeout, saas.EnvMaxAttempts, saas.EnvMaxWait, saas.EnvVerifyWait,
}

func TestFunctionEnvironment(t *testing.T) {
	tests := []struct {
		file, function, mode string
	}{
		{"template.yaml", "CentralFunction", "central"},
		{"infra/per-account.yaml", "RotationFunction", "account"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			vars := parseFile(t, tt.file).Get("Resources").Get(tt.function).Get("Properties").Get("Environment").Get("Variables")
			if vars == nil {
				t.Fatalf("%s has no Environment.Variables", tt.function)
			}
			for _, k := range vars.Keys {
				if !slices.Contains(knownEnv, k) {
					t.Errorf("%s sets %s, which no Rotary code reads", tt.function, k)
				}
			}
			if got := vars.Get(awsx.EnvMode).Str(); got != tt.mode {
				t.Errorf("%s=%q, want %q", awsx.EnvMode, got, tt.mode)
			}
			if got := vars.Get(awsx.EnvHomeAccount).Get("Ref").Str(); got != "AWS::AccountId" {
				t.Errorf("%s should be !Ref AWS::AccountId (saves an STS call per cold start), got %q", awsx.EnvHomeAccount, got)
			}
		})
	}
}

// TestDashboardBodyIsJSON renders the dashboard's !Sub with placeholder
// values and checks that CloudWatch will get valid JSON.
func TestDashboardBodyIsJSON(t *testing.T) {
	body := parseFile(t, "template.yaml").Get("Resources").Get("Dashboard").Get("Properties").Get("DashboardBody").Get("Fn::Sub")
	if body == nil || body.Kind != List || len(body.List) != 2 {
		t.Fatal("DashboardBody is not !Sub [body, variables]")
	}
	rendered := subVariableRE.ReplaceAllString(body.List[0].Str(), "X")
	var v struct {
		Widgets []map[string]any `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(rendered), &v); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	if len(v.Widgets) == 0 {
		t.Error("dashboard has no widgets")
	}
}
