package iam

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// Deployment is every policy of the stacks deployed in one test world.
type Deployment struct {
	Policies []Policy
}

// Add adds a rendered stack's policies.
func (d *Deployment) Add(r *Rendered) { d.Policies = append(d.Policies, r.Policies...) }

// Identity returns the identity policies attached to roleARN.
func (d *Deployment) Identity(roleARN string) []NamedPolicy {
	var out []NamedPolicy
	for _, p := range d.Policies {
		if p.Kind == "identity" && p.Attached == roleARN {
			out = append(out, NamedPolicy{Name: p.Name, Policy: p.Document})
		}
	}
	return out
}

// Resource returns the resource-side policy of arn (a role's trust policy, a
// function's Lambda permissions merged into one policy, a secret's resource
// policy, a key policy), its name, and false when there is none.
func (d *Deployment) Resource(arn string) (map[string]any, string, bool) {
	var sts []any
	var names []string
	for _, p := range d.Policies {
		if p.Kind != "identity" && p.Attached == arn {
			for _, st := range Statements(p.Document) {
				sts = append(sts, st)
			}
			if !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		}
	}
	if len(sts) == 0 && len(names) == 0 {
		return nil, "", false
	}
	return map[string]any{"Version": "2012-10-17", "Statement": sts}, strings.Join(names, " + "), true
}

// Describe formats a logged request for messages: who, what, on what.
func Describe(req localaws.LoggedRequest) string {
	who := req.Principal
	if req.RoleARN != "" {
		who = "role " + req.RoleARN + " (session " + req.Session + ")"
	}
	s := fmt.Sprintf("%s by %s on %s", req.Action, who, req.Resource)
	if req.Via != "" {
		s += " via " + req.Via
	}
	return s
}

// Case returns the evaluation of req under d; extra identity policies are
// added to the principal's (for principals no template defines).
func (d *Deployment) Case(name string, req localaws.LoggedRequest, extra ...NamedPolicy) Case {
	c := Case{
		Name:             name,
		Principal:        req.Principal,
		Action:           req.Action,
		Resource:         req.Resource,
		ResourceAccount:  req.ResourceAccount,
		Context:          map[string][]string{},
		IdentityPolicies: []NamedPolicy{},
	}
	for k, v := range req.Context {
		c.Context[k] = v
	}
	if c.ResourceAccount == "" {
		c.ResourceAccount = req.PrincipalAccount
	}
	switch {
	case req.PrincipalAccount == "":
		c.Context["aws:PrincipalIsAWSService"] = []string{"true"}
		c.Context["aws:PrincipalServiceName"] = []string{req.Principal}
	case req.RoleARN != "":
		c.Context["aws:PrincipalArn"] = []string{req.RoleARN}
		c.Context["aws:PrincipalAccount"] = []string{req.PrincipalAccount}
		c.Context["aws:PrincipalIsAWSService"] = []string{"false"}
		c.IdentityPolicies = append(c.IdentityPolicies, d.Identity(req.RoleARN)...)
	default:
		c.Context["aws:PrincipalArn"] = []string{req.Principal}
		c.Context["aws:PrincipalAccount"] = []string{req.PrincipalAccount}
		c.Context["aws:PrincipalIsAWSService"] = []string{"false"}
	}
	c.IdentityPolicies = append(c.IdentityPolicies, extra...)
	if doc, pname, ok := d.Resource(req.Resource); ok {
		c.ResourcePolicy, c.ResourcePolicyName = doc, pname
	}
	return c
}
