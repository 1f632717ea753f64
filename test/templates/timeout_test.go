package templates

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/shared/logging"
)

// saasCall is the longest one provider call can take: every attempt runs to
// its timeout and the provider asks for the longest allowed wait between
// attempts (rotators/saas Client.Do).
func saasCall(c saas.Config) time.Duration {
	timeout, attempts, wait := c.Timeout, c.MaxAttempts, c.MaxWait
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = 20 * time.Second
	}
	return time.Duration(attempts)*timeout + time.Duration(attempts-1)*wait
}

// saasStepWorstCase is the longest SaaS rotation step (one Lambda invocation)
// with c, for a rotation with nothing left over from earlier attempts:
//   - createSecret: find leftover keys, mint, find twins (3 calls);
//   - testSecret: the verify call, repeated after waits of 1s, 2s, 4s… while
//     their sum stays within VerifyWait (rotators/saas Rotator.Test);
//   - finishSecret: revoke the previous key (1 call).
func saasStepWorstCase(c saas.Config) (time.Duration, string) {
	call := saasCall(c)
	verifyWait := 7 * time.Second
	if c.VerifyWait != nil {
		verifyWait = *c.VerifyWait
	}
	verifies, spent := 1, time.Duration(0)
	for w := time.Second; spent+w <= verifyWait; w *= 2 {
		verifies++
		spent += w
	}
	steps := map[string]time.Duration{
		"createSecret": 3 * call,
		"testSecret":   time.Duration(verifies)*call + spent,
		"finishSecret": call,
	}
	worst, name := time.Duration(0), ""
	for _, s := range []string{"createSecret", "testSecret", "finishSecret"} {
		if steps[s] > worst {
			worst, name = steps[s], s
		}
	}
	return worst, name
}

// TestTimeoutCoversSaaSWorstCase: with the templates' defaults, the
// worst case of a SaaS step plus the cleanup reserve fits in the function's
// timeout, so a step stalled by its provider still ends (at Lambda deadline
// minus ROTARY_CLEANUP_RESERVE, cross-branch contract 2) with time left to
// revoke what it minted. The SAAS_* values are read with the code's own
// parser from the environment the template gives the function.
func TestTimeoutCoversSaaSWorstCase(t *testing.T) {
	for _, tc := range []struct{ file, function string }{
		{"template.yaml", "CentralFunction"},
		{"infra/per-account.yaml", "RotationFunction"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			root := parseFile(t, tc.file)
			env := environment(t, tc.file, tc.function, map[string]string{})
			cfg, err := saas.ConfigFromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("the template's SAAS_* settings: %v", err)
			}
			reserve := 20 * time.Second // the engine's default
			if v, ok := env["ROTARY_CLEANUP_RESERVE"]; ok {
				if reserve, err = time.ParseDuration(v); err != nil || reserve <= 0 {
					t.Fatalf("ROTARY_CLEANUP_RESERVE=%q is not a positive Go duration", v)
				}
			}
			e := newEvaluator(t, root, nil)
			ts, _ := e.value(root.Get("Resources").Get(tc.function).Get("Properties").Get("Timeout"))
			secs, err := strconv.Atoi(ts)
			if err != nil {
				t.Fatalf("Timeout %q", ts)
			}
			timeout := time.Duration(secs) * time.Second
			worst, step := saasStepWorstCase(cfg)
			t.Logf("SaaS call worst case %v; %s %v + reserve %v; timeout %v", saasCall(cfg), step, worst, reserve, timeout)
			if worst+reserve > timeout {
				t.Errorf("a stalled provider makes %s take up to %v, plus the %v cleanup reserve = %v > Timeout %v: cleanup would be killed",
					step, worst, reserve, worst+reserve, timeout)
			}
			// The reserve must hold a cleanup: one attempt to revoke the minted
			// key and one to find its twins.
			if least := 2 * cfg.Timeout; reserve < least {
				t.Errorf("cleanup reserve %v < two SaaS attempts (%v)", reserve, least)
			}
		})
	}
}

