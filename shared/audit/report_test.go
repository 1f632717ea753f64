package audit_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/shared/audit"
)

// TestMetricsClosedSet: EMF dimension values are only known check ids,
// severity names and 12-digit account IDs, whatever a finding holds.
func TestMetricsClosedSet(t *testing.T) {
	rep := &audit.Report{
		Findings: []audit.Finding{
			{Account: memberA, Check: audit.RotationStuck, Severity: audit.High},
			{Account: memberA, Check: audit.RotationStuck, Severity: audit.High},
			{Account: memberB, Check: audit.PublicOrExternalPolicy, Severity: audit.Critical},
			{Account: memberB, Check: audit.Unused, Severity: audit.Low},
			{Account: "app/db-password-hunter2", Check: audit.Unused, Severity: audit.Low},
			{Account: memberA, Check: "made-up", Severity: audit.Low},
			{Account: memberA, Check: audit.Unused, Severity: 42},
		},
		Summary: audit.Summary{ByAccount: map[string]map[audit.Check]int{memberA: {}, memberB: {}, "evil": {}}, SecretsByAccount: map[string]int{memberA: 3, memberB: 1}},
	}
	var buf bytes.Buffer
	rep.EmitMetrics(audit.NewMetrics(&buf, ""), time.Now())
	checks := map[string]bool{}
	for _, c := range audit.Checks {
		checks[string(c.Check)] = true
	}
	sevs := map[string]bool{"info": true, "low": true, "medium": true, "high": true, "critical": true}
	acct := regexp.MustCompile(`^[0-9]{12}$`)
	type rec struct {
		AWS struct {
			CloudWatchMetrics []struct{ Dimensions [][]string }
		} `json:"_aws"`
	}
	totals := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r rec
		var m map[string]any
		if json.Unmarshal([]byte(line), &r) != nil || json.Unmarshal([]byte(line), &m) != nil {
			t.Fatalf("not JSON: %s", line)
		}
		for _, set := range r.AWS.CloudWatchMetrics[0].Dimensions {
			for _, d := range set {
				v, _ := m[d].(string)
				ok := map[string]bool{"Account": acct.MatchString(v), "Check": checks[v], "Severity": sevs[v]}[d]
				if !ok {
					t.Errorf("dimension %s=%q outside the closed set: %s", d, v, line)
				}
			}
			if len(set) == 2 {
				totals[m["Account"].(string)+"/"+m["Check"].(string)] = m["Findings"].(float64)
				totals["high:"+m["Account"].(string)+"/"+m["Check"].(string)] = m["HighFindings"].(float64)
			}
			if len(set) == 1 && set[0] == "Severity" {
				totals["sev:"+m["Severity"].(string)] = m["HighFindings"].(float64)
			}
		}
	}
	for k, want := range map[string]float64{
		memberA + "/rotation-stuck": 2, "high:" + memberA + "/rotation-stuck": 2,
		memberB + "/public-or-external-policy": 1, memberB + "/unused": 1, "high:" + memberB + "/unused": 0,
		"sev:high": 2, "sev:critical": 1, "sev:info": 0,
	} {
		if got, ok := totals[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
}
