// Package bench produces Rotary's benchmark report: per rotator, Secrets
// Manager calls, database logins and failed logins per rotation and
// allocations per step; per built function, cold start under the Lambda
// Runtime Interface Emulator, peak RSS during a rotation and zipped binary
// size; and the fleet run's throughput. AWS's Python rotation template's
// figures are stated beside them as the baseline.
//
// Figures are counts and ratios; timings are reported, never asserted.
// TestFigures measures what needs test servers (databases) and, with
// ROTARY_BENCH_OUT set, writes its figures as JSON; cmd/report (make bench)
// runs it in full, adds binary sizes and the fleet run, prints the table and
// writes .bench/report.json.
//
// It is test infrastructure: production code must never import it.
package bench