// TestSaaSWorstCaseModel pins the arithmetic on the code's defaults (10s
// per attempt, 4 attempts, 20s between them, 7s verify wait): 100s per call,
// testSecret 4 calls + 7s.
func TestSaaSWorstCaseModel(t *testing.T) {
	if got := saasCall(saas.Config{}); got != 100*time.Second {
		t.Errorf("saasCall(defaults) = %v, want 100s", got)
	}
	if got, step := saasStepWorstCase(saas.Config{}); got != 407*time.Second || step != "testSecret" {
		t.Errorf("saasStepWorstCase(defaults) = %v (%s), want 407s (testSecret)", got, step)
	}
	zero := time.Duration(0)
	if got, _ := saasStepWorstCase(saas.Config{VerifyWait: &zero, MaxAttempts: 1, Timeout: time.Second}); got != 3*time.Second {
		t.Errorf("one 1s attempt, no verify wait: %v, want 3s (createSecret)", got)
	}
}

// lambdaLevels are Lambda's log levels, most detailed first.
var lambdaLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// lambdaLevel applies Lambda's documented rule to one JSON log line: the
// level is the "level" field; a missing or invalid level, or a missing or
// invalid RFC 3339 "timestamp", makes the line INFO.
func lambdaLevel(line []byte) string {
	var rec map[string]any
	if json.Unmarshal(line, &rec) != nil {
		return "INFO"
	}
	lvl, _ := rec["level"].(string)
	lvl = strings.ToUpper(lvl)
	if !slices.Contains(lambdaLevels, lvl) {
		return "INFO"
	}
	ts, _ := rec["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return "INFO"
	}
	return lvl
}

// TestMetricsSurviveLogLevel: Lambda sends an application log line to
// CloudWatch only when its level is at least ApplicationLogLevel. Every
// level a template allows must keep the EMF metric lines (or the alarms,
// with notBreaching, go silent forever).
func TestMetricsSurviveLogLevel(t *testing.T) {
	for _, file := range samTemplates {
		allowed := scalars(parseFile(t, file).Get("Parameters").Get("ApplicationLogLevel").Get("AllowedValues"))
		if len(allowed) == 0 {
			t.Fatalf("%s: ApplicationLogLevel has no AllowedValues", file)
		}
		for _, lvl := range allowed {
			// Lambda sets AWS_LAMBDA_LOG_LEVEL from ApplicationLogLevel; the
			// functions build their metrics with NewLambdaMetrics from it.
			var buf bytes.Buffer
			getenv := func(k string) string {
				if k == "AWS_LAMBDA_LOG_LEVEL" {
					return lvl
				}
				return ""
			}
			logging.NewLambdaMetrics(&buf, "", getenv).Step(logging.StepResult{Engine: "postgres", Step: "setSecret", Account: testAccount, Failed: true}, time.Now())
			line := bytes.TrimSpace(buf.Bytes())
			if len(line) == 0 {
				t.Fatalf("%s: no EMF line written at %s", file, lvl)
			}
			if got := lambdaLevel(line); slices.Index(lambdaLevels, got) < slices.Index(lambdaLevels, lvl) {
				t.Errorf("%s allows ApplicationLogLevel=%s, which drops the EMF metric lines (Lambda reads them as %s): %s", file, lvl, got, line)
			}
		}
	}
}

func TestLambdaLevelRule(t *testing.T) {
	for line, want := range map[string]string{
		`{"_aws":{}}`: "INFO",
		`{"level":"error","timestamp":"2026-01-02T03:04:05.678Z"}`: "ERROR",
		`{"level":"ERROR"}`: "INFO",
		`{"level":"loud","timestamp":"2026-01-02T03:04:05Z"}`: "INFO",
		`not json`: "INFO",
	} {
		if got := lambdaLevel([]byte(line)); got != want {
			t.Errorf("lambdaLevel(%s) = %s, want %s", line, got, want)
		}
	}
}
