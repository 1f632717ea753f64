package templates

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// deployment is one way of deploying a SAM template: its parameters.
type deployment struct {
	name   string
	file   string
	params map[string]string
}

// deployments covers each SAM template with its defaults and with the
// options that add or change resources.
var deployments = []deployment{
	{"central defaults", "template.yaml", nil},
	{"central, listed member accounts", "template.yaml", map[string]string{
		"AllowedAccounts": "222222222222,333333333333", "MemberAccountIds": "222222222222,333333333333"}},
	{"central, organization, any account opted in", "template.yaml", map[string]string{
		"AllowedAccounts": "*", "OrgId": "o-abcdef1234", "MemberInvokeScope": "any-account",
		"AuditAccounts": "222222222222,333333333333"}},
	{"central, rotation enablers", "template.yaml", map[string]string{
		"AllowedAccounts": "222222222222", "MemberAccountIds": "222222222222",
		"RotationEnablerRoleArns": "arn:aws:iam::222222222222:role/deploy,arn:aws:iam::222222222222:role/ci/pipeline"}},
	{"central, everything optional", "template.yaml", map[string]string{
		"SubnetIds": "subnet-0123456789abcdef0", "SecurityGroupIds": "sg-0123456789abcdef0", "ReservedConcurrency": "5",
		"KmsKeyArn": "arn:aws:kms:eu-west-1:111111111111:key/0123abcd-0123-4567-89ab-0123456789ab", "Tracing": "Active",
		"AlarmTopicArn": "arn:aws:sns:eu-west-1:111111111111:alarms", "LayerArns": "arn:aws:lambda:eu-west-1:111111111111:layer:ca:3"}},
	{"per-account defaults", "infra/per-account.yaml", nil},
	{"per-account sendgrid", "infra/per-account.yaml", map[string]string{"Rotator": "sendgrid"}},
}

// deployed is a transformed template with the values of one deployment.
type deployed struct {
	t    *testing.T
	out  *Node
	eval *evaluator
}

func deploy(t *testing.T, d deployment) *deployed {
	t.Helper()
	out, err := tools(t).Transform(t.Context(), d.file, d.params)
	if err != nil {
		t.Fatal(err)
	}
	return &deployed{t: t, out: out, eval: newEvaluator(t, out, d.params)}
}

// resources returns the logical IDs of the resources of type typ that the
// deployment creates (their Condition holds).
func (d *deployed) resources(typ string) []string {
	var ids []string
	res := d.out.Get("Resources")
	for _, id := range res.Keys {
		r := res.Get(id)
		if r.Get("Type").Str() != typ {
			continue
		}
		if c := r.Get("Condition").Str(); c != "" && !d.eval.condition(c) {
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// prop evaluates a property of a resource; ok is false when absent.
func (d *deployed) prop(id, name string) (string, bool) {
	n := d.out.Get("Resources").Get(id).Get("Properties").Get(name)
	if n == nil {
		return "", false
	}
	return d.eval.value(n)
}

// TestSAMTransform runs the SAM transform (with AWS::LanguageExtensions) on
// each SAM template for each deployment and checks what CloudFormation would
// create: the functions' properties, who may invoke them, and the schedules
// of their events.
func TestSAMTransform(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			src := parseFile(t, dep.file)
			d := deploy(t, dep)
			fns := d.resources("AWS::Lambda::Function")
			if len(fns) == 0 {
				t.Fatal("the transform made no AWS::Lambda::Function")
			}
			for _, id := range src.Get("Resources").Keys {
				r := src.Get("Resources").Get(id)
				if r.Get("Type").Str() != "AWS::Serverless::Function" {
					continue
				}
				t.Run(id, func(t *testing.T) {
					checkFunction(t, d, id)
					checkSchedules(t, d, id, r.Get("Properties").Get("Events"))
				})
			}
			checkPermissions(t, d, dep)
		})
	}
}

