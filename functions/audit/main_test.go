package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const (
	member  = "111111111111"
	region  = "us-east-1"
	canary  = "canary-value-never-read"
	extID   = "audit-ext"
	fleetFn = "arn:aws:lambda:us-east-1:" + localaws.DefaultAccount + ":function:rotary-central"
)

// setup starts localaws with a member account, plants a stuck rotation (high)
// in the member and a secret without rotation (medium) in the home account,
// points the SDK at it and returns the server and the function's settings.
func setup(t *testing.T) (*localaws.Server, map[string]string) {
	s := localaws.Start(t)
	home := s.DefaultCredentials()
	s.AddRole(localaws.Role{Account: member, Name: "rotary-member", TrustedAccounts: []string{home.Account}, ExternalID: extID})
	admin := secretsmanager.NewFromConfig(s.AWSConfig(s.AddAccount(member), region))
	out, err := admin.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("orders/db"), SecretString: aws.String(canary), KmsKeyId: aws.String("alias/orders")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSecretState(member, region, aws.ToString(out.ARN), localaws.SecretState{
		Rotation:     &localaws.PlantedRotation{LambdaARN: fleetFn, Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}},
		LastRotated:  time.Now().Add(-48 * time.Hour),
		LastAccessed: time.Now(),
		Pending:      &localaws.PlantedPending{Created: time.Now().Add(-30 * time.Hour), WithValue: true},
	}); err != nil {
		t.Fatal(err)
	}
	own := secretsmanager.NewFromConfig(s.AWSConfig(home, region))
	if _, err := own.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("legacy/token"), SecretString: aws.String(canary), KmsKeyId: aws.String("alias/legacy")}); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": s.URL, "AWS_REGION": region, "AWS_ACCESS_KEY_ID": home.AccessKeyID, "AWS_SECRET_ACCESS_KEY": home.SecretAccessKey,
		"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	env := map[string]string{
		"ROTARY_MODE": "central", "ROTARY_ALLOWED_ACCOUNTS": member, "ROTARY_EXTERNAL_ID": extID,
		"ROTARY_HOME_ACCOUNT": home.Account, "AWS_LAMBDA_FUNCTION_NAME": "rotary-audit",
	}
	return s, env
}

func TestCommandLine(t *testing.T) {
	s, env := setup(t)
	getenv := func(k string) string { return env[k] }

	t.Run("json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := cli(t.Context(), []string{"-json"}, getenv, &stdout, &stderr); code != exitFindings {
			t.Fatalf("exit %d, want %d (a high finding); stderr %s", code, exitFindings, stderr.String())
		}
		var lines []map[string]any
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("not JSON: %q", sc.Text())
			}
			lines = append(lines, m)
		}
		if len(lines) < 2 {
			t.Fatalf("%d lines, want findings and a summary", len(lines))
		}
		want := []string{"account", "check", "detail", "region", "secretArn", "secretName", "severity"}
		checks := map[string]string{}
		for _, l := range lines[:len(lines)-1] {
			if keys := slices.Sorted(maps.Keys(l)); !slices.Equal(keys, want) {
				t.Errorf("finding keys %v, want %v", keys, want)
			}
			checks[l["secretName"].(string)+" "+l["check"].(string)] = l["severity"].(string)
		}
		if checks["orders/db rotation-stuck"] != "high" || checks["legacy/token rotation-disabled"] != "medium" {
			t.Errorf("findings %v, want orders/db rotation-stuck high and legacy/token rotation-disabled medium", checks)
		}
		var sum struct {
			Summary struct {
				Accounts  int
				Secrets   int
				ByCheck   map[string]int
				ByAccount map[string]map[string]int
			}
		}
		last, _ := json.Marshal(lines[len(lines)-1])
		if err := json.Unmarshal(last, &sum); err != nil || sum.Summary.Accounts != 2 || sum.Summary.Secrets != 2 || sum.Summary.ByAccount[member]["rotation-stuck"] != 1 {
			t.Errorf("summary %s, want 2 accounts, 2 secrets, one stuck rotation in %s", last, member)
		}
		if strings.Contains(stdout.String()+stderr.String(), canary) {
			t.Error("a secret value reached the output")
		}
	})
	t.Run("table below the threshold", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := cli(t.Context(), []string{"-fail-on", "critical"}, getenv, &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d, want 0; stderr %s", code, stderr.String())
		}
		for _, w := range []string{"SEVERITY", "rotation-stuck", "orders/db", "legacy/token", member} {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("table lacks %q:\n%s", w, stdout.String())
			}
		}
		t.Log("\n" + stdout.String())
	})
	t.Run("bad flag", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := cli(t.Context(), []string{"-fail-on", "severe"}, getenv, &stdout, &stderr); code != exitUsage {
			t.Fatalf("exit %d, want %d", code, exitUsage)
		}
	})
	t.Run("bad configuration", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		bad := func(k string) string {
			if k == "ROTARY_AUDIT_UNUSED_DAYS" {
				return "many"
			}
			return env[k]
		}
		if code := cli(t.Context(), nil, bad, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "ROTARY_AUDIT_UNUSED_DAYS") {
			t.Fatalf("exit %d, stderr %q: want %d naming the variable", code, stderr.String(), exitUsage)
		}
	})
	for _, op := range []string{"GetSecretValue", "BatchGetSecretValue"} {
		if n := s.Calls(op, ""); n != 0 {
			t.Errorf("%d %s calls, want none", n, op)
		}
	}
	if n := s.Calls("AssumeRole", ""); n > 3 {
		t.Errorf("%d AssumeRole calls for 3 runs with one member account, want at most one per run", n)
	}
}

