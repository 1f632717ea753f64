package logging

import (
	"encoding/json"
	"time"
)

// Counts writes one EMF record of count metrics under the given dimension
// sets, in m's namespace. Every dimension named in dims must have a value in
// dimensions, and the caller must take those values from a closed set (check
// ids, severities, 12-digit account IDs), never from secret input. Nothing is
// written for a nil Metrics, an empty metrics map or a missing dimension.
func (m *Metrics) Counts(now time.Time, dims [][]string, dimensions map[string]string, metrics map[string]float64) {
	if m == nil || m.w == nil || len(metrics) == 0 {
		return
	}
	rec := map[string]any{}
	var ms []emfMetric
	for _, set := range dims {
		for _, d := range set {
			v, ok := dimensions[d]
			if !ok || v == "" {
				return
			}
			rec[d] = v
		}
	}
	for name, v := range metrics {
		ms = append(ms, emfMetric{name, "Count"})
		rec[name] = v
	}
	sortMetrics(ms)
	rec["_aws"] = emfMeta{Timestamp: now.UnixMilli(), CloudWatchMetrics: []emfDirective{{Namespace: m.namespace, Dimensions: dims, Metrics: ms}}}
	line, err := json.Marshal(rec)
	if err != nil {
		return
	}
	line = append(line, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(line)
}

func sortMetrics(ms []emfMetric) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Name < ms[j-1].Name; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}
