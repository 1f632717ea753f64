package audit_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rotary-secrets/rotary/shared/audit"
)

// FuzzEvaluatePolicy: any resource policy text (a member account's input)
// gives findings of the two policy checks only, with bounded details that
// never echo more than a short piece of the input.
func FuzzEvaluatePolicy(f *testing.F) {
	for _, seed := range []string{
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":["999999999999","arn:aws:iam::1:root"]},"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}}}`,
		`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"*"}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"Federated":["a","b"]},"Condition":{"ForAnyValue:StringLike":{"aws:SourceArn":["arn:aws:iam::111111111111:role/x"]}}}]}`,
		`[]`, `null`, `{"Statement":[null]}`, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":null}}]}`,
	} {
		f.Add(seed)
	}
	cfg := audit.DefaultConfig()
	cfg.OrgID = "o-abcdefghij"
	env := audit.Env{Home: home, Known: []string{memberA}}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, p := range audit.EvaluatePolicy(doc, cfg, env, memberB) {
			if p.Check != audit.PublicOrExternalPolicy && p.Check != audit.MalformedPolicy {
				t.Fatalf("check %s", p.Check)
			}
			if p.Severity < audit.Medium || p.Severity > audit.Critical {
				t.Fatalf("severity %v", p.Severity)
			}
			if len(p.Detail) > 4096 || (len(doc) > 2000 && strings.Contains(p.Detail, doc)) {
				t.Fatalf("detail of %d bytes echoes the policy", len(p.Detail))
			}
			if !utf8.ValidString(p.Detail) {
				t.Fatalf("detail is not UTF-8: %q", p.Detail)
			}
		}
	})
}
