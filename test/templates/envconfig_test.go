package templates

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/shared/awsx"
)

const testAccount = "111111111111"

// evaluator resolves the few intrinsic functions the function environments
// use (Ref, Fn::If, Fn::Sub, conditions) for given parameter values, as
// CloudFormation would at deployment.
type evaluator struct {
	t      *testing.T
	root   *Node
	params map[string]string
}

func newEvaluator(t *testing.T, root *Node, overrides map[string]string) *evaluator {
	e := &evaluator{t: t, root: root, params: map[string]string{}}
	params := root.Get("Parameters")
	for _, name := range params.Keys {
		e.params[name] = params.Get(name).Get("Default").Str()
	}
	for k, v := range overrides {
		if _, ok := e.params[k]; !ok {
			t.Fatalf("no parameter %s", k)
		}
		e.params[k] = v
	}
	return e
}

func (e *evaluator) ref(name string) (string, bool) {
	switch name {
	case "AWS::NoValue":
		return "", false
	case "AWS::AccountId":
		return testAccount, true
	case "AWS::Region":
		return "eu-west-1", true
	case "AWS::Partition":
		return "aws", true
	}
	v, ok := e.params[name]
	if !ok {
		if e.root.Get("Resources").Get(name) != nil {
			return "ref:" + name, true // a resource's physical ID, unknown before deployment
		}
		e.t.Fatalf("cannot evaluate !Ref %s", name)
	}
	return v, true
}

// value returns n's value and whether it is present (not AWS::NoValue).
func (e *evaluator) value(n *Node) (string, bool) {
	fn, ok := n.Intrinsic()
	if !ok {
		if n.Kind != Scalar {
			e.t.Fatalf("line %d: cannot evaluate a non-scalar", n.Line)
		}
		return n.Value, true
	}
	arg := n.Get(fn)
	switch fn {
	case "Ref":
		return e.ref(arg.Str())
	case "Fn::If":
		if e.condition(arg.List[0].Str()) {
			return e.value(arg.List[1])
		}
		return e.value(arg.List[2])
	case "Fn::Sub":
		str, vars := arg, map[string]string{}
		if arg.Kind == List {
			str = arg.List[0]
			for _, k := range arg.List[1].Keys {
				vars[k], _ = e.value(arg.List[1].Get(k))
			}
		}
		return subVariableRE.ReplaceAllStringFunc(str.Value, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if v, ok := vars[name]; ok {
				return v
			}
			if res, attr, dotted := strings.Cut(name, "."); dotted && !strings.HasPrefix(name, "AWS::") {
				return "getatt:" + res + "." + attr
			}
			v, _ := e.ref(name)
			return v
		}), true
	case "Fn::GetAtt":
		return "getatt:" + arg.List[0].Str() + "." + arg.List[1].Str(), true
	case "Fn::Select":
		idx, err := strconv.Atoi(arg.List[0].Str())
		if err != nil {
			e.t.Fatalf("line %d: !Select index %q", n.Line, arg.List[0].Str())
		}
		items := e.list(arg.List[1])
		if idx < 0 || idx >= len(items) {
			e.t.Fatalf("line %d: !Select index %d out of %d items", n.Line, idx, len(items))
		}
		return items[idx], true
	case "Fn::Join":
		var parts []string
		list := arg.List[1]
		if _, ok := list.Intrinsic(); ok { // !Ref to a CommaDelimitedList
			v, _ := e.value(list)
			parts = strings.Split(v, ",")
		} else {
			for _, el := range list.List {
				v, _ := e.value(el)
				parts = append(parts, v)
			}
		}
		return strings.Join(parts, arg.List[0].Str()), true
	}
	e.t.Fatalf("line %d: cannot evaluate %s", n.Line, fn)
	return "", false
}

// list evaluates n as a list: a literal list, a !Split, or a !Ref to a
// CommaDelimitedList.
func (e *evaluator) list(n *Node) []string {
	if n.Kind == List {
		var out []string
		for _, el := range n.List {
			if v, ok := e.value(el); ok {
				out = append(out, v)
			}
		}
		return out
	}
	fn, _ := n.Intrinsic()
	if fn == "Fn::Split" {
		arg := n.Get(fn)
		v, _ := e.value(arg.List[1])
		return strings.Split(v, arg.List[0].Str())
	}
	v, _ := e.value(n)
	return strings.Split(v, ",")
}

