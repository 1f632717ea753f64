package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNoEvaluator reports that the npm packages of the oracle are not
// installed.
var ErrNoEvaluator = errors.New("the IAM evaluator is not installed: run npm ci in test/iam")

// NamedPolicy is a policy document with the name failures show.
type NamedPolicy struct {
	Name   string         `json:"name"`
	Policy map[string]any `json:"policy"`
}

// Case is one request to evaluate with the policies that apply to it.
type Case struct {
	Name               string              `json:"name"`
	Principal          string              `json:"principal"`
	Action             string              `json:"action"`
	Resource           string              `json:"resource"`
	ResourceAccount    string              `json:"resourceAccount"`
	Context            map[string][]string `json:"context"`
	IdentityPolicies   []NamedPolicy       `json:"identityPolicies"`
	ResourcePolicy     map[string]any      `json:"resourcePolicy,omitempty"`
	ResourcePolicyName string              `json:"resourcePolicyName,omitempty"`
}

// Reason is a statement that decided a request.
type Reason struct {
	Policy string `json:"policy"`
	Sid    string `json:"sid"`
	Type   string `json:"type,omitempty"` // Explicit or Implicit (denials)
}

// String formats the reason as `policy, statement Sid`.
func (r Reason) String() string {
	if r.Sid == "" {
		return r.Policy
	}
	return r.Policy + ", statement " + r.Sid
}

// Verdict is the evaluator's decision on one Case.
type Verdict struct {
	Name string `json:"name"`
	// Decision is Allowed, ExplicitlyDenied, ImplicitlyDenied, or error when
	// the evaluator refused the case (Errors say why).
	Decision string   `json:"decision"`
	Errors   []string `json:"errors"`
	Grants   []Reason `json:"grants"`
	Denials  []Reason `json:"denials"`
	// NearMisses (requests not allowed) are the Allow statements whose
	// action and resource match but whose conditions do not.
	NearMisses []NearMiss `json:"nearMisses"`
}

// NearMiss is an Allow statement that matched a request's action and
// resource but not its conditions.
type NearMiss struct {
	Policy    string `json:"policy"`
	Sid       string `json:"sid"`
	Condition string `json:"condition"` // the statement's Condition block, JSON
}

// Allowed reports whether the request was allowed.
func (v Verdict) Allowed() bool { return v.Decision == "Allowed" }

// Evaluate runs oracle.mjs in dir (test/iam) with node on cases and returns
// one Verdict per case, in order.
func Evaluate(ctx context.Context, dir string, cases []Case) ([]Verdict, error) {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		return nil, fmt.Errorf("%w (%s/node_modules/@cloud-copilot/iam-simulate: %v)", ErrNoEvaluator, dir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("the IAM oracle needs Node.js 20 or later on PATH: %w", err)
	}
	if cases == nil {
		cases = []Case{}
	}
	in, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		return nil, fmt.Errorf("encode cases: %w", err)
	}
	cmd := exec.CommandContext(ctx, node, "oracle.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run oracle.mjs: %w: %s", err, stderr.String())
	}
	var out struct {
		Results []Verdict `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("decode the oracle's answer: %w", err)
	}
	if len(out.Results) != len(cases) {
		return nil, fmt.Errorf("the oracle answered %d verdicts for %d cases", len(out.Results), len(cases))
	}
	return out.Results, nil
}
