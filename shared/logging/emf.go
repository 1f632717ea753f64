package logging

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"
)

// Metric names Rotary emits.
const (
	MetricStepDuration      = "StepDuration"
	MetricStepSucceeded     = "StepSucceeded"
	MetricStepFailed        = "StepFailed"
	MetricRotationSucceeded = "RotationSucceeded"
)

// DefaultNamespace is the CloudWatch namespace when ROTARY_METRICS_NAMESPACE is unset.
const DefaultNamespace = "Rotary"

// Unknown replaces any dimension or outcome value outside its closed set.
const Unknown = "unknown"

// Outcomes of a step, the only values of the Outcome member of a record and
// of the outcome attribute of the step's log line.
const (
	OutcomeSucceeded          = "succeeded"
	OutcomeFailed             = "failed"
	OutcomeAlreadyCurrent     = "already current"
	OutcomePendingStored      = "pending already stored"
	OutcomeStoredDespiteError = "stored despite error"
)

var outcomes = map[string]bool{
	OutcomeSucceeded: true, OutcomeFailed: true, OutcomeAlreadyCurrent: true,
	OutcomePendingStored: true, OutcomeStoredDespiteError: true,
}

// steps are the Step dimension's values (the rotation steps).
var steps = map[string]bool{"createSecret": true, "setSecret": true, "testSecret": true, "finishSecret": true}

// Metrics writes CloudWatch embedded metric format records, one JSON line per
// step end. Dimensions stay low-cardinality and come only from closed sets:
// {Engine, Step} and {Account}; see Step.
//
// Each line carries a "level" and an RFC 3339 "timestamp", so Lambda's
// application log-level filtering (JSON log format) keeps it at every
// ApplicationLogLevel: a line without a valid level or timestamp counts as
// INFO and would be dropped at WARN, ERROR and FATAL, silencing the metrics
// and every alarm on them. It is safe for concurrent use.
type Metrics struct {
	w         io.Writer
	namespace string
	level     string
	mu        sync.Mutex
}

// NewMetrics writes EMF records to w under namespace (DefaultNamespace if "")
// at level INFO. A nil *Metrics discards everything.
func NewMetrics(w io.Writer, namespace string) *Metrics {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Metrics{w: w, namespace: namespace, level: "INFO"}
}

// NewLambdaMetrics is NewMetrics for a Lambda function: its records carry the
// level that passes the function's application log-level filter, read from
// AWS_LAMBDA_LOG_LEVEL through getenv (Lambda sets it from ApplicationLogLevel):
// INFO for TRACE, DEBUG, INFO or unset; WARN, ERROR or FATAL for those filters.
func NewLambdaMetrics(w io.Writer, namespace string, getenv func(string) string) *Metrics {
	m := NewMetrics(w, namespace)
	m.level = MetricsLevel(getenv)
	return m
}

// MetricsLevel is the lowest Lambda log level that passes the application
// log-level filter named by AWS_LAMBDA_LOG_LEVEL, and never below INFO.
func MetricsLevel(getenv func(string) string) string {
	switch l := strings.ToUpper(strings.TrimSpace(getenv("AWS_LAMBDA_LOG_LEVEL"))); l {
	case "WARN", "ERROR", "FATAL":
		return l
	}
	return "INFO"
}

// StepResult describes one finished step for metrics. Every field is checked
// against its closed set by Step.
type StepResult struct {
	Engine   string // a registered engine name (lower case)
	Step     string // createSecret, setSecret, testSecret or finishSecret
	Account  string // the secret's 12-digit account
	Outcome  string // one of the Outcome constants
	Duration time.Duration
	Failed   bool
	// Rotated is true when this step completed a rotation (finishSecret moved
	// AWSCURRENT).
	Rotated bool
}

// EngineLabel returns engine when it can be an engine name (1 to 32 of
// a-z, 0-9 and '-', starting with a letter or digit), else Unknown. The
// rotation engine passes only names its rotators are registered under; this
// is the second net.
func EngineLabel(engine string) string {
	if len(engine) == 0 || len(engine) > 32 {
		return Unknown
	}
	for i, c := range engine {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return Unknown
		}
	}
	return engine
}

// AccountLabel returns account when it is a 12-digit account ID, else Unknown.
func AccountLabel(account string) string {
	if len(account) != 12 {
		return Unknown
	}
	for _, c := range account {
		if c < '0' || c > '9' {
			return Unknown
		}
	}
	return account
}

// OutcomeLabel returns outcome when it is one of the Outcome constants, else Unknown.
func OutcomeLabel(outcome string) string {
	if outcomes[outcome] {
		return outcome
	}
	return Unknown
}

func stepLabel(step string) string {
	if steps[step] {
		return step
	}
	return Unknown
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// Step writes the EMF record of one step end.
func (m *Metrics) Step(r StepResult, now time.Time) {
	if m == nil || m.w == nil {
		return
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	outcome := r.Outcome
	if outcome == "" {
		outcome = OutcomeSucceeded
		if r.Failed {
			outcome = OutcomeFailed
		}
	}
	rec := map[string]any{
		"level":     m.level,
		"timestamp": now.UTC().Format(time.RFC3339Nano),
		"_aws": emfMeta{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  m.namespace,
				Dimensions: [][]string{{"Engine", "Step"}, {"Account"}},
				Metrics: []emfMetric{
					{MetricStepDuration, "Milliseconds"},
					{MetricStepSucceeded, "Count"},
					{MetricStepFailed, "Count"},
					{MetricRotationSucceeded, "Count"},
				},
			}},
		},
		"Engine":                EngineLabel(r.Engine),
		"Step":                  stepLabel(r.Step),
		"Account":               AccountLabel(r.Account),
		"Outcome":               OutcomeLabel(outcome),
		MetricStepDuration:      float64(r.Duration.Microseconds()) / 1000,
		MetricStepSucceeded:     b2i(!r.Failed),
		MetricStepFailed:        b2i(r.Failed),
		MetricRotationSucceeded: b2i(r.Rotated),
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	line = append(line, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(line)
}
