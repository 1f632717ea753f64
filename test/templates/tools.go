package templates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
)

// Pinned versions of the external checkers. Their findings depend on the
// version, so the waivers are written for these exact ones.
const (
	CfnLintVersion       = "1.51.0"
	SAMTranslatorVersion = "1.110.0"
)

// MissingToolError says that a checker is not installed (or not at the pinned
// version) and exactly how to get it.
type MissingToolError struct {
	Tool    string // cfn-lint, aws-sam-translator
	Found   string // version found, "" when absent
	Install string // the command that installs the pinned version
}

func (e *MissingToolError) Error() string {
	if e.Found == "" {
		return fmt.Sprintf("%s is not installed: %s", e.Tool, e.Install)
	}
	return fmt.Sprintf("%s %s found, want the pinned version: %s", e.Tool, e.Found, e.Install)
}

// ErrTransform marks a template the SAM transform refuses.
var ErrTransform = errors.New("sam transform failed")

// Tools runs cfn-lint and the SAM transform. Root is the repository root
// (scripts/sam-transform.py lives under it).
type Tools struct {
	Root    string
	CfnLint string // path of cfn-lint
	Python  string // python3 that imports samtranslator
}

// FindTools locates cfn-lint and a python3 with aws-sam-translator on PATH
// and checks their versions. The error is a *MissingToolError per missing
// tool (joined).
func FindTools(ctx context.Context, root string) (*Tools, error) {
	t := &Tools{Root: root}
	var errs []error
	lintInstall := "pip install cfn-lint==" + CfnLintVersion + " (into the python3 on PATH; not packaged by Debian)"
	if p, err := exec.LookPath("cfn-lint"); err != nil {
		errs = append(errs, &MissingToolError{Tool: "cfn-lint", Install: lintInstall})
	} else {
		out, err := exec.CommandContext(ctx, p, "--version").CombinedOutput()
		v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "cfn-lint"))
		switch {
		case err != nil:
			errs = append(errs, &MissingToolError{Tool: "cfn-lint", Found: "(not runnable: " + firstLine(out) + ")", Install: lintInstall})
		case v != CfnLintVersion:
			errs = append(errs, &MissingToolError{Tool: "cfn-lint", Found: v, Install: lintInstall})
		default:
			t.CfnLint = p
		}
	}
	samInstall := "pip install aws-sam-translator==" + SAMTranslatorVersion + " (into the python3 on PATH; not packaged by Debian)"
	if p, err := exec.LookPath("python3"); err != nil {
		errs = append(errs, &MissingToolError{Tool: "python3", Install: "apt-get install python3, then " + samInstall})
	} else {
		out, err := exec.CommandContext(ctx, p, filepath.Join(root, "scripts", "sam-transform.py"), "--translator-version").Output()
		v := strings.TrimSpace(string(out))
		switch {
		case err != nil:
			errs = append(errs, &MissingToolError{Tool: "aws-sam-translator", Install: samInstall})
		case v != SAMTranslatorVersion:
			errs = append(errs, &MissingToolError{Tool: "aws-sam-translator", Found: v, Install: samInstall})
		default:
			t.Python = p
		}
	}
	return t, errors.Join(errs...)
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// LintFinding is one cfn-lint result.
type LintFinding struct {
	File    string   // relative to the repository root
	Line    int      // start line
	Rule    string   // e.g. W2001
	Level   string   // Error, Warning, Informational
	Path    []string // location in the template, e.g. [Resources, Fn, Properties]
	Message string
}

// String formats the finding as file:line: rule (level) at path: message.
func (f LintFinding) String() string {
	return fmt.Sprintf("%s:%d: %s (%s) at %s: %s", f.File, f.Line, f.Rule, f.Level, strings.Join(f.Path, "/"), f.Message)
}

