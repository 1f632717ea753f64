package templates

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// samTemplates are the templates with functions.
var samTemplates = []string{"template.yaml", "infra/per-account.yaml"}

// TestLogGroupsRetainExceptOnCreate: a log group that outlives a failed
// first create blocks the retry ("already exists"); one kept on a normal
// delete keeps the rotations' trail.
func TestLogGroupsRetainExceptOnCreate(t *testing.T) {
	for _, file := range samTemplates {
		res := parseFile(t, file).Get("Resources")
		n := 0
		for _, id := range res.Keys {
			r := res.Get(id)
			if r.Get("Type").Str() != "AWS::Logs::LogGroup" {
				continue
			}
			n++
			if got := r.Get("DeletionPolicy").Str(); got != "RetainExceptOnCreate" {
				t.Errorf("%s: %s DeletionPolicy = %q, want RetainExceptOnCreate", file, id, got)
			}
			if r.Get("Properties").Get("KmsKeyId") == nil {
				t.Errorf("%s: %s cannot be encrypted with a customer managed key (no KmsKeyId)", file, id)
			}
		}
		if n == 0 {
			t.Errorf("%s has no log group", file)
		}
	}
}

// TestReservedConcurrencyUnsetByDefault: a reservation is taken from the
// account's quota (and fails in accounts with the default low quota), so it
// is off unless asked for, and 0 (which throttles everything) is refused.
func TestReservedConcurrencyUnsetByDefault(t *testing.T) {
	for _, file := range samTemplates {
		p := parseFile(t, file).Get("Parameters").Get("ReservedConcurrency")
		if got := p.Get("Default").Str(); got != "-1" {
			t.Errorf("%s: ReservedConcurrency default %s, want -1 (unreserved)", file, got)
		}
		if !strings.Contains(p.Get("Description").Str(), "quota") {
			t.Errorf("%s: ReservedConcurrency's description does not explain the concurrency quota", file)
		}
		if got := rulesRefuse(t, parseFile(t, file), map[string]string{"ReservedConcurrency": "0"}); len(got) == 0 {
			t.Errorf("%s: ReservedConcurrency=0 is accepted", file)
		}
	}
}

// TestOneFailurePagesOnce: a failed step is both a StepFailed metric and a
// Lambda error. The alarms that see either must not notify on their own;
// one composite alarm over both notifies, once.
func TestOneFailurePagesOnce(t *testing.T) {
	root := parseFile(t, "template.yaml")
	res := root.Get("Resources")
	var failureAlarms []string
	for _, id := range res.Keys {
		r := res.Get(id)
		if r.Get("Type").Str() != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := r.Get("Properties")
		watchesSteps := false
		for _, m := range listOf(p.Get("Metrics")) {
			if strings.Contains(m.Get("Expression").Get("Fn::Sub").Str()+m.Get("Expression").Str(), "StepFailed") {
				watchesSteps = true
			}
		}
		watchesErrors := p.Get("Namespace").Str() == "AWS/Lambda" && p.Get("MetricName").Str() == "Errors" &&
			slices.ContainsFunc(listOf(p.Get("Dimensions")), func(d *Node) bool { return d.Get("Value").Get("Ref").Str() == "CentralFunction" })
		if !watchesSteps && !watchesErrors {
			continue
		}
		failureAlarms = append(failureAlarms, id)
		if p.Get("AlarmActions") != nil || p.Get("OKActions") != nil {
			t.Errorf("%s notifies on its own: one failed step would page twice", id)
		}
	}
	if len(failureAlarms) < 2 {
		t.Fatalf("alarms on failed steps and Lambda errors: %v, want both", failureAlarms)
	}
	var composites []string
	for _, id := range res.Keys {
		r := res.Get(id)
		if r.Get("Type").Str() != "AWS::CloudWatch::CompositeAlarm" {
			continue
		}
		rule := r.Get("Properties").Get("AlarmRule").Get("Fn::Sub").Str()
		covers := true
		for _, a := range failureAlarms {
			covers = covers && strings.Contains(rule, `ALARM("${`+a+`}")`)
		}
		if covers && r.Get("Properties").Get("AlarmActions") != nil {
			composites = append(composites, id)
		}
	}
	if len(composites) != 1 {
		t.Errorf("composite alarms with actions over %v: %v, want exactly one", failureAlarms, composites)
	}
}

