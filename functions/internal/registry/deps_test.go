package registry_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/registry"
	"github.com/rotary-secrets/rotary/rotators"
)

const module = "github.com/rotary-secrets/rotary/"

// drivers are the database drivers a binary may link only when it carries
// the engine that uses them, and the RDS client, which only a function with a
// database rotator and a strategy that reads a master secret needs (for
// RDS-managed master secrets).
var drivers = []string{"github.com/jackc/pgx/v5", "github.com/go-sql-driver/mysql", rdsClient}

const rdsClient = "github.com/aws/aws-sdk-go-v2/service/rds"

// masterStrategies are the database strategies that read a master secret
// (MySQL's dual-password does when the secret names one), which may have no
// host when RDS manages it.
var masterStrategies = []string{rotators.AlternatingUsers, rotators.DualPassword}

// linkedDrivers returns, per package (relative to the module), the drivers
// among its dependencies, from one `go list`.
func linkedDrivers(t *testing.T, pkgs []string) map[string][]string {
	t.Helper()
	args := []string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}
	for _, p := range pkgs {
		args = append(args, module+p)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	got := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var linked []string
		for _, d := range drivers {
			if slices.Contains(fields[1:], d) {
				linked = append(linked, d)
			}
		}
		got[strings.TrimPrefix(fields[0], module)] = linked
	}
	return got
}

// TestNoUnusedDriver: no binary links a database driver it does not use (go
// list -deps): each per-engine function links exactly the drivers of its
// row's rotator package (the SaaS and generic functions none, each database
// function only its own) and the RDS client only with a driver and a
// strategy that reads a master secret (masterStrategies), central those of
// every row.
func TestNoUnusedDriver(t *testing.T) {
	pkgs := []string{"functions/central"}
	for _, e := range registry.Table {
		pkgs = append(pkgs, e.Package)
		for _, f := range e.Functions {
			pkgs = append(pkgs, "functions/"+f.Name)
		}
	}
	pkgs = slices.Compact(slices.Sorted(slices.Values(pkgs)))
	linked := linkedDrivers(t, pkgs)
	var all []string
	for _, e := range registry.Table {
		pkg := linked[e.Package] // a rotator package links no AWS SDK
		all = append(all, pkg...)
		for _, f := range e.Functions {
			want := slices.Clone(pkg)
			if len(want) > 0 && slices.ContainsFunc(f.Strategies, func(s string) bool { return slices.Contains(masterStrategies, s) }) {
				want = append(want, rdsClient)
				all = append(all, rdsClient)
			}
			if got := linked["functions/"+f.Name]; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
				t.Errorf("functions/%s links drivers %v, want %v (those of %s)", f.Name, got, want, e.Package)
			}
		}
	}
	all = slices.Compact(slices.Sorted(slices.Values(all)))
	if got := linked["functions/central"]; !slices.Equal(slices.Sorted(slices.Values(got)), all) {
		t.Errorf("functions/central links drivers %v, want %v", got, all)
	}
	for _, f := range []string{"okta", "sendgrid", "twilio", "entra", "generic"} {
		if got := linked["functions/"+f]; len(got) != 0 {
			t.Errorf("functions/%s links %v", f, got)
		}
	}
}