// TestScheduledHandler runs the Lambda handler: one log line per finding in
// the rotation functions' format, EMF records whose dimensions are check
// ids, severities and account IDs.
func TestScheduledHandler(t *testing.T) {
	s, env := setup(t)
	env["ROTARY_METRICS_NAMESPACE"] = "RotaryTest"
	var logs, metrics bytes.Buffer
	h, err := newHandler(t.Context(), func(k string) string { return env[k] }, logging.NewJSON(&logs, nil), &metrics)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := h.Handle(t.Context(), json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`))
	if err != nil || sum.Findings < 2 || sum.Secrets != 2 {
		t.Fatalf("summary %+v, err %v", sum, err)
	}
	findings := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
		if l["message"] == "audit finding" {
			findings++
			for _, k := range []string{"timestamp", "level", "account", "region", "secretArn", "secretName", "check", "severity", "detail"} {
				if _, ok := l[k]; !ok {
					t.Errorf("finding line lacks %s: %s", k, line)
				}
			}
		}
	}
	if findings != sum.Findings {
		t.Errorf("%d finding lines, want %d", findings, sum.Findings)
	}
	dims := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(metrics.String()), "\n") {
		var rec struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
				}
			} `json:"_aws"`
		}
		var members map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || json.Unmarshal([]byte(line), &members) != nil || len(rec.AWS.CloudWatchMetrics) != 1 {
			t.Fatalf("not an EMF record: %q", line)
		}
		d := rec.AWS.CloudWatchMetrics[0]
		if d.Namespace != "RotaryTest" {
			t.Errorf("namespace %q", d.Namespace)
		}
		for _, set := range d.Dimensions {
			for _, k := range set {
				dims[k+"="+members[k].(string)] = true
			}
		}
	}
	for _, want := range []string{"Check=rotation-stuck", "Severity=high", "Account=" + member, "Check=rotation-disabled", "Account=" + localaws.DefaultAccount} {
		if !dims[want] {
			t.Errorf("no EMF dimension %s in %v", want, slices.Sorted(maps.Keys(dims)))
		}
	}
	if strings.Contains(logs.String()+metrics.String(), canary) || s.Calls("GetSecretValue", "") != 0 {
		t.Error("a secret value was read or logged")
	}
}
