package logging_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/shared/logging"
)

type emfRecord struct {
	AWS struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// decodeEMF decodes one EMF line and checks the rules CloudWatch applies: every
// dimension names a string member and every metric a numeric member.
func decodeEMF(t *testing.T, line []byte) (emfRecord, map[string]any) {
	t.Helper()
	var rec emfRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("EMF line is not JSON: %v\n%s", err, line)
	}
	var members map[string]any
	if err := json.Unmarshal(line, &members); err != nil {
		t.Fatal(err)
	}
	if len(rec.AWS.CloudWatchMetrics) == 0 {
		t.Fatalf("no CloudWatchMetrics directive: %s", line)
	}
	for _, d := range rec.AWS.CloudWatchMetrics {
		for _, set := range d.Dimensions {
			for _, dim := range set {
				if s, ok := members[dim].(string); !ok || s == "" {
					t.Errorf("dimension %s = %v, want a non-empty string member", dim, members[dim])
				}
			}
		}
		for _, m := range d.Metrics {
			if _, ok := members[m.Name].(float64); !ok {
				t.Errorf("metric %s = %v, want a number member", m.Name, members[m.Name])
			}
		}
	}
	return rec, members
}

func TestMetricsStep(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 123_000_000, time.UTC)
	tests := []struct {
		name      string
		namespace string
		r         logging.StepResult
		want      map[string]any
	}{
		{
			name:      "success",
			namespace: "Custom/NS",
			r:         logging.StepResult{Engine: "postgres", Step: "setSecret", Account: "111122223333", Duration: 1500 * time.Microsecond},
			want: map[string]any{
				"Engine": "postgres", "Step": "setSecret", "Account": "111122223333", "Outcome": "succeeded",
				"level": "INFO", "timestamp": "2026-11-27T12:00:00.123Z",
				"StepDuration": 1.5, "StepSucceeded": float64(1), "StepFailed": float64(0), "RotationSucceeded": float64(0),
			},
		},
		{
			name: "failure",
			r:    logging.StepResult{Engine: "mysql", Step: "testSecret", Account: "444455556666", Duration: 2 * time.Second, Failed: true},
			want: map[string]any{
				"Engine": "mysql", "Step": "testSecret", "Account": "444455556666", "Outcome": "failed",
				"level": "INFO", "timestamp": "2026-11-27T12:00:00.123Z",
				"StepDuration": float64(2000), "StepSucceeded": float64(0), "StepFailed": float64(1), "RotationSucceeded": float64(0),
			},
		},
		{
			name: "rotated, unknown engine and account",
			r:    logging.StepResult{Step: "finishSecret", Rotated: true},
			want: map[string]any{
				"Engine": "unknown", "Step": "finishSecret", "Account": "unknown", "Outcome": "succeeded",
				"level": "INFO", "timestamp": "2026-11-27T12:00:00.123Z",
				"StepDuration": float64(0), "StepSucceeded": float64(1), "StepFailed": float64(0), "RotationSucceeded": float64(1),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logging.NewMetrics(&buf, tt.namespace).Step(tt.r, now)
			if !strings.HasSuffix(buf.String(), "\n") || strings.Count(buf.String(), "\n") != 1 {
				t.Fatalf("Step wrote %q, want one line", buf.String())
			}
			rec, members := decodeEMF(t, buf.Bytes())
			wantNS := tt.namespace
			if wantNS == "" {
				wantNS = logging.DefaultNamespace
			}
			d := rec.AWS.CloudWatchMetrics[0]
			if d.Namespace != wantNS {
				t.Errorf("Namespace = %q, want %q", d.Namespace, wantNS)
			}
			if diff := cmp.Diff(d.Dimensions, [][]string{{"Engine", "Step"}, {"Account"}}); diff != "" {
				t.Errorf("Dimensions (-got +want):\n%s", diff)
			}
			var metrics []string
			for _, m := range d.Metrics {
				metrics = append(metrics, m.Name+"/"+m.Unit)
			}
			wantMetrics := []string{
				logging.MetricStepDuration + "/Milliseconds", logging.MetricStepSucceeded + "/Count",
				logging.MetricStepFailed + "/Count", logging.MetricRotationSucceeded + "/Count",
			}
			if diff := cmp.Diff(metrics, wantMetrics); diff != "" {
				t.Errorf("Metrics (-got +want):\n%s", diff)
			}
			if rec.AWS.Timestamp != now.UnixMilli() {
				t.Errorf("Timestamp = %d, want %d", rec.AWS.Timestamp, now.UnixMilli())
			}
			delete(members, "_aws")
			if diff := cmp.Diff(members, tt.want); diff != "" {
				t.Errorf("members (-got +want):\n%s", diff)
			}
		})
	}
}

func TestMetricsNil(t *testing.T) {
	var m *logging.Metrics
	m.Step(logging.StepResult{Step: "createSecret"}, time.Now()) // no panic
	logging.NewMetrics(nil, "").Step(logging.StepResult{Step: "createSecret"}, time.Now())
}

// lockedCounter checks that Write is never called concurrently, and keeps the
// lines whole.
type lockedCounter struct {
	mu    sync.Mutex
	busy  bool
	buf   bytes.Buffer
	clash bool
}

func (w *lockedCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.busy {
		w.clash = true
	}
	w.busy = true
	w.mu.Unlock()
	time.Sleep(time.Microsecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy = false
	return w.buf.Write(p)
}

func TestMetricsConcurrent(t *testing.T) {
	w := &lockedCounter{}
	m := logging.NewMetrics(w, "")
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m.Step(logging.StepResult{Engine: "postgres", Step: "setSecret", Account: fmt.Sprint(g), Duration: time.Duration(i) * time.Millisecond}, time.Now())
			}
		})
	}
	wg.Wait()
	if w.clash {
		t.Error("Write was called concurrently")
	}
	lines := strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("%d lines, want %d", len(lines), goroutines*each)
	}
	for _, line := range lines {
		decodeEMF(t, []byte(line))
	}
}