func (e *evaluator) condition(name string) bool {
	c := e.root.Get("Conditions").Get(name)
	if c == nil {
		e.t.Fatalf("no condition %s", name)
	}
	return e.truth(c)
}

func (e *evaluator) truth(n *Node) bool {
	fn, _ := n.Intrinsic()
	arg := n.Get(fn)
	switch fn {
	case "Condition":
		return e.condition(arg.Str())
	case "Fn::Equals":
		a, _ := e.value(arg.List[0])
		b, _ := e.value(arg.List[1])
		return a == b
	case "Fn::Not":
		return !e.truth(arg.List[0])
	case "Fn::EachMemberEquals": // Rules only
		want, _ := e.value(arg.List[1])
		for _, v := range e.list(arg.List[0]) {
			if v != want {
				return false
			}
		}
		return true
	case "Fn::And":
		for _, c := range arg.List {
			if !e.truth(c) {
				return false
			}
		}
		return true
	case "Fn::Or":
		for _, c := range arg.List {
			if e.truth(c) {
				return true
			}
		}
		return false
	}
	e.t.Fatalf("line %d: cannot evaluate condition %s", n.Line, fn)
	return false
}

// environment returns the function's environment as deployed with params.
func environment(t *testing.T, file, function string, params map[string]string) map[string]string {
	root := parseFile(t, file)
	e := newEvaluator(t, root, params)
	vars := root.Get("Resources").Get(function).Get("Properties").Get("Environment").Get("Variables")
	env := map[string]string{}
	for _, k := range vars.Keys {
		if v, ok := e.value(vars.Get(k)); ok {
			env[k] = v
		}
	}
	return env
}

