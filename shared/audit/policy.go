package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// PolicyFinding is one problem of a resource policy.
type PolicyFinding struct {
	Check    Check // PublicOrExternalPolicy or MalformedPolicy
	Severity Severity
	Detail   string
}

// confiningKeys are the condition keys that confine a broad principal: to
// the organization, to known accounts or ARNs, or to a network path.
var confiningKeys = []string{
	"aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:sourceaccount",
	"aws:principalarn", "aws:sourcearn", "aws:sourcevpce", "aws:sourcevpc",
}

// EvaluatePolicy reads a secret's resource policy and reports the Allow
// statements that grant * (critical) or a principal outside the fleet's
// accounts (high) without a confining condition, or a document that is not a
// readable IAM policy (MalformedPolicy). account is the secret's own account.
// Deny statements and service principals are not findings.
func EvaluatePolicy(doc string, cfg Config, env Env, account string) []PolicyFinding {
	malformed := func(why string) []PolicyFinding {
		return []PolicyFinding{{MalformedPolicy, Medium, "resource policy is malformed: " + why}}
	}
	var p struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return malformed("not a JSON object")
	}
	if len(p.Statement) == 0 {
		return malformed("no Statement")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(p.Statement, &raws); err != nil {
		raws = []json.RawMessage{p.Statement}
	}
	known := func(acct string) bool { return acct == account || env.known(acct) }
	var out []PolicyFinding
	for i, raw := range raws {
		var st struct {
			Sid          string
			Effect       string
			Principal    json.RawMessage
			NotPrincipal json.RawMessage
			Condition    map[string]map[string]json.RawMessage
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return malformed(fmt.Sprintf("statement %d is not an object with a Condition map", i+1))
		}
		name := st.Sid
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		switch st.Effect {
		case "Deny":
			continue
		case "Allow":
		default:
			return malformed(fmt.Sprintf("statement %s has Effect %q", name, shorten(st.Effect)))
		}
		var principals []string
		wildcard := false
		switch {
		case len(st.NotPrincipal) > 0:
			wildcard = true // Allow with NotPrincipal grants everyone else
		case len(st.Principal) == 0:
			return malformed(fmt.Sprintf("statement %s has no Principal", name))
		default:
			var star string
			if json.Unmarshal(st.Principal, &star) == nil {
				if star != "*" {
					return malformed(fmt.Sprintf("statement %s: Principal must be * or an object", name))
				}
				wildcard = true
				break
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(st.Principal, &m); err != nil {
				return malformed(fmt.Sprintf("statement %s: Principal must be * or an object", name))
			}
			for typ, v := range m {
				vals, ok := strings1(v)
				if !ok {
					return malformed(fmt.Sprintf("statement %s: Principal.%s must be a string or a list of strings", name, shorten(typ)))
				}
				switch typ {
				case "AWS":
					for _, v := range vals {
						if v == "*" {
							wildcard = true
						} else {
							principals = append(principals, v)
						}
					}
				case "Federated", "CanonicalUser":
					principals = append(principals, typ+":"+strings.Join(vals, ","))
				}
			}
		}
		var external []string
		for _, pr := range principals {
			if acct := principalAccount(pr); acct == "" || !known(acct) {
				external = append(external, shorten(pr))
			}
		}
		if !wildcard && len(external) == 0 {
			continue
		}
		confined, err := confines(st.Condition, cfg, known)
		if err != "" {
			return malformed(fmt.Sprintf("statement %s: %s", name, err))
		}
		if confined {
			continue
		}
		if wildcard {
			out = append(out, PolicyFinding{PublicOrExternalPolicy, Critical, fmt.Sprintf("resource policy statement %s allows * (anyone) without a confining condition", name)})
			continue
		}
		out = append(out, PolicyFinding{PublicOrExternalPolicy, High, fmt.Sprintf("resource policy statement %s allows %s, outside the organization and the allowed accounts", name, strings.Join(external, ", "))})
	}
	return out
}

// confines reports whether a statement's conditions confine its principals
// to the organization, the fleet's accounts or a network path. Only positive
// operators confine (StringEquals, StringLike, ArnEquals, ArnLike, with or
// without ForAnyValue/ForAllValues; IfExists variants do not confine).
func confines(cond map[string]map[string]json.RawMessage, cfg Config, known func(string) bool) (bool, string) {
	for op, kv := range cond {
		o := strings.ToLower(op)
		o = strings.TrimPrefix(strings.TrimPrefix(o, "forallvalues:"), "foranyvalue:")
		if !slices.Contains([]string{"stringequals", "stringlike", "arnequals", "arnlike", "stringequalsignorecase"}, o) {
			continue
		}
		for k, raw := range kv {
			key := strings.ToLower(k)
			if !slices.Contains(confiningKeys, key) {
				continue
			}
			vals, ok := strings1(raw)
			if !ok || len(vals) == 0 {
				return false, fmt.Sprintf("condition %s.%s must be a string or a list of strings", shorten(op), shorten(k))
			}
			all := true
			for _, v := range vals {
				switch key {
				case "aws:principalorgid":
					all = all && (cfg.OrgID == "" || v == cfg.OrgID)
				case "aws:principalorgpaths":
					all = all && (cfg.OrgID == "" || strings.HasPrefix(v, cfg.OrgID+"/"))
				case "aws:principalaccount", "aws:sourceaccount":
					all = all && known(v)
				case "aws:principalarn", "aws:sourcearn":
					a := principalAccount(v)
					all = all && a != "" && known(a)
				default: // network confinement
				}
			}
			if all {
				return true, ""
			}
		}
	}
	return false, ""
}

// principalAccount returns the account of an AWS principal (an account ID or
// an IAM/STS ARN), or "".
func principalAccount(p string) string {
	if accountRE.MatchString(p) {
		return p
	}
	a, err := arn.Parse(p)
	if err != nil || (a.Service != "iam" && a.Service != "sts") || !accountRE.MatchString(a.AccountID) {
		return ""
	}
	return a.AccountID
}

// strings1 reads a JSON string or list of strings.
func strings1(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many, true
	}
	return nil, false
}

// shorten keeps input from a policy short in a finding.
func shorten(s string) string {
	const max = 120
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