// Lint runs cfn-lint on files (relative to Root) and returns every finding
// of level Error or Warning (cfn-lint's defaults).
func (t *Tools) Lint(ctx context.Context, files []string) ([]LintFinding, error) {
	cmd := exec.CommandContext(ctx, t.CfnLint, append([]string{"--format", "json", "--"}, files...)...)
	cmd.Dir = t.Root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// cfn-lint exits with a bit mask of the levels it found (2 errors, 4
	// warnings, 8 informational); 1 is its own failure.
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode()&1 != 0) {
		return nil, fmt.Errorf("run cfn-lint: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var raw []struct {
		Filename string
		Level    string
		Message  string
		Location struct {
			Start struct{ LineNumber int }
			Path  []any
		}
		Rule struct {
			ID string `json:"Id"`
		}
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("read cfn-lint output: %w", err)
	}
	findings := make([]LintFinding, 0, len(raw))
	for _, r := range raw {
		f := LintFinding{File: r.Filename, Line: r.Location.Start.LineNumber, Rule: r.Rule.ID, Level: r.Level, Message: r.Message}
		if rel, err := filepath.Rel(t.Root, r.Filename); err == nil && filepath.IsAbs(r.Filename) {
			f.File = rel
		}
		for _, p := range r.Location.Path {
			f.Path = append(f.Path, fmt.Sprint(p))
		}
		findings = append(findings, f)
	}
	return findings, nil
}

// Transform expands template (relative to Root) as CloudFormation would at
// deployment with the given parameter values: AWS::LanguageExtensions
// (Fn::ForEach), then the SAM transform, local code locations replaced by S3
// ones as `sam package` does. A template SAM refuses gives an error wrapping
// ErrTransform with SAM's messages.
func (t *Tools) Transform(ctx context.Context, template string, params map[string]string) (*Node, error) {
	if params == nil {
		params = map[string]string{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, t.Python, filepath.Join(t.Root, "scripts", "sam-transform.py"), "--params", string(p), filepath.Join(t.Root, template))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 2 {
			return nil, fmt.Errorf("%w: %s", ErrTransform, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("run the SAM transform on %s: %w: %s", template, err, strings.TrimSpace(stderr.String()))
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("read the SAM transform's output: %w", err)
	}
	return FromJSON(v), nil
}

// FromJSON converts a decoded JSON value to a Node (mapping keys sorted).
func FromJSON(v any) *Node {
	switch x := v.(type) {
	case map[string]any:
		n := &Node{Kind: Map, Items: map[string]*Node{}}
		for k := range x {
			n.Keys = append(n.Keys, k)
		}
		slices.Sort(n.Keys)
		for _, k := range n.Keys {
			n.Items[k] = FromJSON(x[k])
		}
		return n
	case []any:
		n := &Node{Kind: List}
		for _, el := range x {
			n.List = append(n.List, FromJSON(el))
		}
		return n
	case nil:
		return &Node{Kind: Null}
	case string:
		return &Node{Kind: Scalar, Value: x}
	case float64:
		return &Node{Kind: Scalar, Value: fmt.Sprint(x)}
	}
	return &Node{Kind: Scalar, Value: fmt.Sprint(v)}
}

// Waiver accepts one cfn-lint finding that the project has decided to keep,
// with the reason.
type Waiver struct {
	File   string `yaml:"file"`   // template, relative to the repository root
	Rule   string `yaml:"rule"`   // cfn-lint rule ID
	Path   string `yaml:"path"`   // location joined with "/", e.g. Resources/Fn/Properties; "" for any
	Reason string `yaml:"reason"` // why the finding is acceptable
}

// LoadWaivers reads a waiver file: a YAML list of Waiver. Every waiver
// needs a file, a rule and a reason.
func LoadWaivers(path string) ([]Waiver, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read waivers: %w", err)
	}
	var ws []Waiver
	if err := yaml.UnmarshalWithOptions(b, &ws, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("read waivers %s: %w", path, err)
	}
	for i, w := range ws {
		if w.File == "" || w.Rule == "" || strings.TrimSpace(w.Reason) == "" {
			return nil, fmt.Errorf("read waivers %s: entry %d needs file, rule and reason", path, i+1)
		}
	}
	return ws, nil
}

// ApplyWaivers returns the findings no waiver accepts and the waivers that
// accepted nothing (stale ones, to be removed).
func ApplyWaivers(findings []LintFinding, waivers []Waiver) (open []LintFinding, unused []Waiver) {
	used := make([]bool, len(waivers))
	for _, f := range findings {
		waived := false
		for i, w := range waivers {
			if w.File == filepath.ToSlash(f.File) && w.Rule == f.Rule && (w.Path == "" || w.Path == strings.Join(f.Path, "/")) {
				used[i], waived = true, true
			}
		}
		if !waived {
			open = append(open, f)
		}
	}
	for i, w := range waivers {
		if !used[i] {
			unused = append(unused, w)
		}
	}
	return open, unused
}
