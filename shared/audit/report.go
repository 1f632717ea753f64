package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rotary-secrets/rotary/shared/logging"
)

// Metric names of the audit's EMF records.
const (
	MetricFindings       = "Findings"       // dimension sets {Account, Check} and, once per run for every severity, {Severity}
	MetricHighFindings   = "HighFindings"   // findings at high or critical, same dimension sets
	MetricSecretsAudited = "SecretsAudited" // dimension {Account}
)

// AtLeast reports whether the report has a finding at or above sev.
func (r *Report) AtLeast(sev Severity) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity >= sev })
}

// WriteJSON writes one JSON object per finding and a last line
// {"summary":{…}}.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range r.Findings {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("write finding: %w", err)
		}
	}
	if err := enc.Encode(struct {
		Summary Summary `json:"summary"`
	}{r.Summary}); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// WriteTable writes the findings as an aligned table, then the counts per
// account and check.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tCHECK\tACCOUNT\tREGION\tSECRET\tDETAIL")
	for _, f := range r.Findings {
		name := f.SecretName
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Check, f.Account, f.Region, name, f.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := r.Summary
	fmt.Fprintf(w, "\n%s in %s of %s (%s)", plural(s.Findings, "finding"), plural(s.Secrets, "secret"), plural(s.Accounts, "account"), strings.Join(s.Regions, ", "))
	if s.AccountsFailed > 0 {
		fmt.Fprintf(w, "; %s not fully audited", plural(s.AccountsFailed, "account"))
	}
	if s.Vanished > 0 {
		fmt.Fprintf(w, "; %s deleted during the audit", plural(s.Vanished, "secret"))
	}
	fmt.Fprintln(w)
	var checks []Check
	for _, c := range Checks {
		if s.ByCheck[c.Check] > 0 {
			checks = append(checks, c.Check)
		}
	}
	if len(checks) == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "ACCOUNT\t")
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	accounts := make([]string, 0, len(s.ByAccount))
	for a := range s.ByAccount {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	for _, a := range accounts {
		fmt.Fprintf(tw, "%s\t", a)
		for _, c := range checks {
			fmt.Fprintf(tw, "%d\t", s.ByAccount[a][c])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// Log writes one JSON log line per finding (level WARN for high and
// critical, INFO otherwise), in the rotation functions' log format.
func (r *Report) Log(ctx context.Context, logger *slog.Logger) {
	for _, f := range r.Findings {
		LogFinding(ctx, logger, f)
	}
	s := r.Summary
	logger.LogAttrs(ctx, slog.LevelInfo, "audit: done",
		slog.Int("accounts", s.Accounts), slog.Int("accountsFailed", s.AccountsFailed), slog.Int("secrets", s.Secrets),
		slog.Int("vanished", s.Vanished), slog.Int("findings", s.Findings), slog.Any("bySeverity", s.BySeverity))
}

// LogFinding writes one finding's log line.
func LogFinding(ctx context.Context, logger *slog.Logger, f Finding) {
	level := slog.LevelInfo
	if f.Severity >= High {
		level = slog.LevelWarn
	}
	logger.LogAttrs(ctx, level, "audit finding",
		slog.String("account", f.Account), slog.String("region", f.Region),
		slog.String("secretArn", f.SecretARN), slog.String("secretName", f.SecretName),
		slog.String("check", string(f.Check)), slog.String("severity", f.Severity.String()),
		slog.String("detail", f.Detail))
}

// EmitMetrics writes the report's EMF records: per account and check the
// number of findings and of high findings; per severity (all of them, zero
// included) the same totals; per account the number of secrets audited. Dimension values come only from the closed
// sets: known check ids, severity names and 12-digit account IDs.
func (r *Report) EmitMetrics(m *Metrics, now time.Time) {
	r.emit(m.m, now)
}

// Metrics wraps the fleet's EMF writer.
type Metrics struct{ m *logging.Metrics }

// NewMetrics returns the audit's metrics writer over w in namespace.
func NewMetrics(w io.Writer, namespace string) *Metrics {
	return &Metrics{logging.NewMetrics(w, namespace)}
}

func (r *Report) emit(m *logging.Metrics, now time.Time) {
	type key struct {
		account string
		check   Check
	}
	counts, high := map[key]int{}, map[key]int{}
	var keys []key
	bySev := map[Severity][2]int{}
	for _, f := range r.Findings {
		if !accountRE.MatchString(f.Account) || !f.Check.Known() || f.Severity < Info || f.Severity > Critical {
			continue
		}
		k := key{f.Account, f.Check}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
		c := bySev[f.Severity]
		c[0]++
		if f.Severity >= High {
			high[k]++
			c[1]++
		}
		bySev[f.Severity] = c
	}
	for _, k := range keys {
		m.Counts(now, [][]string{{"Account", "Check"}},
			map[string]string{"Account": k.account, "Check": string(k.check)},
			map[string]float64{MetricFindings: float64(counts[k]), MetricHighFindings: float64(high[k])})
	}
	// Every severity, zero included, once per run: the high-findings alarm
	// sees the run even when it found nothing.
	for sev := Info; sev <= Critical; sev++ {
		m.Counts(now, [][]string{{"Severity"}}, map[string]string{"Severity": sev.String()},
			map[string]float64{MetricFindings: float64(bySev[sev][0]), MetricHighFindings: float64(bySev[sev][1])})
	}
	accounts := make([]string, 0, len(r.Summary.ByAccount))
	for a := range r.Summary.ByAccount {
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	for _, a := range accounts {
		if !accountRE.MatchString(a) {
			continue
		}
		m.Counts(now, [][]string{{"Account"}}, map[string]string{"Account": a},
			map[string]float64{MetricSecretsAudited: float64(r.Summary.SecretsByAccount[a])})
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