// dashboard returns the central dashboard's widgets, rendered with
// placeholders.
func dashboard(t *testing.T) []map[string]any {
	t.Helper()
	body := parseFile(t, "template.yaml").Get("Resources").Get("Dashboard").Get("Properties").Get("DashboardBody").Get("Fn::Sub")
	rendered := subVariableRE.ReplaceAllString(body.List[0].Str(), "X")
	var v struct {
		Widgets []map[string]any `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(rendered), &v); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	return v.Widgets
}

// TestP99WidgetPlotsP99: a widget titled p99 plots the 99th percentile
// (Metrics Insights queries have no percentiles: MAX is not p99).
func TestP99WidgetPlotsP99(t *testing.T) {
	found := 0
	for _, w := range dashboard(t) {
		props, _ := w["properties"].(map[string]any)
		title, _ := props["title"].(string)
		if !strings.Contains(title, "p99") {
			continue
		}
		found++
		metrics, _ := json.Marshal(props["metrics"])
		stat, _ := props["stat"].(string)
		if stat != "p99" && !regexp.MustCompile(`SEARCH\(.*'p99'`).Match(metrics) {
			t.Errorf("widget %q plots %s, not p99", title, metrics)
		}
	}
	if found == 0 {
		t.Error("no p99 widget")
	}
}

// TestMultiRegion: one central stack per region. The dashboard name (global)
// carries the region; the member role trusts the central roles of every
// region through an ARN pattern, and takes the central account from it.
func TestMultiRegion(t *testing.T) {
	name := parseFile(t, "template.yaml").Get("Resources").Get("Dashboard").Get("Properties").Get("DashboardName")
	if !strings.Contains(name.Get("Fn::Sub").Str(), "${AWS::Region}") {
		t.Errorf("DashboardName %v does not include the region: a second region's stack collides", name)
	}
	member := parseFile(t, "infra/member-role.yaml")
	if member.Get("Parameters").Get("CentralAccountId") != nil {
		t.Error("member-role.yaml still asks for CentralAccountId; derive it from CentralRoleArn")
	}
	trust := member.Get("Resources").Get("MemberRole").Get("Properties").Get("AssumeRolePolicyDocument").Get("Statement").List[0]
	if trust.Get("Condition").Get("ArnLike").Get("aws:PrincipalArn").Get("Ref").Str() != "CentralRoleArn" {
		t.Errorf("member trust policy condition %v: want ArnLike aws:PrincipalArn = CentralRoleArn (a pattern matching every region's central role)", trust.Get("Condition").Keys)
	}
	e := newEvaluator(t, member, map[string]string{"CentralRoleArn": "arn:aws:iam::444444444444:role/rotary-central-CentralFunctionRole-*"})
	if got, _ := e.value(trust.Get("Principal").Get("AWS")); got != "arn:aws:iam::444444444444:root" {
		t.Errorf("trusted principal = %q, want the central role's account", got)
	}
	pat := member.Get("Parameters").Get("CentralRoleArn").Get("AllowedPattern").Str()
	if !regexp.MustCompile("^(?:" + pat + ")$").MatchString("arn:aws:iam::444444444444:role/rotary-central-CentralFunctionRole-*") {
		t.Errorf("CentralRoleArn pattern %q refuses a wildcard role ARN", pat)
	}
}

// TestOutputs: what a platform team wires into other stacks and consoles.
func TestOutputs(t *testing.T) {
	want := map[string][]string{
		"template.yaml":          {"CentralFunctionArn", "CentralFunctionRoleArn", "CentralFunctionLogGroupName", "RotationFailedAlarmArn", "RotationStepFailedAlarmArn", "FunctionErrorsAlarmArn", "DashboardName"},
		"infra/per-account.yaml": {"RotationFunctionArn", "RotationFunctionRoleArn", "RotationFunctionLogGroupName"},
	}
	for file, names := range want {
		outs := parseFile(t, file).Get("Outputs")
		for _, n := range names {
			if outs.Get(n) == nil {
				t.Errorf("%s has no output %s", file, n)
			}
		}
	}
	for _, n := range want["infra/per-account.yaml"] {
		if parseFile(t, "infra/per-account.yaml").Get("Outputs").Get(n).Get("Export") == nil {
			t.Errorf("infra/per-account.yaml: output %s is not exported", n)
		}
	}
}

// TestServerlessRepoMetadata: the per-account template can be published to
// the Serverless Application Repository (sam publish).
func TestServerlessRepoMetadata(t *testing.T) {
	app := parseFile(t, "infra/per-account.yaml").Get("Metadata").Get("AWS::ServerlessRepo::Application")
	for _, k := range []string{"Name", "Description", "Author", "SemanticVersion", "ReadmeUrl", "SourceCodeUrl"} {
		if app.Get(k) == nil {
			t.Errorf("AWS::ServerlessRepo::Application lacks %s", k)
		}
	}
	if readme := app.Get("ReadmeUrl").Str(); readme != "" {
		if _, err := os.Stat(filepath.Join(root, "infra", readme)); err != nil {
			t.Errorf("ReadmeUrl %s: %v", readme, err)
		}
	}
	if v := app.Get("SemanticVersion").Str(); !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Errorf("SemanticVersion %q", v)
	}
}

// TestSamBuildInSource: BuildMethod makefile copies CodeUri (the whole
// repository, dist/ and .bench/ included) to a scratch directory unless sam
// builds in the source; samconfig.toml and every documented sam build say
// so.
func TestSamBuildInSource(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\[default\.build\.parameters\]\n(?:[^\[].*\n)*build_in_source\s*=\s*true`).Match(b) {
		t.Errorf("samconfig.toml does not set build_in_source = true under [default.build.parameters]:\n%s", b)
	}
	for _, doc := range []string{"README.md", "infra/README.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			l := strings.TrimSpace(line)
			isCommand := strings.HasPrefix(l, "sam build") || (strings.HasPrefix(l, "ROTARY_FUNCTION=") && strings.Contains(l, "sam build"))
			if isCommand && !strings.Contains(l, "--build-in-source") {
				t.Errorf("%s: %q builds without --build-in-source", doc, l)
			}
		}
	}
}

