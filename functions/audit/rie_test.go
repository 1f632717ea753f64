package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
)

// TestBuiltFunctionUnderRIE runs the built bootstrap under the Lambda Runtime
// Interface Emulator, as Lambda runs it on its schedule: one invocation with
// an EventBridge scheduled event audits both accounts, answers the summary and
// writes the finding lines and EMF records.
func TestBuiltFunctionUnderRIE(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and the RIE")
	}
	s, env := setup(t)
	dir := t.TempDir()
	rie, err := lambdarie.BuildRIE(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	boot, err := lambdarie.BuildFunction(t.Context(), dir, "audit")
	if err != nil {
		t.Fatal(err)
	}
	home := s.DefaultCredentials()
	vars := []string{"AWS_ENDPOINT_URL=" + s.URL, "AWS_REGION=" + region, "AWS_ACCESS_KEY_ID=" + home.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + home.SecretAccessKey, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	for k, v := range env {
		if k != "AWS_LAMBDA_FUNCTION_NAME" {
			vars = append(vars, k+"="+v)
		}
	}
	fn, err := lambdarie.Start(t.Context(), rie, boot, vars)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	event := `{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-30T06:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/audit"],"detail":{}}`
	resp, err := http.Post(fn.InvokeURL, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var sum struct {
		Accounts, Secrets, Findings int
		ByCheck                     map[string]int
	}
	if err := json.Unmarshal(body, &sum); err != nil || sum.Accounts != 2 || sum.Secrets != 2 || sum.ByCheck["rotation-stuck"] != 1 {
		t.Fatalf("answer %s (err %v): want the summary of 2 accounts, 2 secrets, one stuck rotation\nlogs:\n%s", body, err, fn.Logs())
	}
	logs := fn.WaitLogs(10*time.Second, func(logs string) bool {
		return strings.Count(logs, `"message":"audit finding"`) >= sum.Findings && strings.Contains(logs, `"HighFindings"`)
	})
	if n := strings.Count(logs, `"message":"audit finding"`); n != sum.Findings {
		t.Errorf("%d finding lines, want %d:\n%s", n, sum.Findings, logs)
	}
	if !strings.Contains(logs, `"HighFindings"`) || !bytes.Contains([]byte(logs), []byte(`"Check":"rotation-stuck"`)) {
		t.Errorf("no EMF records in the logs:\n%s", logs)
	}
	if strings.Contains(logs, canary) || s.Calls("GetSecretValue", "") != 0 {
		t.Error("a secret value was read or logged")
	}
}