// TestTemplateEnvironmentIsValidConfig deploys the functions' environment
// "on paper" with various parameters and feeds it to awsx.ConfigFromEnv: a
// parameter combination the templates accept must start the function.
func TestTemplateEnvironmentIsValidConfig(t *testing.T) {
	tests := []struct {
		name, file, function string
		params               map[string]string
		check                func(t *testing.T, c awsx.Config)
	}{
		{name: "central defaults", file: "template.yaml", function: "CentralFunction",
			check: func(t *testing.T, c awsx.Config) {
				if c.Mode != awsx.ModeCentral || c.HomeAccount != testAccount || c.RoleName != awsx.DefaultRoleName || len(c.AllowedAccounts) != 0 {
					t.Errorf("config = %v", c)
				}
			}},
		{name: "central with accounts and ExternalId", file: "template.yaml", function: "CentralFunction",
			params: map[string]string{"AllowedAccounts": "222222222222,333333333333", "ExternalId": "ext-1234", "MemberRoleName": "other-role"},
			check: func(t *testing.T, c awsx.Config) {
				if len(c.AllowedAccounts) != 2 || c.ExternalID != "ext-1234" || c.RoleName != "other-role" {
					t.Errorf("config = %v", c)
				}
			}},
		{name: "central, whole organization", file: "template.yaml", function: "CentralFunction",
			params: map[string]string{"AllowedAccounts": "*", "OrgId": "o-abcdef1234"},
			check: func(t *testing.T, c awsx.Config) {
				if !c.AllowAnyAccount || c.OrgID != "o-abcdef1234" {
					t.Errorf("config = %v", c)
				}
			}},
		{name: "per-account defaults", file: "infra/per-account.yaml", function: "RotationFunction",
			check: func(t *testing.T, c awsx.Config) {
				if c.Mode != awsx.ModeAccount || c.HomeAccount != testAccount || c.SecretsManagerEndpoint != "" {
					t.Errorf("config = %v", c)
				}
			}},
		{name: "per-account with endpoint", file: "infra/per-account.yaml", function: "RotationFunction",
			params: map[string]string{"SecretsManagerEndpoint": "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com", "Rotator": "mysql-single"},
			check: func(t *testing.T, c awsx.Config) {
				if c.SecretsManagerEndpoint == "" {
					t.Errorf("config = %v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := environment(t, tt.file, tt.function, tt.params)
			c, err := awsx.ConfigFromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v (environment %v)", err, env)
			}
			tt.check(t, c)
		})
	}
}

// TestTemplateRulesRejectWildcardWithoutOrg: the one parameter combination
// ConfigFromEnv refuses at start-up is refused at deployment by a rule.
func TestTemplateRulesRejectWildcardWithoutOrg(t *testing.T) {
	env := environment(t, "template.yaml", "CentralFunction", map[string]string{"AllowedAccounts": "*"})
	if _, err := awsx.ConfigFromEnv(func(k string) string { return env[k] }); !errors.Is(err, awsx.ErrConfig) {
		t.Fatalf("ConfigFromEnv = %v, want ErrConfig", err)
	}
	root := parseFile(t, "template.yaml")
	rule := root.Get("Rules").Get("WildcardNeedsOrganization")
	if rule == nil {
		t.Fatal("template.yaml has no rule WildcardNeedsOrganization")
	}
	for _, tc := range []struct {
		params map[string]string
		ok     bool
	}{
		{map[string]string{"AllowedAccounts": "*"}, false},
		{map[string]string{"AllowedAccounts": "*", "OrgId": "o-abcdef1234"}, true},
		{map[string]string{"AllowedAccounts": "222222222222"}, true},
	} {
		e := newEvaluator(t, root, tc.params)
		applies := e.truth(rule.Get("RuleCondition"))
		passes := true
		for _, a := range rule.Get("Assertions").List {
			passes = passes && e.truth(a.Get("Assert"))
		}
		if got := !applies || passes; got != tc.ok {
			t.Errorf("rule with %v: deployable = %v, want %v", tc.params, got, tc.ok)
		}
	}
}

// rulesRefuse returns the descriptions of the template's Rules assertions
// that fail for params, as CloudFormation would refuse the stack.
func rulesRefuse(t *testing.T, root *Node, params map[string]string) []string {
	e := newEvaluator(t, root, params)
	var refused []string
	rules := root.Get("Rules")
	for _, name := range keys(rules) {
		rule := rules.Get(name)
		if c := rule.Get("RuleCondition"); c != nil && !e.truth(c) {
			continue
		}
		for _, a := range rule.Get("Assertions").List {
			if !e.truth(a.Get("Assert")) {
				refused = append(refused, name)
			}
		}
	}
	return refused
}

// TestTemplateRules: every deployment the other tests use passes the
// template's Rules, and the combinations that cannot work are refused at
// deployment rather than at the first rotation.
func TestTemplateRules(t *testing.T) {
	for _, d := range deployments {
		if got := rulesRefuse(t, parseFile(t, d.file), d.params); len(got) != 0 {
			t.Errorf("%s: refused by rules %v", d.name, got)
		}
	}
	refused := []struct {
		file   string
		params map[string]string
		rule   string
	}{
		{"template.yaml", map[string]string{"AllowedAccounts": "*", "MemberInvokeScope": "any-account", "AuditAccounts": "222222222222"}, "WildcardNeedsOrganization"},
		{"template.yaml", map[string]string{"AllowedAccounts": "*", "OrgId": "o-abcdef1234", "MemberInvokeScope": "any-account"}, "AuditWildcardNeedsAccounts"},
		{"template.yaml", map[string]string{"AllowedAccounts": "222222222222"}, "MemberAccountsNeedInvokePermissions"},
		{"template.yaml", map[string]string{"SubnetIds": "subnet-0123456789abcdef0"}, "SecurityGroupsWithSubnets"},
		{"template.yaml", map[string]string{"SecurityGroupIds": "sg-0123456789abcdef0"}, "SubnetsWithSecurityGroups"},
		{"template.yaml", map[string]string{"ReservedConcurrency": "0"}, "ReservedConcurrencyAtLeastOne"},
		{"infra/per-account.yaml", map[string]string{"SubnetIds": "subnet-0123456789abcdef0"}, "SecurityGroupsWithSubnets"},
		{"infra/per-account.yaml", map[string]string{"ReservedConcurrency": "0"}, "ReservedConcurrencyAtLeastOne"},
	}
	for _, tc := range refused {
		got := rulesRefuse(t, parseFile(t, tc.file), tc.params)
		if !slices.Equal(got, []string{tc.rule}) {
			t.Errorf("%s with %v: refused by %v, want only %s", tc.file, tc.params, got, tc.rule)
		}
	}
}