// listOf returns a List node's items, nil for anything else.
func listOf(n *Node) []*Node {
	if n == nil || n.Kind != List {
		return nil
	}
	return n.List
}

// TestLayersResolveToAList: sam local resolves the template's intrinsics
// itself, AWS::NoValue to null, and then iterates a function's Layers: an
// !If whose other branch is AWS::NoValue breaks sam local invoke when no
// layer is given. The empty list means the same to CloudFormation.
func TestLayersResolveToAList(t *testing.T) {
	for _, file := range samTemplates {
		res := parseFile(t, file).Get("Resources")
		for _, id := range res.Keys {
			r := res.Get(id)
			if r.Get("Type").Str() != "AWS::Serverless::Function" {
				continue
			}
			layers := r.Get("Properties").Get("Layers")
			if layers == nil {
				continue
			}
			if fn, _ := layers.Intrinsic(); fn == "Fn::If" {
				for _, branch := range layers.Get(fn).List[1:] {
					if branch.Get("Ref").Str() == "AWS::NoValue" {
						t.Errorf("%s: %s.Layers can be AWS::NoValue, which sam local resolves to null; use []", file, id)
					}
				}
			} else if fn == "Ref" && layers.Get("Ref").Str() == "AWS::NoValue" {
				t.Errorf("%s: %s.Layers is AWS::NoValue", file, id)
			}
		}
	}
}
