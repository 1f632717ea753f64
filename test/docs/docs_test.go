package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root is the module root, from this package's directory.
const root = "../.."

// productDirs hold the code that runs in the functions; test/ (harness
// settings such as ROTARY_CHAOS) is out of scope.
var productDirs = []string{"functions", "rotators", "shared"}

// envName is what an environment variable name looks like here.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// readers are the functions that take a variable's name: os.Getenv,
// os.LookupEnv, the getenv parameters the packages take, and the small
// helpers that wrap them (awsx's get, password's lookup).
var readers = map[string]bool{"Getenv": true, "LookupEnv": true, "getenv": true, "get": true, "lookup": true}

// testKits are packages under the product's folders that only tests import
// (the conformance kit, the providers' fakes): what they read is a test's
// setting, not the product's configuration.
var testKits = map[string]bool{"rotatortest": true, "saasfakes": true, "fakes": true}

// envRead is one variable the code reads, and where.
type envRead struct{ name, where string }

// codeEnvVars returns every environment variable name the product code reads:
// string constants named Env… (the packages' convention), and every string
// constant or literal passed to a reader, and every string literal that is
// exactly a ROTARY_… name.
func codeEnvVars(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, dir := range productDirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && testKits[d.Name()] {
				return filepath.SkipDir
			}
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			files = append(files, f)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	where := func(p token.Pos) string {
		pos := fset.Position(p)
		rel, _ := filepath.Rel(root, pos.Filename)
		return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), pos.Line)
	}
	// Every string constant, by name (a name may be declared in several
	// packages, e.g. EnvCABundle).
	consts := map[string][]envRead{}
	var reads []envRead
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			gd, ok := n.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				return true
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					s, ok := stringLit(vs.Values[i])
					if !ok || !envName.MatchString(s) {
						continue
					}
					r := envRead{s, where(id.Pos())}
					consts[id.Name] = append(consts[id.Name], r)
					if strings.HasPrefix(id.Name, "Env") || strings.HasPrefix(id.Name, "env") {
						reads = append(reads, r)
					}
				}
			}
			return true
		})
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			// Rotary's own variables, however they reach a reader (a
			// struct field, a map): any literal that is exactly ROTARY_….
			if s, ok := stringLit(n); ok && strings.HasPrefix(s, "ROTARY_") && envName.MatchString(s) {
				reads = append(reads, envRead{s, where(n.Pos())})
			}
			call, ok := n.(*ast.CallExpr)
			if !ok || !readers[calleeName(call.Fun)] {
				return true
			}
			for _, arg := range call.Args {
				if s, ok := stringLit(arg); ok && envName.MatchString(s) {
					reads = append(reads, envRead{s, where(arg.Pos())})
					continue
				}
				if name := calleeName(arg); name != "" {
					reads = append(reads, consts[name]...)
				}
			}
			return true
		})
	}
	out := map[string]string{}
	for _, r := range reads {
		if _, seen := out[r.name]; !seen {
			out[r.name] = r.where
		}
	}
	return out
}

// calleeName is the name of an identifier or the selected name of x.Sel.
func calleeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func stringLit(e ast.Node) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// readme returns the README's lines.
func readme(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readmeEnvVars returns the variable names in the first cell of every table
// row of the README's Configuration section (its subsections included).
func readmeEnvVars(t *testing.T, lines []string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	in := false
	for _, l := range lines {
		if strings.HasPrefix(l, "## ") {
			in = strings.TrimSpace(l) == "## Configuration"
			continue
		}
		if !in || !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(l, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			if envName.MatchString(m[1]) {
				out[m[1]] = true
			}
		}
	}
	if len(out) == 0 {
		t.Fatal(`README.md has no "## Configuration" section with variable tables`)
	}
	return out
}

// TestEveryEnvVarDocumented: every environment variable the product code
// reads has a row in the README's configuration tables. The failure names
// exactly the missing variables (and where the code reads each).
func TestEveryEnvVarDocumented(t *testing.T) {
	code := codeEnvVars(t)
	if len(code) < 10 {
		t.Fatalf("found only %d variables in the code: the scan is broken", len(code))
	}
	t.Logf("variables the code reads: %v", slices.Sorted(maps.Keys(code)))
	documented := readmeEnvVars(t, readme(t))
	var missing []string
	for name := range code {
		if !documented[name] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		var b strings.Builder
		for _, name := range missing {
			fmt.Fprintf(&b, "\n  %s (read at %s)", name, code[name])
		}
		t.Errorf("environment variables missing from the README's configuration tables: %s%s", strings.Join(missing, " "), b.String())
	}
}

// TestNoTableCutByBlankLine: a table row after a blank line that itself
// follows a table row (and is not the header of a new table) has been cut
// out of its table: Markdown renders it as a paragraph of pipes.
func TestNoTableCutByBlankLine(t *testing.T) {
	lines := readme(t)
	isRow := func(i int) bool { return i >= 0 && i < len(lines) && strings.HasPrefix(lines[i], "|") }
	isSep := func(i int) bool { return isRow(i) && strings.Trim(lines[i], "|-: ") == "" }
	for i := 2; i < len(lines); i++ {
		if isRow(i) && strings.TrimSpace(lines[i-1]) == "" && isRow(i-2) && !isSep(i+1) {
			t.Errorf("README.md:%d: table row cut from the table above by a blank line: %s", i+1, lines[i])
		}
	}
}
