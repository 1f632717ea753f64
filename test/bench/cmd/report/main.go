// Command report produces Rotary's benchmark report (make bench): it runs
// test/bench's TestFigures in full (rotators against throwaway databases,
// every function under the Lambda RIE), builds every function the way the
// Makefile does for Lambda (linux/arm64) to measure its zipped size, runs the
// full fleet load in process, prints a table and writes the JSON report.
//
// Timings are reported for information; nothing here asserts them.
package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/rotary-secrets/rotary/test/bench"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/fleet"
)

func main() {
	out := flag.String("out", ".bench/report.json", "where to write the JSON report")
	secrets := flag.Int("fleet-secrets", 1000, "secrets in the fleet run")
	accounts := flag.Int("fleet-accounts", 20, "member accounts in the fleet run")
	rieSecrets := flag.Int("fleet-rie-secrets", 1000, "secrets in the fleet run through the built central function (0: skip)")
	rieCopies := flag.Int("fleet-rie-copies", 4, "warm copies of the central function under the RIE")
	arch := flag.String("arch", "arm64", "GOARCH of the size measurement (the Lambda build)")
	auditAccounts := flag.Int("audit-accounts", 20, "member accounts in the audit scale run (0: skip)")
	auditSecrets := flag.Int("audit-secrets", 1000, "secrets per account in the audit scale run")
	flag.Parse()
	auditCfg = bench.AuditConfig{Accounts: *auditAccounts, SecretsPerAccount: *auditSecrets, Seed: 4}
	if err := run(*out, *secrets, *accounts, *arch, *rieSecrets, *rieCopies); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(out string, secrets, accounts int, arch string, rieSecrets, rieCopies int) error {
	root, err := lambdarie.ModuleRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	work := filepath.Join(filepath.Dir(out), "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	ctx := context.Background()

	// 1. Rotators and functions under the RIE (needs test servers).
	figures := filepath.Join(work, "figures.json")
	fmt.Fprintln(os.Stderr, "== rotators and functions (go test ./test/bench, full)")
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout", "40m", "-run", "^TestFigures$", "./test/bench")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ROTARY_BENCH_OUT="+figures, "ROTARY_BENCH_FULL=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test ./test/bench: %w", err)
	}
	var rep bench.Report
	b, err := os.ReadFile(figures)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("read %s: %w", figures, err)
	}

	// 2. Zipped sizes of the Lambda builds.
	fmt.Fprintln(os.Stderr, "== sizes (linux/"+arch+" builds)")
	fns, err := functions(root)
	if err != nil {
		return err
	}
	byName := map[string]*bench.FunctionFigures{}
	for i := range rep.Functions {
		byName[rep.Functions[i].Function] = &rep.Functions[i]
	}
	for _, fn := range fns {
		bin, zipped, err := size(ctx, root, work, fn, arch)
		if err != nil {
			return err
		}
		f := byName[fn]
		if f == nil {
			note := "size only (SaaS provider fakes are internal to rotators/saas)"
			if fn == "audit" {
				note = "size only (the audit's run is under Fleet audit)"
			}
			rep.Functions = append(rep.Functions, bench.FunctionFigures{Function: fn, Note: note})
			f = &rep.Functions[len(rep.Functions)-1]
			for i := range rep.Functions {
				byName[rep.Functions[i].Function] = &rep.Functions[i]
			}
		}
		f.BinaryBytes, f.ZipBytes = bin, zipped
	}

	// 3. The fleet.
	fmt.Fprintf(os.Stderr, "== fleet (%d secrets, %d accounts)\n", secrets, accounts)
	fr, err := fleet.Run(ctx, fleet.Config{Secrets: secrets, Accounts: accounts, Seed: 1, Timeout: 15 * time.Minute})
	if err != nil {
		return err
	}
	rep.Fleet = &fr
	if rieSecrets > 0 {
		fmt.Fprintf(os.Stderr, "== fleet through the built central function (%d secrets, %d accounts, %d warm copies)\n", rieSecrets, accounts, rieCopies)
		rie, err := lambdarie.BuildRIE(ctx, work)
		if err != nil {
			return err
		}
		boot, err := lambdarie.BuildFunction(ctx, work, "central")
		if err != nil {
			return err
		}
		pool := &fleet.RIEPool{RIE: rie, Bootstrap: boot, Size: rieCopies, Accounts: accounts}
		fr2, err := fleet.Run(ctx, fleet.Config{Secrets: rieSecrets, Accounts: accounts, Concurrency: rieCopies, Seed: 2,
			Timeout: 20 * time.Minute, Function: pool, Setup: pool.Setup})
		pool.Stop()
		if err != nil {
			return err
		}
		rep.FleetRIE = &fr2
	}
	if auditCfg.Accounts > 0 {
		fmt.Fprintf(os.Stderr, "== fleet audit (%d accounts x %d secrets, 5%% throttled)\n", auditCfg.Accounts, auditCfg.SecretsPerAccount)
		bin, err := lambdarie.BuildFunction(ctx, work, "audit")
		if err != nil {
			return err
		}
		ar, err := bench.RunAudit(ctx, bin, auditCfg)
		if err != nil {
			return err
		}
		rep.Audit = &ar
	}
	rep.Generated = time.Now().UTC().Format(time.RFC3339)

	rep.Print(os.Stdout)
	j, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, append(j, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nJSON report: %s\n", out)
	if fr.Lost != 0 {
		return fmt.Errorf("the fleet run lost %d credentials (failed rotations: %v)", fr.Lost, fr.Errors)
	}
	if rep.Audit != nil && (rep.Audit.Missed || rep.Audit.ValueReads != 0) {
		return fmt.Errorf("the audit scale run missed findings or read values: %s", rep.Audit.Summary())
	}
	if rep.FleetRIE != nil && rep.FleetRIE.Lost != 0 {
		return fmt.Errorf("the fleet run under the RIE lost %d credentials (failed rotations: %v)", rep.FleetRIE.Lost, rep.FleetRIE.Errors)
	}
	return nil
}

// auditCfg sizes the audit scale run (flags -audit-accounts, -audit-secrets).
var auditCfg bench.AuditConfig

// functions lists functions/<name> directories (not internal).
func functions(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// size builds fn as the Makefile does for Lambda and zips it (deflate, like
// zip -X): it returns the binary's and the zip's sizes.
func size(ctx context.Context, root, work, fn, arch string) (int64, int64, error) {
	dir := filepath.Join(work, arch, fn)
	bin := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./functions/"+fn)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("build %s: %w\n%s", fn, err, b)
	}
	st, err := os.Stat(bin)
	if err != nil {
		return 0, 0, err
	}
	zpath := filepath.Join(work, arch, fn+".zip")
	zf, err := os.Create(zpath)
	if err != nil {
		return 0, 0, err
	}
	zw := zip.NewWriter(zf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		var src *os.File
		if src, err = os.Open(bin); err == nil {
			_, err = io.Copy(w, src)
			_ = src.Close()
		}
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := zf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("zip %s: %w", fn, err)
	}
	zst, err := os.Stat(zpath)
	if err != nil {
		return 0, 0, err
	}
	return st.Size(), zst.Size(), nil
}
