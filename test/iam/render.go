package iam

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/test/templates"
)

// Stack is one deployment of a template: where it is deployed, its
// parameters, and the values CloudFormation would give its resources.
type Stack struct {
	File      string            // template path, relative to the repository root
	Account   string            // AWS::AccountId
	Region    string            // AWS::Region
	StackName string            // AWS::StackName
	Params    map[string]string // parameter values; absent ones take their Default
	// Optional are parameter values used only if the template declares the
	// parameter (for parameters other branches add or rename).
	Optional map[string]string
	// Refs are the physical IDs !Ref gives for resources (logical ID -> value)
	// and Attrs the values of !GetAtt (LogicalId.Attribute -> value), as a
	// deployment would produce them. Imports are the stack exports
	// Fn::ImportValue reads.
	Refs, Attrs, Imports map[string]string
}

// Policy is one rendered policy document and where it comes from.
type Policy struct {
	// Name identifies the policy in messages: file, resource and policy name.
	Name string
	// Kind is identity, trust, resource (Lambda permission, secret resource
	// policy) or key (KMS key policy).
	Kind string
	// Attached is the ARN of what the policy is attached to: the role ARN for
	// identity and trust policies, the function, secret or key ARN otherwise.
	Attached string
	Document map[string]any
}

// Rendered is the IAM content of a rendered template.
type Rendered struct {
	Stack    Stack
	Policies []Policy
}

// noValue is AWS::NoValue: the key or list item holding it disappears.
type noValue struct{}

// renderer evaluates one template's intrinsic functions.
type renderer struct {
	st         Stack
	root       *templates.Node
	params     map[string]any
	conditions map[string]bool
	resources  map[string]bool
	loop       map[string]string // Fn::ForEach identifiers in scope
}

// Render parses st.File under repoRoot and returns its IAM policies with every
// intrinsic function resolved for st.
func Render(repoRoot string, st Stack) (*Rendered, error) {
	src, err := os.ReadFile(repoRoot + "/" + st.File)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", st.File, err)
	}
	root, err := templates.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", st.File, err)
	}
	r := &renderer{st: st, root: root, params: map[string]any{}, conditions: map[string]bool{}, resources: map[string]bool{}}
	if err := r.loadParams(); err != nil {
		return nil, fmt.Errorf("render %s: %w", st.File, err)
	}
	res := root.Get("Resources")
	for _, id := range res.Keys {
		r.resources[id] = true
	}
	if conds := root.Get("Conditions"); conds != nil {
		for _, name := range conds.Keys {
			if _, err := r.condition(name); err != nil {
				return nil, fmt.Errorf("render %s: condition %s: %w", st.File, name, err)
			}
		}
	}
	out := &Rendered{Stack: st}
	add := func(id string, node *templates.Node) error {
		if c := node.Get("Condition").Str(); c != "" && !r.conditions[c] {
			return nil
		}
		pols, err := r.policies(id, node)
		if err != nil {
			return fmt.Errorf("render %s: %s: %w", st.File, id, err)
		}
		out.Policies = append(out.Policies, pols...)
		return nil
	}
	for _, id := range res.Keys {
		node := res.Get(id)
		if !strings.HasPrefix(id, "Fn::ForEach::") {
			if err := add(id, node); err != nil {
				return nil, err
			}
			continue
		}
		if err := r.forEach(id, node, add); err != nil {
			return nil, fmt.Errorf("render %s: %s: %w", st.File, id, err)
		}
	}
	return out, nil
}