func checkFunction(t *testing.T, d *deployed, id string) {
	if d.out.Get("Resources").Get(id).Get("Type").Str() != "AWS::Lambda::Function" {
		t.Fatalf("%s: no AWS::Lambda::Function of that ID after the transform", id)
	}
	want := map[string]string{"Runtime": "provided.al2023", "Handler": "", "MemorySize": ""}
	for name, v := range want {
		got, ok := d.prop(id, name)
		if !ok || (v != "" && got != v) {
			t.Errorf("%s.%s = %q (set %v), want %q", id, name, got, ok, v)
		}
	}
	props := d.out.Get("Resources").Get(id).Get("Properties")
	if a := scalars(props.Get("Architectures")); !slices.Equal(a, []string{"arm64"}) {
		t.Errorf("%s.Architectures = %v, want [arm64] (the Makefile builds GOARCH=arm64)", id, a)
	}
	if f := props.Get("LoggingConfig").Get("LogFormat").Str(); f != "JSON" {
		t.Errorf("%s.LoggingConfig.LogFormat = %q, want JSON (log levels and EMF need it)", id, f)
	}
	if props.Get("LoggingConfig").Get("LogGroup") == nil {
		t.Errorf("%s has no LoggingConfig.LogGroup: Lambda would create an unmanaged group", id)
	}
	if props.Get("Role") == nil {
		t.Errorf("%s has no Role", id)
	}
	timeout, _ := d.prop(id, "Timeout")
	if n, err := strconv.Atoi(timeout); err != nil || n < 30 || n > 900 {
		t.Errorf("%s.Timeout = %q, want 30..900 seconds", id, timeout)
	}
	if c := props.Get("Code"); c.Get("S3Bucket") == nil || c.Get("S3Key") == nil {
		t.Errorf("%s.Code = %v, want the packaged S3 location", id, c)
	}
}

// checkSchedules: every Schedule or ScheduleV2 event of a SAM function
// becomes a rule or schedule that targets the function with the template's
// expression, and events may invoke the function only from that rule.
func checkSchedules(t *testing.T, d *deployed, fn string, events *Node) {
	for _, name := range keys(events) {
		ev := events.Get(name)
		typ := ev.Get("Type").Str()
		if typ != "Schedule" && typ != "ScheduleV2" {
			continue
		}
		expr := ev.Get("Properties").Get("Schedule")
		if typ == "ScheduleV2" {
			expr = ev.Get("Properties").Get("ScheduleExpression")
		}
		if expr == nil {
			t.Errorf("event %s.%s has no schedule expression", fn, name)
			continue
		}
		want, _ := d.eval.value(expr)
		id := fn + name
		r := d.out.Get("Resources").Get(id)
		if r == nil {
			t.Errorf("event %s.%s: the transform made no resource %s", fn, name, id)
			continue
		}
		got, _ := d.prop(id, "ScheduleExpression")
		if got != want {
			t.Errorf("event %s.%s: ScheduleExpression = %q, want %q", fn, name, got, want)
		}
		if typ == "Schedule" {
			targets := r.Get("Properties").Get("Targets")
			if targets == nil || len(targets.List) != 1 {
				t.Errorf("event %s.%s: want one target, got %v", fn, name, targets)
				continue
			}
			if arn, _ := d.eval.value(targets.List[0].Get("Arn")); arn != "getatt:"+fn+".Arn" {
				t.Errorf("event %s.%s targets %q, want %s", fn, name, arn, fn)
			}
			perm := id + "Permission"
			if src, _ := d.prop(perm, "SourceArn"); src != "getatt:"+id+".Arn" {
				t.Errorf("event %s.%s: permission %s has SourceArn %q, want the rule's ARN", fn, name, perm, src)
			}
		}
	}
}

