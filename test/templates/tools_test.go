package templates

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// waiverFile holds the cfn-lint findings the project accepts, each with its
// reason.
const waiverFile = "waivers.yaml"

var (
	toolsOnce sync.Once
	toolsVal  *Tools
	toolsErr  error
)

// tools returns the checkers, failing the test with what to install when one
// is missing: the template checks are part of make test and never skip.
func tools(t *testing.T) *Tools {
	t.Helper()
	toolsOnce.Do(func() {
		abs, err := filepath.Abs(root)
		if err != nil {
			toolsErr = err
			return
		}
		toolsVal, toolsErr = FindTools(context.Background(), abs)
	})
	if toolsErr != nil {
		t.Fatalf("the template checks need cfn-lint %s and aws-sam-translator %s:\n%v", CfnLintVersion, SAMTranslatorVersion, toolsErr)
	}
	return toolsVal
}

// relTemplates lists every template relative to the repository root.
func relTemplates(t *testing.T) []string {
	var out []string
	for _, f := range templateFiles(t) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// TestCfnLint runs cfn-lint on every template and example: any error or
// warning not waived in waivers.yaml fails, and so does a waiver that no
// longer matches anything.
func TestCfnLint(t *testing.T) {
	tl := tools(t)
	waivers, err := LoadWaivers(waiverFile)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := tl.Lint(t.Context(), relTemplates(t))
	if err != nil {
		t.Fatal(err)
	}
	open, unused := ApplyWaivers(findings, waivers)
	for _, f := range open {
		t.Errorf("cfn-lint: %s", f)
	}
	for _, w := range unused {
		t.Errorf("waiver %s %s %q matches no cfn-lint finding any more: remove it from test/templates/%s", w.File, w.Rule, w.Path, waiverFile)
	}
}

// TestCfnLintSeesMistakes is the negative control: the harness reads
// cfn-lint's findings (a misspelt property is an error, an unused
// parameter a warning) rather than passing on any output.
func TestCfnLintSeesMistakes(t *testing.T) {
	tl := tools(t)
	dir := t.TempDir()
	bad := "AWSTemplateFormatVersion: \"2010-09-09\"\nParameters:\n  Unused:\n    Type: String\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySecnds: 3\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	l := *tl
	l.Root = dir
	findings, err := l.Lint(t.Context(), []string{"bad.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, f := range findings {
		rules = append(rules, f.Rule)
	}
	slices.Sort(rules)
	if !slices.Equal(rules, []string{"E3002", "W2001"}) {
		t.Errorf("cfn-lint findings = %v, want E3002 (misspelt property) and W2001 (unused parameter)", findings)
	}
	open, _ := ApplyWaivers(findings, []Waiver{{File: "bad.yaml", Rule: "W2001", Path: "Parameters/Unused", Reason: "test"}})
	if len(open) != 1 || open[0].Rule != "E3002" {
		t.Errorf("after waiving W2001: %v, want only E3002", open)
	}
}

func TestWaiversNeedReasons(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"no reason":     "- file: template.yaml\n  rule: W2001\n",
		"blank reason":  "- file: template.yaml\n  rule: W2001\n  reason: \"  \"\n",
		"no rule":       "- file: template.yaml\n  reason: because\n",
		"unknown field": "- file: template.yaml\n  rule: W2001\n  reason: because\n  until: never\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadWaivers(p); err == nil {
				t.Errorf("LoadWaivers accepted %q", src)
			}
		})
	}
	if _, err := LoadWaivers(waiverFile); err != nil {
		t.Errorf("the project's waivers: %v", err)
	}
}

func TestMissingToolSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := FindTools(context.Background(), root)
	var missing *MissingToolError
	if !errors.As(err, &missing) {
		t.Fatalf("FindTools with an empty PATH = %v, want a *MissingToolError", err)
	}
	for _, want := range []string{"cfn-lint==" + CfnLintVersion, "aws-sam-translator==" + SAMTranslatorVersion} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say to install %s", err, want)
		}
	}
}