// nonAlnum is what &{Identifier} drops from a Fn::ForEach value.
var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// forEach expands a Fn::ForEach::Name: [Identifier, Collection, {OutputKey:
// template}] of the Resources section (AWS::LanguageExtensions): once per
// value of the collection, with ${Identifier} and &{Identifier} replaced in
// the output key and !Ref Identifier / ${Identifier} resolved in the
// template.
func (r *renderer) forEach(id string, n *templates.Node, add func(string, *templates.Node) error) error {
	if n.Kind != templates.List || len(n.List) != 3 || n.List[2].Kind != templates.Map {
		return errors.New("Fn::ForEach needs [identifier, collection, {output key: template}]")
	}
	ident := n.List[0].Str()
	coll, err := r.eval(n.List[1])
	if err != nil {
		return err
	}
	items, ok := coll.([]any)
	if !ok {
		return errors.New("Fn::ForEach collection is not a list")
	}
	if r.loop == nil {
		r.loop = map[string]string{}
	}
	defer delete(r.loop, ident)
	for _, it := range items {
		v := fmt.Sprint(it)
		r.loop[ident] = v
		for _, key := range n.List[2].Keys {
			name := strings.ReplaceAll(key, "${"+ident+"}", v)
			name = strings.ReplaceAll(name, "&{"+ident+"}", nonAlnum.ReplaceAllString(v, ""))
			r.resources[name] = true
			if err := add(name, n.List[2].Get(key)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *renderer) loadParams() error {
	ps := r.root.Get("Parameters")
	if ps == nil {
		return nil
	}
	for _, name := range ps.Keys {
		p := ps.Get(name)
		v, ok := r.st.Params[name]
		if !ok {
			v, ok = r.st.Optional[name]
		}
		if !ok {
			d := p.Get("Default")
			if d == nil {
				return fmt.Errorf("parameter %s has no Default and no value", name)
			}
			v = d.Str()
		}
		if p.Get("Type").Str() == "CommaDelimitedList" {
			var l []any
			for _, s := range strings.Split(v, ",") {
				l = append(l, s)
			}
			r.params[name] = l
		} else {
			r.params[name] = v
		}
	}
	for k := range r.st.Params {
		if _, ok := r.params[k]; !ok {
			return fmt.Errorf("no parameter %s in the template", k)
		}
	}
	return nil
}

func (r *renderer) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::AccountId":
		return r.st.Account, true
	case "AWS::Region":
		return r.st.Region, true
	case "AWS::Partition":
		return "aws", true
	case "AWS::StackName":
		return r.st.StackName, true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	}
	return "", false
}

// ref resolves !Ref name.
func (r *renderer) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.loop[name]; ok {
		return v, nil
	}
	if v, ok := r.pseudo(name); ok {
		return v, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if r.resources[name] {
		if v, ok := r.st.Refs[name]; ok {
			return v, nil
		}
		return r.defaultRef(name)
	}
	return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

func (r *renderer) getAtt(res, attr string) (string, error) {
	if v, ok := r.st.Attrs[res+"."+attr]; ok {
		return v, nil
	}
	if attr == "Arn" && r.resources[res] {
		return r.defaultARN(res)
	}
	return "", fmt.Errorf("!GetAtt %s.%s: the stack gives no value", res, attr)
}

// defaultRef is the physical ID CloudFormation would give a resource the
// stack gives none for: its explicit name, or <stack>-<LogicalId>. Resources
// whose Ref is an ARN (secrets, topics, ...) must be given in Stack.Refs.
func (r *renderer) defaultRef(res string) (any, error) {
	props := r.root.Get("Resources").Get(res).Get("Properties")
	for _, p := range []string{"LogGroupName", "FunctionName", "RoleName", "Name"} {
		if n := props.Get(p); n != nil {
			return r.evalString(n)
		}
	}
	switch t := r.root.Get("Resources").Get(res).Get("Type").Str(); t {
	case "AWS::SecretsManager::Secret", "AWS::SNS::Topic", "AWS::KMS::Key":
		return nil, fmt.Errorf("!Ref %s: the stack gives no physical ID for this %s", res, t)
	}
	return r.st.StackName + "-" + res, nil
}

// defaultARN is the ARN CloudFormation would give a resource the stack
// gives none for: its explicit name, or <stack>-<LogicalId> as a generated
// name would start.
func (r *renderer) defaultARN(res string) (string, error) {
	node := r.root.Get("Resources").Get(res)
	name := r.st.StackName + "-" + res
	nameOf := func(prop string) error {
		if n := node.Get("Properties").Get(prop); n != nil {
			v, err := r.evalString(n)
			if err != nil {
				return err
			}
			name = v
		}
		return nil
	}
	prefix := "arn:aws:"
	switch node.Get("Type").Str() {
	case "AWS::IAM::Role":
		if err := nameOf("RoleName"); err != nil {
			return "", err
		}
		return prefix + "iam::" + r.st.Account + ":role/" + name, nil
	case "AWS::Lambda::Function", "AWS::Serverless::Function":
		if err := nameOf("FunctionName"); err != nil {
			return "", err
		}
		return prefix + "lambda:" + r.st.Region + ":" + r.st.Account + ":function:" + name, nil
	case "AWS::Events::Rule", "AWS::Scheduler::Schedule":
		if err := nameOf("Name"); err != nil {
			return "", err
		}
		return prefix + "events:" + r.st.Region + ":" + r.st.Account + ":rule/" + name, nil
	}
	return prefix + "cloudformation:" + r.st.Region + ":" + r.st.Account + ":stack/" + r.st.StackName + "/" + res, nil
}

func (r *renderer) condition(name string) (bool, error) {
	if v, ok := r.conditions[name]; ok {
		return v, nil
	}
	n := r.root.Get("Conditions").Get(name)
	if n == nil {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := r.cond(n)
	if err != nil {
		return false, err
	}
	r.conditions[name] = v
	return v, nil
}

func (r *renderer) cond(n *templates.Node) (bool, error) {
	fn, ok := n.Intrinsic()
	if !ok {
		return false, fmt.Errorf("line %d: not a condition function", n.Line)
	}
	arg := n.Get(fn)
	switch fn {
	case "Condition":
		return r.condition(arg.Str())
	case "Fn::Equals":
		if len(arg.List) != 2 {
			return false, fmt.Errorf("line %d: Fn::Equals needs two values", n.Line)
		}
		a, err := r.eval(arg.List[0])
		if err != nil {
			return false, err
		}
		b, err := r.eval(arg.List[1])
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		if len(arg.List) != 1 {
			return false, fmt.Errorf("line %d: Fn::Not needs one condition", n.Line)
		}
		v, err := r.cond(arg.List[0])
		return !v, err
	case "Fn::And", "Fn::Or":
		and := fn == "Fn::And"
		for _, c := range arg.List {
			v, err := r.cond(c)
			if err != nil {
				return false, err
			}
			if v != and {
				return !and, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("line %d: %s is not a condition function", n.Line, fn)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub resolves Fn::Sub's text with vars.
func (r *renderer) sub(text string, vars map[string]any) (string, error) {
	var firstErr error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v = x
		} else if res, attr, found := strings.Cut(name, "."); found && r.resources[res] {
			v, err = r.getAtt(res, attr)
		} else {
			v, err = r.ref(name)
		}
		if err == nil {
			if s, ok := v.(string); ok {
				return s
			}
			err = fmt.Errorf("${%s} is not a string", name)
		}
		if firstErr == nil {
			firstErr = err
		}
		return m
	})
	return out, firstErr
}

// eval resolves every intrinsic function in n and returns a JSON value:
// string, []any, map[string]any, or noValue.
func (r *renderer) eval(n *templates.Node) (any, error) {
	if n == nil {
		return noValue{}, nil
	}
	switch n.Kind {
	case templates.Scalar:
		return n.Value, nil
	case templates.Null:
		return nil, nil
	case templates.List:
		out := []any{}
		for _, el := range n.List {
			v, err := r.eval(el)
			if err != nil {
				return nil, err
			}
			if _, drop := v.(noValue); !drop {
				out = append(out, v)
			}
		}
		return out, nil
	}
	fn, ok := n.Intrinsic()
	if !ok {
		out := map[string]any{}
		for _, k := range n.Keys {
			v, err := r.eval(n.Get(k))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := v.(noValue); !drop {
				out[k] = v
			}
		}
		return out, nil
	}
	arg := n.Get(fn)
	switch fn {
	case "Ref":
		return r.ref(arg.Str())
	case "Fn::GetAtt":
		if len(arg.List) != 2 {
			return nil, fmt.Errorf("line %d: Fn::GetAtt needs [resource, attribute]", n.Line)
		}
		return r.getAtt(arg.List[0].Str(), arg.List[1].Str())
	case "Fn::Sub":
		if arg.Kind == templates.Scalar {
			return r.sub(arg.Value, nil)
		}
		if len(arg.List) != 2 {
			return nil, fmt.Errorf("line %d: Fn::Sub needs a string or [string, variables]", n.Line)
		}
		vars := map[string]any{}
		for _, k := range arg.List[1].Keys {
			v, err := r.eval(arg.List[1].Get(k))
			if err != nil {
				return nil, err
			}
			vars[k] = v
		}
		return r.sub(arg.List[0].Str(), vars)
	case "Fn::If":
		if len(arg.List) != 3 {
			return nil, fmt.Errorf("line %d: Fn::If needs [condition, then, else]", n.Line)
		}
		c, err := r.condition(arg.List[0].Str())
		if err != nil {
			return nil, err
		}
		if c {
			return r.eval(arg.List[1])
		}
		return r.eval(arg.List[2])
	case "Fn::Join":
		if len(arg.List) != 2 {
			return nil, fmt.Errorf("line %d: Fn::Join needs [delimiter, list]", n.Line)
		}
		l, err := r.eval(arg.List[1])
		if err != nil {
			return nil, err
		}
		items, ok := l.([]any)
		if !ok {
			return nil, fmt.Errorf("line %d: Fn::Join of a non-list", n.Line)
		}
		var parts []string
		for _, it := range items {
			parts = append(parts, fmt.Sprint(it))
		}
		return strings.Join(parts, arg.List[0].Str()), nil
	case "Fn::ImportValue":
		name, err := r.eval(arg)
		if err != nil {
			return nil, err
		}
		if v, ok := r.st.Imports[fmt.Sprint(name)]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("line %d: no export %v", n.Line, name)
	case "Fn::Split":
		if len(arg.List) != 2 {
			return nil, fmt.Errorf("line %d: Fn::Split needs [delimiter, string]", n.Line)
		}
		v, err := r.eval(arg.List[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, part := range strings.Split(fmt.Sprint(v), arg.List[0].Str()) {
			out = append(out, part)
		}
		return out, nil
	case "Fn::FindInMap":
		if len(arg.List) != 3 {
			return nil, fmt.Errorf("line %d: Fn::FindInMap needs [map, top key, second key]", n.Line)
		}
		var keys []string
		for _, k := range arg.List {
			v, err := r.eval(k)
			if err != nil {
				return nil, err
			}
			keys = append(keys, fmt.Sprint(v))
		}
		found := r.root.Get("Mappings").Get(keys[0]).Get(keys[1]).Get(keys[2])
		if found == nil {
			return nil, fmt.Errorf("line %d: Fn::FindInMap %v: no such entry", n.Line, keys)
		}
		return r.eval(found)
	case "Fn::Select":
		if len(arg.List) != 2 {
			return nil, fmt.Errorf("line %d: Fn::Select needs [index, list]", n.Line)
		}
		l, err := r.eval(arg.List[1])
		if err != nil {
			return nil, err
		}
		items, _ := l.([]any)
		var i int
		if _, err := fmt.Sscan(arg.List[0].Str(), &i); err != nil || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("line %d: Fn::Select index out of range", n.Line)
		}
		return items[i], nil
	}
	return nil, fmt.Errorf("line %d: %s is not supported by the IAM renderer", n.Line, fn)
}

// evalMap evaluates n and requires a JSON object.
func (r *renderer) evalMap(n *templates.Node) (map[string]any, error) {
	v, err := r.eval(n)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a mapping")
	}
	return m, nil
}

func (r *renderer) evalString(n *templates.Node) (string, error) {
	v, err := r.eval(n)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("line %d: not a string", n.Line)
	}
	return s, nil
}

// policies returns the policies one resource defines.
func (r *renderer) policies(id string, node *templates.Node) ([]Policy, error) {
	props := node.Get("Properties")
	name := r.st.File + " " + id
	switch node.Get("Type").Str() {
	case "AWS::IAM::Role":
		arn, err := r.getAtt(id, "Arn")
		if err != nil {
			return nil, err
		}
		trust, err := r.evalMap(props.Get("AssumeRolePolicyDocument"))
		if err != nil {
			return nil, fmt.Errorf("AssumeRolePolicyDocument: %w", err)
		}
		out := []Policy{{Name: name + " trust policy", Kind: "trust", Attached: arn, Document: trust}}
		for _, p := range props.Get("Policies").List {
			pn, err := r.evalString(p.Get("PolicyName"))
			if err != nil {
				return nil, err
			}
			doc, err := r.evalMap(p.Get("PolicyDocument"))
			if err != nil {
				return nil, fmt.Errorf("policy %s: %w", pn, err)
			}
			out = append(out, Policy{Name: name + " policy " + pn, Kind: "identity", Attached: arn, Document: doc})
		}
		return out, nil
	case "AWS::Lambda::Permission":
		m, err := r.evalMap(props)
		if err != nil {
			return nil, err
		}
		fn, _ := m["FunctionName"].(string)
		st := map[string]any{"Sid": id, "Effect": "Allow", "Action": m["Action"], "Resource": fn}
		if p, _ := m["Principal"].(string); strings.HasSuffix(p, ".amazonaws.com") {
			st["Principal"] = map[string]any{"Service": p}
		} else {
			st["Principal"] = map[string]any{"AWS": p}
		}
		cond := map[string]any{}
		if v, ok := m["SourceAccount"]; ok {
			cond["StringEquals"] = map[string]any{"aws:SourceAccount": v}
		}
		if v, ok := m["SourceArn"]; ok {
			cond["ArnLike"] = map[string]any{"aws:SourceArn": v}
		}
		if v, ok := m["PrincipalOrgID"]; ok {
			se, _ := cond["StringEquals"].(map[string]any)
			if se == nil {
				se = map[string]any{}
				cond["StringEquals"] = se
			}
			se["aws:PrincipalOrgID"] = v
		}
		if len(cond) > 0 {
			st["Condition"] = cond
		}
		return []Policy{{Name: r.st.File + " Lambda permissions", Kind: "resource", Attached: fn,
			Document: map[string]any{"Version": "2012-10-17", "Statement": []any{st}}}}, nil
	case "AWS::KMS::Key":
		arn, err := r.getAtt(id, "Arn")
		if err != nil {
			return nil, err
		}
		doc, err := r.evalMap(props.Get("KeyPolicy"))
		if err != nil {
			return nil, fmt.Errorf("KeyPolicy: %w", err)
		}
		return []Policy{{Name: name + " key policy", Kind: "key", Attached: arn, Document: doc}}, nil
	case "AWS::SecretsManager::ResourcePolicy":
		secretARN, err := r.evalString(props.Get("SecretId"))
		if err != nil {
			return nil, err
		}
		doc, err := r.evalMap(props.Get("ResourcePolicy"))
		if err != nil {
			return nil, fmt.Errorf("ResourcePolicy: %w", err)
		}
		return []Policy{{Name: name + " secret resource policy", Kind: "resource", Attached: secretARN, Document: doc}}, nil
	}
	return nil, nil
}

// Statements returns the statements of a policy document.
func Statements(doc map[string]any) []map[string]any {
	var out []map[string]any
	switch s := doc["Statement"].(type) {
	case []any:
		for _, el := range s {
			if m, ok := el.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, s)
	}
	return out
}

// WithoutStatement returns a copy of the policies with every statement whose
// Sid is sid removed (the negative control).
func WithoutStatement(pols []Policy, sid string) ([]Policy, int) {
	removed := 0
	out := slices.Clone(pols)
	for i, p := range out {
		sts := Statements(p.Document)
		var keep []any
		for _, st := range sts {
			if st["Sid"] == sid {
				removed++
				continue
			}
			keep = append(keep, st)
		}
		if len(keep) != len(sts) {
			doc := map[string]any{}
			for k, v := range p.Document {
				doc[k] = v
			}
			doc["Statement"] = keep
			out[i].Document = doc
		}
	}
	return out, removed
}

// EditStatement returns a copy of the policies in which every statement whose
// Sid is sid is replaced by a copy that fn changed, and how many there were.
func EditStatement(pols []Policy, sid string, fn func(st map[string]any)) ([]Policy, int) {
	edited := 0
	out := slices.Clone(pols)
	for i, p := range out {
		sts := Statements(p.Document)
		changed := false
		var all []any
		for _, st := range sts {
			if st["Sid"] == sid {
				c := clone(st).(map[string]any)
				fn(c)
				st, changed = c, true
				edited++
			}
			all = append(all, st)
		}
		if changed {
			doc := map[string]any{}
			for k, v := range p.Document {
				doc[k] = v
			}
			doc["Statement"] = all
			out[i].Document = doc
		}
	}
	return out, edited
}

// clone deep-copies a JSON value.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = clone(e)
		}
		return l
	}
	return v
}
