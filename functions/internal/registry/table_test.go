package registry_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/registry"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// root is the module root, from this package's directory.
const root = "../../.."

var update = flag.Bool("update", false, "rewrite README.md's engine table from registry.Table")

// Markers around the generated engine table in README.md.
const (
	tableBegin = "<!-- engine table: generated from functions/internal/registry.Table (go test ./functions/internal/registry -run TestREADMEEngineTable -update) -->\n"
	tableEnd   = "<!-- end of engine table -->\n"
)

// commonFunctions are the functions that are no row's: central carries every
// row, audit rotates nothing.
var commonFunctions = []string{"audit", "central"}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTableIsConsistent: no engine key value or function in two rows, every
// function's strategies are its row's, every row builds.
func TestTableIsConsistent(t *testing.T) {
	engines, functions := map[string]string{}, map[string]string{}
	for _, e := range registry.Table {
		if e.Build == nil || len(e.Engines) == 0 || len(e.Strategies) == 0 || len(e.Functions) == 0 {
			t.Errorf("row %s: Build, Engines, Strategies and Functions are required", e.Name)
		}
		for _, v := range e.Engines {
			if other, dup := engines[v]; dup {
				t.Errorf("engine %q in rows %s and %s", v, other, e.Name)
			}
			engines[v] = e.Name
		}
		for _, f := range e.Functions {
			if other, dup := functions[f.Name]; dup {
				t.Errorf("function %q in rows %s and %s", f.Name, other, e.Name)
			}
			functions[f.Name] = e.Name
			for _, s := range f.Strategies {
				if !slices.Contains(e.Strategies, s) {
					t.Errorf("function %s carries %s, which row %s lacks", f.Name, s, e.Name)
				}
			}
		}
		if _, err := os.Stat(filepath.Join(root, e.Package)); err != nil {
			t.Errorf("row %s: package %s: %v", e.Name, e.Package, err)
		}
	}
}

// TestRegistryIsTheTable: the central function's registry routes exactly the
// table's engine key values, each with exactly its row's strategies.
func TestRegistryIsTheTable(t *testing.T) {
	reg := all(t)
	var want []string
	for _, e := range registry.Table {
		want = append(want, e.Engines...)
		for _, v := range e.Engines {
			for _, s := range []string{rotators.SingleUser, rotators.AlternatingUsers, rotators.DualPassword, rotators.APIKey} {
				sv := secret.Value{Engine: v}
				sv.Set(secret.KeyStrategy, s)
				_, err := reg.Lookup(sv)
				if carried := slices.Contains(e.Strategies, s); carried != (err == nil) {
					t.Errorf("Lookup(%s, %s): err = %v, want carried = %t", v, s, err, carried)
				}
			}
		}
	}
	slices.Sort(want)
	if got := reg.Engines(); !slices.Equal(got, want) {
		t.Errorf("registry engines = %v, table %v", got, want)
	}
}

// TestFunctionDirectoriesAreTheTable: functions/<name> exists for exactly the
// table's functions plus central and audit, each with a main.go; the Makefile
// builds one bootstrap per such directory.
func TestFunctionDirectoriesAreTheTable(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" {
			got = append(got, e.Name())
			if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); err != nil {
				t.Errorf("functions/%s has no main.go", e.Name())
			}
		}
	}
	want := slices.Sorted(slices.Values(append(registry.Functions(), commonFunctions...)))
	if !slices.Equal(got, want) {
		t.Errorf("functions/ directories = %v, table and %v = %v", got, commonFunctions, want)
	}
	const makeList = "FUNCTIONS := $(notdir $(patsubst %/,%,$(filter-out functions/internal/,$(wildcard functions/*/))))"
	if !strings.Contains(read(t, "Makefile"), makeList+"\n") {
		t.Errorf("the Makefile no longer derives its function list from the functions/ directories (%s)", makeList)
	}
}

// TestPerAccountRotatorValues: infra/per-account.yaml's Rotator parameter
// allows exactly the table's functions, in table order.
func TestPerAccountRotatorValues(t *testing.T) {
	m := regexp.MustCompile(`(?m)^  Rotator:\n(?:    .*\n)*?    AllowedValues: \[([^\]]*)\]`).FindStringSubmatch(read(t, "infra/per-account.yaml"))
	if m == nil {
		t.Fatal("infra/per-account.yaml: no Rotator parameter with AllowedValues")
	}
	var got []string
	for v := range strings.SplitSeq(m[1], ",") {
		got = append(got, strings.TrimSpace(v))
	}
	if want := registry.Functions(); !slices.Equal(got, want) {
		t.Errorf("per-account Rotator AllowedValues = %v, want the table's functions %v", got, want)
	}
	if strings.Contains(read(t, "template.yaml"), "  Rotator:\n") {
		t.Error("template.yaml has a Rotator parameter: check its AllowedValues against registry.Table here too")
	}
}

// TestREADMEEngineTable: README.md's engine table is the one MarkdownTable
// renders, the engine key's row in the secret keys table lists every engine
// value, and the project layout lists every function.
func TestREADMEEngineTable(t *testing.T) {
	readme := read(t, "README.md")
	i, j := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no engine table between %q and %q", tableBegin, tableEnd)
	}
	want := registry.MarkdownTable()
	if got := readme[i+len(tableBegin) : j]; got != want {
		if *update {
			readme = readme[:i+len(tableBegin)] + want + readme[j:]
			if err := os.WriteFile(filepath.Join(root, "README.md"), []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("README.md's engine table is stale; run with -update. Got:\n%s\nwant:\n%s", got, want)
		}
	}
	row := regexp.MustCompile("(?m)^\\| `engine` \\| yes \\| (.*) \\|$").FindStringSubmatch(readme)
	if row == nil {
		t.Fatal("README.md: no `engine` row in the secret keys table")
	}
	var inRow []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(row[1], -1) {
		inRow = append(inRow, m[1])
	}
	var engines []string
	for _, e := range registry.Table {
		engines = append(engines, e.Engines...)
	}
	if !slices.Equal(slices.Sorted(slices.Values(inRow)), slices.Sorted(slices.Values(engines))) {
		t.Errorf("README.md's engine key row lists %v, the table %v", inRow, engines)
	}
	layout := regexp.MustCompile("(?m)^\\| `functions/<fn>/main.go` \\| (.*) \\|$").FindStringSubmatch(readme)
	if layout == nil {
		t.Fatal("README.md: no functions/<fn>/main.go row in the project layout")
	}
	for _, f := range append(registry.Functions(), commonFunctions...) {
		if !strings.Contains(layout[1], "`"+f+"`") {
			t.Errorf("README.md's project layout does not list function %s", f)
		}
	}
}

// legacyIdentifiers are identifier keys shared/secret has always left out of
// redaction that no engine reads today.
var legacyIdentifiers = []string{"adminSecretArn", "apiKeyName"}

// TestIdentifiersAreSecretsIdentifiers: the keys the table says identify an
// engine are exactly those redaction leaves alone (shared/secret), besides
// rotationStrategy and the legacy ones: a key may not stop being redacted
// without a row claiming it.
func TestIdentifiersAreSecretsIdentifiers(t *testing.T) {
	want := append([]string{secret.KeyStrategy}, legacyIdentifiers...)
	for _, e := range registry.Table {
		want = append(want, e.Identifiers...)
	}
	want = slices.Compact(slices.Sorted(slices.Values(want)))
	if got := secret.IdentifierKeys(); !slices.Equal(got, want) {
		t.Errorf("secret.IdentifierKeys() = %v, table %v", got, want)
	}
}
