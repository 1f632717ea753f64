package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// lambdaLevels are the application log levels Lambda's advanced logging
// controls allow, from most to least detail.
var lambdaLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

func levelRank(level string) (int, bool) {
	for i, l := range lambdaLevels {
		if strings.EqualFold(level, l) {
			return i, true
		}
	}
	return 0, false
}

// lambdaKeeps applies Lambda's documented log-level filtering to one JSON line
// written to stdout by a function with ApplicationLogLevel filter
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html):
// the line's level is its "level" field; "If the level value field is invalid
// or missing, Lambda will assign the log output the level INFO", and so it
// does when the line has no valid RFC 3339 timestamp. Lambda sends the
// selected level and the less detailed ones.
func lambdaKeeps(t *testing.T, line []byte, filter string) bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("not a JSON object: %s", line)
	}
	rank, _ := levelRank("INFO")
	if s, ok := m["level"].(string); ok {
		if r, ok := levelRank(s); ok {
			rank = r
		}
	}
	ts, _ := m["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		rank, _ = levelRank("INFO")
	}
	want, ok := levelRank(filter)
	if !ok {
		t.Fatalf("unknown filter level %q", filter)
	}
	return rank >= want
}

// TestMetricsSurviveLogLevelFilter: with each ApplicationLogLevel Lambda
// allows (which it passes to the function as AWS_LAMBDA_LOG_LEVEL), the EMF
// line passes Lambda's filter, so metrics and the alarms on them never go
// silent because of the log level. Unset (text format, no filtering) they are
// INFO.
func TestMetricsSurviveLogLevelFilter(t *testing.T) {
	for _, filter := range append([]string{""}, lambdaLevels...) {
		t.Run("filter="+filter, func(t *testing.T) {
			var buf bytes.Buffer
			getenv := func(k string) string {
				if k == "AWS_LAMBDA_LOG_LEVEL" {
					return strings.ToLower(filter)
				}
				return ""
			}
			logging.NewLambdaMetrics(&buf, "", getenv).Step(logging.StepResult{Engine: "postgres", Step: "setSecret", Account: "111122223333"}, time.Now())
			line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			decodeEMF(t, line)
			effective := filter
			if effective == "" {
				effective = "INFO"
			}
			if !lambdaKeeps(t, line, effective) {
				t.Fatalf("Lambda drops the EMF line at ApplicationLogLevel %s: %s", effective, line)
			}
			// The line is labelled no higher than needed: INFO or the filter.
			var m map[string]any
			_ = json.Unmarshal(line, &m)
			want := "INFO"
			if r, _ := levelRank(effective); r > 2 {
				want = effective
			}
			if m["level"] != want {
				t.Errorf("level = %v, want %s", m["level"], want)
			}
		})
	}
}

// TestMetricsClosedSet: dimension values come only from closed sets; input
// from a secret (a 10 kB engine string, a bad account) becomes "unknown" and
// never reaches the line.
func TestMetricsClosedSet(t *testing.T) {
	huge := strings.Repeat("E", 10_000)
	cases := []struct {
		name string
		r    logging.StepResult
		want map[string]string
	}{
		{"10 kB engine", logging.StepResult{Engine: huge, Step: "createSecret", Account: "111122223333"},
			map[string]string{"Engine": "unknown", "Step": "createSecret", "Account": "111122223333"}},
		{"engine with punctuation", logging.StepResult{Engine: `postgres","Account":"x`, Step: "setSecret", Account: "111122223333"},
			map[string]string{"Engine": "unknown", "Step": "setSecret"}},
		{"upper-case engine", logging.StepResult{Engine: "PostgreSQL", Step: "setSecret"},
			map[string]string{"Engine": "unknown"}},
		{"unknown step", logging.StepResult{Engine: "mysql", Step: "rotateSecret"},
			map[string]string{"Engine": "mysql", "Step": "unknown"}},
		{"short account", logging.StepResult{Engine: "mysql", Step: "testSecret", Account: "1234"},
			map[string]string{"Account": "unknown"}},
		{"huge account", logging.StepResult{Engine: "mysql", Step: "testSecret", Account: huge},
			map[string]string{"Account": "unknown"}},
		{"unknown outcome", logging.StepResult{Engine: "mysql", Step: "testSecret", Outcome: huge},
			map[string]string{"Outcome": "unknown"}},
		{"known outcome", logging.StepResult{Engine: "mysql", Step: "testSecret", Outcome: logging.OutcomeAlreadyCurrent},
			map[string]string{"Outcome": logging.OutcomeAlreadyCurrent}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			logging.NewMetrics(&buf, "").Step(c.r, time.Now())
			if buf.Len() > 2048 {
				t.Fatalf("EMF line is %d bytes: secret input reached it", buf.Len())
			}
			_, members := decodeEMF(t, buf.Bytes())
			for k, v := range c.want {
				if members[k] != v {
					t.Errorf("%s = %v, want %q", k, members[k], v)
				}
			}
		})
	}
}
