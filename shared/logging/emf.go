package logging

import (
	"encoding/json"
	"io"
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

// Metrics writes CloudWatch embedded metric format records, one JSON line per
// step end. Dimensions stay low-cardinality: {Engine, Step} and {Account}.
// It is safe for concurrent use.
type Metrics struct {
	w         io.Writer
	namespace string
	mu        sync.Mutex
}

// NewMetrics writes EMF records to w under namespace (DefaultNamespace if "").
// A nil *Metrics discards everything.
func NewMetrics(w io.Writer, namespace string) *Metrics {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Metrics{w: w, namespace: namespace}
}

// StepResult describes one finished step for metrics.
type StepResult struct {
	Engine   string
	Step     string
	Account  string
	Duration time.Duration
	Failed   bool
	// Rotated is true when this step completed a rotation (finishSecret moved
	// AWSCURRENT).
	Rotated bool
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
	engine := r.Engine
	if engine == "" {
		engine = "unknown"
	}
	account := r.Account
	if account == "" {
		account = "unknown"
	}
	rec := map[string]any{
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
		"Engine":                engine,
		"Step":                  r.Step,
		"Account":               account,
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
