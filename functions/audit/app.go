package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rotary-secrets/rotary/shared/audit"
)

// envMetricsNamespace is the rotation functions' ROTARY_METRICS_NAMESPACE.
const envMetricsNamespace = "ROTARY_METRICS_NAMESPACE"

// Exit statuses of the command line.
const (
	exitOK       = 0
	exitFindings = 1 // a finding at or above -fail-on
	exitUsage    = 2 // bad flags or configuration
)

// cli audits once and prints the report.
func cli(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per finding and a last {\"summary\":…} line")
	failOn := fs.String("fail-on", "high", "exit 1 when a finding at or above this severity exists (info, low, medium, high, critical)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: audit [-json] [-fail-on high]\n\nAudits the secrets of this account and, with ROTARY_MODE=central, of every allowed member account\n(metadata only: no secret value is read). Standard AWS SDK configuration (profiles, AWS_ENDPOINT_URL, …).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "audit: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	threshold, err := audit.ParseSeverity(*failOn)
	if err != nil {
		fmt.Fprintf(stderr, "audit: -fail-on: %v\n", err)
		return exitUsage
	}
	base, err := audit.LoadConfig(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return exitUsage
	}
	sc, err := audit.NewScanner(ctx, getenv, base)
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return exitUsage
	}
	rep := sc.Run(ctx)
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return exitUsage
	}
	if rep.AtLeast(threshold) {
		return exitFindings
	}
	return exitOK
}

// handler runs the scheduled audit under Lambda.
type handler struct {
	scanner *audit.Scanner
	logger  *slog.Logger
	metrics *audit.Metrics
	now     func() time.Time
}

func newHandler(ctx context.Context, getenv func(string) string, logger *slog.Logger, metricsOut io.Writer) (*handler, error) {
	base, err := audit.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := audit.NewScanner(ctx, getenv, base)
	if err != nil {
		return nil, err
	}
	sc.Logger = logger
	return &handler{scanner: sc, logger: logger, metrics: audit.NewMetrics(metricsOut, getenv(envMetricsNamespace)), now: time.Now}, nil
}

// Handle audits every account on a scheduled event (its content is not
// used), logs the findings, writes the metrics and returns the summary.
func (h *handler) Handle(ctx context.Context, _ json.RawMessage) (audit.Summary, error) {
	rep := h.scanner.Run(ctx)
	rep.Log(ctx, h.logger)
	rep.EmitMetrics(h.metrics, h.now())
	return rep.Summary, nil
}