// checkPermissions: who may invoke the functions. A service principal needs
// SourceAccount or SourceArn (Control Tower CT.LAMBDA.PR.2) except in the
// one permission a deployment opts into with MemberInvokeScope=any-account;
// Secrets Manager gets one permission per account; an IAM principal is only
// a listed rotation enabler role.
func checkPermissions(t *testing.T, d *deployed, dep deployment) {
	var smAccounts, roles []string
	unscoped := 0
	for _, id := range d.resources("AWS::Lambda::Permission") {
		principal, _ := d.prop(id, "Principal")
		action, _ := d.prop(id, "Action")
		if action != "lambda:InvokeFunction" {
			t.Errorf("%s: Action %q, want lambda:InvokeFunction only", id, action)
		}
		if principal == "*" || principal == "" {
			t.Errorf("%s: public Principal %q", id, principal)
			continue
		}
		srcAccount, hasAccount := d.prop(id, "SourceAccount")
		_, hasArn := d.prop(id, "SourceArn")
		switch {
		case strings.HasSuffix(principal, ".amazonaws.com"):
			if !hasAccount && !hasArn {
				unscoped++
				if dep.params["MemberInvokeScope"] != "any-account" {
					t.Errorf("%s: %s may invoke without SourceAccount or SourceArn, and the deployment did not opt in (MemberInvokeScope=any-account)", id, principal)
				}
			}
			if principal == "secretsmanager.amazonaws.com" && hasAccount {
				if slices.Contains(smAccounts, srcAccount) {
					t.Errorf("%s: a second Secrets Manager permission for account %s", id, srcAccount)
				}
				smAccounts = append(smAccounts, srcAccount)
			}
		case strings.HasPrefix(principal, "arn:"):
			roles = append(roles, principal)
		default:
			t.Errorf("%s: unexpected Principal %q", id, principal)
		}
	}
	if dep.params["MemberInvokeScope"] == "any-account" && unscoped != 1 {
		t.Errorf("%d unscoped permissions with MemberInvokeScope=any-account, want exactly 1", unscoped)
	}
	wantAccounts := []string{testAccount}
	if m := dep.params["MemberAccountIds"]; m != "" {
		wantAccounts = append(wantAccounts, strings.Split(m, ",")...)
	}
	slices.Sort(smAccounts)
	slices.Sort(wantAccounts)
	if !slices.Equal(smAccounts, wantAccounts) {
		t.Errorf("Secrets Manager may invoke for accounts %v, want %v", smAccounts, wantAccounts)
	}
	var wantRoles []string
	if r := dep.params["RotationEnablerRoleArns"]; r != "" {
		wantRoles = strings.Split(r, ",")
	}
	slices.Sort(roles)
	slices.Sort(wantRoles)
	if !slices.Equal(roles, wantRoles) {
		t.Errorf("IAM principals that may invoke: %v, want %v", roles, wantRoles)
	}
}

// TestScheduleChecks runs the schedule checks on a function with both kinds
// of schedule event, and on a copy SAM refuses (the negative control).
func TestScheduleChecks(t *testing.T) {
	d := deploy(t, deployment{file: "test/templates/testdata/scheduled-sam.yaml", params: map[string]string{"Rate": "rate(6 hours)"}})
	src := parseFile(t, "test/templates/testdata/scheduled-sam.yaml")
	checkSchedules(t, d, "Fn", src.Get("Resources").Get("Fn").Get("Properties").Get("Events"))
	if got, _ := d.prop("FnDaily", "ScheduleExpression"); got != "rate(6 hours)" {
		t.Errorf("FnDaily.ScheduleExpression = %q, want the parameter's value", got)
	}
	if got, _ := d.prop("FnHourly", "ScheduleExpression"); got != "rate(1 hour)" {
		t.Errorf("FnHourly.ScheduleExpression = %q", got)
	}
	_, err := tools(t).Transform(t.Context(), "test/templates/testdata/bad-sam.yaml", nil)
	if !errors.Is(err, ErrTransform) {
		t.Errorf("Transform of a schedule event without an expression = %v, want ErrTransform", err)
	}
}
