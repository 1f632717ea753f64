package templates

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Code classifies a Problem, so tests and tools can branch on it.
type Code string

// Problem codes.
const (
	BadStructure    Code = "bad-structure"    // unknown section or attribute, missing Type or Value
	UnknownType     Code = "unknown-type"     // resource type not in the spec
	UnknownProperty Code = "unknown-property" // property name not in the spec
	MissingRequired Code = "missing-required" // required property absent
	WrongShape      Code = "wrong-shape"      // mapping where a list is wanted, and so on
	BadReference    Code = "bad-reference"    // Ref, GetAtt, Sub, DependsOn target missing
	BadCondition    Code = "bad-condition"    // If/Condition names an undefined condition
	NoMakeTarget    Code = "no-make-target"   // BuildMethod makefile without build-<LogicalId>
	BadParameter    Code = "bad-parameter"    // parameter type, or a default its own constraints refuse
	NoTransform     Code = "no-transform"     // AWS::Serverless::* without the SAM transform
)

// Problem is one finding in a template.
type Problem struct {
	Code Code
	File string
	Line int
	Path string // e.g. Resources.CentralFunction.Properties.Runtme
	Msg  string
}

// String formats the problem as file:line: path: message [code].
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s [%s]", p.File, p.Line, p.Path, p.Msg, p.Code)
}

// Checker validates parsed templates against a Spec and, for
// BuildMethod: makefile resources, the targets of the root Makefile.
type Checker struct {
	Spec *Spec
	// MakeTargets are the root Makefile's targets; nil means no Makefile.
	MakeTargets map[string]bool
}

var pseudoParameters = []string{
	"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}

var (
	topLevelKeys = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings",
		"Conditions", "Transform", "Resources", "Outputs", "Rules", "Globals"}
	resourceKeys = []string{"Type", "Properties", "DependsOn", "Condition", "Metadata", "DeletionPolicy",
		"UpdateReplacePolicy", "CreationPolicy", "UpdatePolicy"}
	outputKeys    = []string{"Description", "Value", "Export", "Condition"}
	makeTargetRE  = regexp.MustCompile(`(?m)^([A-Za-z0-9_.%/-]+(?:[ \t]+[A-Za-z0-9_.%/-]+)*)[ \t]*::?(?:[^=]|$)`)
	subVariableRE = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// MakeTargets returns the explicit targets of a Makefile's text.
func MakeTargets(makefile string) map[string]bool {
	out := map[string]bool{}
	for _, m := range makeTargetRE.FindAllStringSubmatch(makefile, -1) {
		for _, t := range strings.Fields(m[1]) {
			out[t] = true
		}
	}
	return out
}

// template is the state of one Check call.
type template struct {
	c          *Checker
	file       string
	params     map[string]bool
	conditions map[string]bool
	mappings   map[string]bool
	resources  map[string]string // logical ID -> type
	problems   []Problem
}

func (t *template) add(code Code, n *Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	t.problems = append(t.problems, Problem{Code: code, File: t.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Check returns every problem found in the parsed template root of file.
func (c *Checker) Check(file string, root *Node) []Problem {
	t := &template{c: c, file: file, params: map[string]bool{}, conditions: map[string]bool{}, mappings: map[string]bool{}, resources: map[string]string{}}
	if root == nil || root.Kind != Map {
		t.add(BadStructure, root, "", "template is not a mapping")
		return t.problems
	}
	for _, k := range root.Keys {
		if !slices.Contains(topLevelKeys, k) {
			t.add(BadStructure, root.Items[k], k, "unknown top-level section %q", k)
		}
	}
	for _, name := range keys(root.Get("Parameters")) {
		t.params[name] = true
		t.parameter(name, root.Get("Parameters").Get(name))
	}
	for _, name := range keys(root.Get("Conditions")) {
		t.conditions[name] = true
	}
	for _, name := range keys(root.Get("Mappings")) {
		t.mappings[name] = true
	}
	resources := root.Get("Resources")
	if resources == nil || resources.Kind != Map || len(resources.Keys) == 0 {
		t.add(BadStructure, root, "Resources", "a template needs at least one resource")
		return t.problems
	}
	ids, nodes := t.expandForEach(resources)
	for _, id := range ids {
		t.resources[id] = nodes[id].Get("Type").Str()
	}

	for _, section := range []string{"Conditions", "Rules"} {
		for _, name := range keys(root.Get(section)) {
			t.refs(root.Get(section).Get(name), section+"."+name, nil)
		}
	}
	for _, id := range ids {
		t.resource(id, nodes[id])
	}
	if !hasSAMTransform(root.Get("Transform")) {
		for _, id := range ids {
			if typ := t.resources[id]; strings.HasPrefix(typ, "AWS::Serverless::") {
				t.add(NoTransform, nodes[id].Get("Type"), "Resources."+id+".Type", "%s needs Transform: AWS::Serverless-2016-10-31", typ)
			}
		}
	}
	if len(ids) != len(resources.Keys) && !slices.Contains(scalarList(root.Get("Transform")), "AWS::LanguageExtensions") {
		t.add(NoTransform, resources, "Resources", "Fn::ForEach needs Transform: AWS::LanguageExtensions")
	}
	for _, name := range keys(root.Get("Outputs")) {
		out := root.Get("Outputs").Get(name)
		path := "Outputs." + name
		for _, k := range keys(out) {
			if !slices.Contains(outputKeys, k) {
				t.add(BadStructure, out.Get(k), path+"."+k, "unknown output attribute %q", k)
			}
		}
		if out.Get("Value") == nil {
			t.add(BadStructure, out, path, "output has no Value")
		}
		if c := out.Get("Condition").Str(); c != "" && !t.conditions[c] {
			t.add(BadCondition, out, path+".Condition", "condition %q is not defined", c)
		}
		t.refs(out, path, nil)
	}
	return t.problems
}

// expandForEach returns the logical IDs of resources, with each
// Fn::ForEach::Name loop (AWS::LanguageExtensions) replaced by the resources
// of its fragment, named as for one sample item. The loop's identifier
// becomes a valid !Ref target.
func (t *template) expandForEach(resources *Node) ([]string, map[string]*Node) {
	var ids []string
	nodes := map[string]*Node{}
	for _, id := range resources.Keys {
		n := resources.Get(id)
		if !strings.HasPrefix(id, "Fn::ForEach::") {
			ids, nodes[id] = append(ids, id), n
			continue
		}
		path := "Resources." + id
		if n.Kind != List || len(n.List) != 3 || n.List[0].Kind != Scalar || n.List[2].Kind != Map {
			t.add(BadStructure, n, path, "Fn::ForEach wants [Identifier, Collection, {OutputKey: OutputValue}]")
			continue
		}
		ident := n.List[0].Value
		t.params[ident] = true
		t.refs(n.List[1], path+"[1]", nil)
		for _, k := range n.List[2].Keys {
			gen := strings.NewReplacer("${"+ident+"}", "Each", "&{"+ident+"}", "Each").Replace(k)
			if gen == k {
				t.add(BadStructure, n.List[2], path, "output key %q does not use ${%s} or &{%s}: every item would make the same resource", k, ident, ident)
			}
			if _, dup := nodes[gen]; dup {
				t.add(BadStructure, n.List[2], path, "output key %q clashes with resource %q", k, gen)
				continue
			}
			ids, nodes[gen] = append(ids, gen), n.List[2].Get(k)
		}
	}
	return ids, nodes
}

// ResourceTypes returns the type of every resource of a parsed template,
// those in Fn::ForEach fragments included, in document order.
func ResourceTypes(root *Node) []string {
	var out []string
	res := root.Get("Resources")
	for _, id := range keys(res) {
		n := res.Get(id)
		if strings.HasPrefix(id, "Fn::ForEach::") {
			if n.Kind == List && len(n.List) == 3 {
				for _, k := range keys(n.List[2]) {
					out = append(out, n.List[2].Get(k).Get("Type").Str())
				}
			}
			continue
		}
		out = append(out, n.Get("Type").Str())
	}
	return out
}

func hasSAMTransform(n *Node) bool {
	return slices.Contains(scalarList(n), "AWS::Serverless-2016-10-31")
}

// scalarList returns a scalar or a list of scalars as strings.
func scalarList(n *Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == Scalar {
		return []string{n.Value}
	}
	var out []string
	for _, el := range n.List {
		if el.Kind == Scalar {
			out = append(out, el.Value)
		}
	}
	return out
}

var parameterTypeRE = regexp.MustCompile(`^(String|Number|List<Number>|CommaDelimitedList|AWS::[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+|List<AWS::[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+>|AWS::SSM::Parameter::(Name|Value<.+>))$`)

// parameter checks a parameter's Type and that its Default satisfies its own
// AllowedValues, AllowedPattern, MinValue and MaxValue.
func (t *template) parameter(name string, p *Node) {
	path := "Parameters." + name
	typ := p.Get("Type").Str()
	if typ == "" {
		t.add(BadStructure, p, path, "parameter has no Type")
		return
	}
	if !parameterTypeRE.MatchString(typ) {
		t.add(BadParameter, p.Get("Type"), path+".Type", "unknown parameter type %q", typ)
	}
	def := p.Get("Default")
	if def == nil || def.Kind != Scalar {
		return
	}
	if allowed := p.Get("AllowedValues"); allowed != nil && !slices.Contains(scalarList(allowed), def.Value) {
		t.add(BadParameter, def, path+".Default", "default %q is not among AllowedValues", def.Value)
	}
	if pat := p.Get("AllowedPattern").Str(); pat != "" && typ == "String" {
		re, err := regexp.Compile("^(?:" + pat + ")$")
		switch {
		case err != nil:
			t.add(BadParameter, p.Get("AllowedPattern"), path+".AllowedPattern", "pattern does not compile: %v", err)
		case !re.MatchString(def.Value):
			t.add(BadParameter, def, path+".Default", "default %q does not match AllowedPattern", def.Value)
		}
	}
	if lo, err := strconv.Atoi(p.Get("MinLength").Str()); err == nil && len(def.Value) < lo {
		t.add(BadParameter, def, path+".Default", "default is shorter than MinLength %d", lo)
	}
	if hi, err := strconv.Atoi(p.Get("MaxLength").Str()); err == nil && len(def.Value) > hi {
		t.add(BadParameter, def, path+".Default", "default is longer than MaxLength %d", hi)
	}
	if typ == "Number" {
		v, err := strconv.ParseFloat(def.Value, 64)
		if err != nil {
			t.add(BadParameter, def, path+".Default", "default %q is not a number", def.Value)
			return
		}
		if lo, err := strconv.ParseFloat(p.Get("MinValue").Str(), 64); err == nil && v < lo {
			t.add(BadParameter, def, path+".Default", "default %v is below MinValue %v", v, lo)
		}
		if hi, err := strconv.ParseFloat(p.Get("MaxValue").Str(), 64); err == nil && v > hi {
			t.add(BadParameter, def, path+".Default", "default %v is above MaxValue %v", v, hi)
		}
	}
}

func keys(n *Node) []string {
	if n == nil || n.Kind != Map {
		return nil
	}
	return n.Keys
}

func (t *template) resource(id string, r *Node) {
	path := "Resources." + id
	if r == nil || r.Kind != Map {
		t.add(BadStructure, r, path, "resource is not a mapping")
		return
	}
	for _, k := range r.Keys {
		if !slices.Contains(resourceKeys, k) {
			t.add(BadStructure, r.Get(k), path+"."+k, "unknown resource attribute %q", k)
		}
	}
	typ := r.Get("Type").Str()
	if typ == "" {
		t.add(BadStructure, r, path+".Type", "resource has no Type")
		return
	}
	if c := r.Get("Condition").Str(); c != "" && !t.conditions[c] {
		t.add(BadCondition, r.Get("Condition"), path+".Condition", "condition %q is not defined", c)
	}
	if dep := r.Get("DependsOn"); dep != nil {
		deps := []*Node{dep}
		if dep.Kind == List {
			deps = dep.List
		}
		for _, d := range deps {
			if _, ok := t.resources[d.Str()]; !ok {
				t.add(BadReference, d, path+".DependsOn", "resource %q does not exist", d.Str())
			}
		}
	}
	if r.Get("Metadata").Get("BuildMethod").Str() == "makefile" {
		target := "build-" + id
		switch {
		case t.c.MakeTargets == nil:
			t.add(NoMakeTarget, r.Get("Metadata"), path+".Metadata.BuildMethod", "BuildMethod makefile needs a root Makefile with target %s, and there is no Makefile", target)
		case !t.c.MakeTargets[target]:
			t.add(NoMakeTarget, r.Get("Metadata"), path+".Metadata.BuildMethod", "BuildMethod makefile needs target %s in the root Makefile", target)
		}
	}
	props := r.Get("Properties")
	t.refs(props, path+".Properties", nil)

	spec := t.c.Spec.Resources[typ]
	if spec == nil {
		t.add(UnknownType, r.Get("Type"), path+".Type", "resource type %s is not in the pinned spec (%s@%s): misspelt, or run make schemas after adding it", typ, t.c.Spec.Source.Package, t.c.Spec.Source.Version)
		return
	}
	if props != nil {
		if _, ok := props.Intrinsic(); ok {
			return
		}
		if props.Kind != Map {
			t.add(WrongShape, props, path+".Properties", "Properties must be a mapping")
			return
		}
	}
	defs := spec.Properties
	if pt, ok := samPassThrough[typ]; ok {
		if target := t.c.Spec.Resources[pt.target]; target != nil {
			defs = maps.Clone(defs)
			for _, name := range pt.properties {
				if _, have := defs[name]; !have && target.Properties[name] != nil {
					defs[name] = target.Properties[name]
				}
			}
		}
	}
	t.object(props, defs, path+".Properties", typ, r)
}

// object checks a literal mapping against property definitions: unknown
// names (with the closest valid one), missing required ones, and each value.
func (t *template) object(n *Node, defs map[string]*Property, path, what string, at *Node) {
	if n != nil {
		at = n
	}
	if n != nil {
		for _, k := range n.Keys {
			p, ok := defs[k]
			if !ok {
				msg := fmt.Sprintf("unknown property %q of %s", k, what)
				if s := closest(k, defs); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				t.add(UnknownProperty, n.Get(k), path+"."+k, "%s", msg)
				continue
			}
			t.value(n.Get(k), p.Type, path+"."+k)
		}
	}
	var missing []string
	for name, p := range defs {
		if p.Required && n.Get(name) == nil {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	for _, name := range missing {
		t.add(MissingRequired, at, path, "missing required property %q of %s", name, what)
	}
}

// value checks one value against its type, as far as a literal allows:
// intrinsic functions other than Fn::If are taken on trust.
func (t *template) value(v *Node, ty *TypeRef, path string) {
	if v == nil || ty == nil {
		return
	}
	if fn, ok := v.Intrinsic(); ok {
		if fn == "Fn::If" {
			if args := v.Get(fn); args.Kind == List && len(args.List) == 3 {
				for _, branch := range args.List[1:] {
					if branch.Get("Ref").Str() != "AWS::NoValue" {
						t.value(branch, ty, path)
					}
				}
			}
		}
		return
	}
	switch ty.Type {
	case "json":
	case "ref":
		td := t.c.Spec.Types[ty.Reference.ID]
		if td == nil {
			return
		}
		if v.Kind != Map {
			t.add(WrongShape, v, path, "want a mapping (%s)", td.Name)
			return
		}
		t.object(v, td.Properties, path, td.Name, v)
	case "array":
		if v.Kind != List {
			t.add(WrongShape, v, path, "want a list")
			return
		}
		for i, el := range v.List {
			t.value(el, ty.Element, fmt.Sprintf("%s[%d]", path, i))
		}
	case "map":
		if v.Kind != Map {
			t.add(WrongShape, v, path, "want a mapping")
			return
		}
		for _, k := range v.Keys {
			t.value(v.Get(k), ty.Element, path+"."+k)
		}
	case "tag":
		if v.Kind != Map || v.Get("Key") == nil || v.Get("Value") == nil || len(v.Keys) != 2 {
			t.add(WrongShape, v, path, "want a tag {Key, Value}")
		}
	case "union":
		var best []Problem
		for _, member := range ty.Types {
			if !shapeMatches(v, member) {
				continue
			}
			sub := &template{c: t.c, file: t.file, params: t.params, conditions: t.conditions, resources: t.resources}
			sub.value(v, member, path)
			if len(sub.problems) == 0 {
				return
			}
			if best == nil || len(sub.problems) < len(best) {
				best = sub.problems
			}
		}
		if best == nil {
			t.add(WrongShape, v, path, "value matches none of the property's types")
			return
		}
		t.problems = append(t.problems, best...)
	case "integer", "number":
		if v.Kind != Scalar {
			t.add(WrongShape, v, path, "want a number")
			return
		}
		if _, err := strconv.ParseFloat(v.Value, 64); err != nil {
			t.add(WrongShape, v, path, "want a number, got %q", v.Value)
		}
	case "boolean":
		if v.Kind != Scalar || (!strings.EqualFold(v.Value, "true") && !strings.EqualFold(v.Value, "false")) {
			t.add(WrongShape, v, path, "want true or false")
		}
	default: // string, date-time
		if v.Kind != Scalar {
			t.add(WrongShape, v, path, "want a scalar (%s)", ty.Type)
		}
	}
}

// shapeMatches reports whether v has the YAML shape of ty (mapping, list or
// scalar).
func shapeMatches(v *Node, ty *TypeRef) bool {
	switch ty.Type {
	case "ref", "map":
		return v.Kind == Map
	case "array":
		return v.Kind == List
	case "tag":
		return v.Kind == Map
	case "json":
		return true
	case "union":
		return slices.ContainsFunc(ty.Types, func(m *TypeRef) bool { return shapeMatches(v, m) })
	}
	return v.Kind == Scalar
}

// refs checks every intrinsic function under n: Ref, Fn::GetAtt, Fn::Sub,
// Fn::If, Condition and Fn::FindInMap targets must exist. vars are Fn::Sub's
// local variables.
func (t *template) refs(n *Node, path string, vars map[string]bool) {
	if n == nil {
		return
	}
	switch n.Kind {
	case List:
		for i, el := range n.List {
			t.refs(el, fmt.Sprintf("%s[%d]", path, i), vars)
		}
		return
	case Map:
	default:
		return
	}
	fn, ok := n.Intrinsic()
	if !ok {
		for _, k := range n.Keys {
			t.refs(n.Get(k), path+"."+k, vars)
		}
		return
	}
	arg := n.Get(fn)
	switch fn {
	case "Ref":
		name := arg.Str()
		if name == "" {
			t.refs(arg, path, vars)
			return
		}
		if !t.params[name] && !slices.Contains(pseudoParameters, name) {
			if _, ok := t.resources[name]; !ok {
				t.add(BadReference, n, path, "!Ref %s: no such parameter, resource or pseudo parameter", name)
			}
		}
	case "Fn::GetAtt":
		var res, attr *Node
		switch {
		case arg.Kind == Scalar:
			r, a, _ := strings.Cut(arg.Value, ".")
			res, attr = &Node{Kind: Scalar, Value: r}, &Node{Kind: Scalar, Value: a}
		case arg.Kind == List && len(arg.List) == 2:
			res, attr = arg.List[0], arg.List[1]
		default:
			t.add(BadStructure, n, path, "!GetAtt wants Resource.Attribute")
			return
		}
		t.getAtt(n, path, res.Str(), attr)
	case "Fn::Sub":
		str, local := arg, map[string]bool{}
		if arg.Kind == List {
			if len(arg.List) != 2 || arg.List[1].Kind != Map {
				t.add(BadStructure, n, path, "!Sub wants a string or [string, {variables}]")
				return
			}
			str = arg.List[0]
			for _, k := range arg.List[1].Keys {
				local[k] = true
				t.refs(arg.List[1].Get(k), path+".Fn::Sub."+k, vars)
			}
		}
		if str.Kind != Scalar {
			t.add(BadStructure, n, path, "!Sub wants a string")
			return
		}
		for _, m := range subVariableRE.FindAllStringSubmatch(str.Value, -1) {
			name := strings.TrimSpace(m[1])
			if strings.HasPrefix(name, "!") || local[name] {
				continue
			}
			if res, attr, dotted := strings.Cut(name, "."); dotted && !strings.HasPrefix(name, "AWS::") {
				t.getAtt(n, path, res, &Node{Kind: Scalar, Value: attr})
				continue
			}
			if !t.params[name] && !slices.Contains(pseudoParameters, name) {
				if _, ok := t.resources[name]; !ok {
					t.add(BadReference, n, path, "!Sub ${%s}: no such parameter, resource or pseudo parameter", name)
				}
			}
		}
	case "Fn::If":
		if arg.Kind != List || len(arg.List) != 3 {
			t.add(BadStructure, n, path, "!If wants [condition, value-if-true, value-if-false]")
			return
		}
		if c := arg.List[0].Str(); !t.conditions[c] {
			t.add(BadCondition, n, path, "!If: condition %q is not defined", c)
		}
		t.refs(arg.List[1], path, vars)
		t.refs(arg.List[2], path, vars)
	case "Condition":
		if c := arg.Str(); !t.conditions[c] {
			t.add(BadCondition, n, path, "condition %q is not defined", c)
		}
	case "Fn::FindInMap":
		if arg.Kind == List && len(arg.List) > 0 {
			if m := arg.List[0].Str(); m != "" && !t.mappings[m] {
				t.add(BadReference, n, path, "!FindInMap: mapping %q is not defined", m)
			}
		}
		t.refs(arg, path, vars)
	default:
		t.refs(arg, path+"."+fn, vars)
	}
}

// getAtt checks that res is a resource and, where the spec knows the
// resource's attributes, that attr is one of them.
func (t *template) getAtt(n *Node, path, res string, attr *Node) {
	typ, ok := t.resources[res]
	if !ok {
		t.add(BadReference, n, path, "!GetAtt %s: no such resource", res)
		return
	}
	if attr.Kind != Scalar {
		return // computed attribute name
	}
	if g, ok := samGenerated[typ]; ok {
		typ = g
	}
	spec := t.c.Spec.Resources[typ]
	if spec == nil || len(spec.Attributes) == 0 {
		return
	}
	if !slices.Contains(spec.Attributes, attr.Value) {
		t.add(BadReference, n, path, "!GetAtt %s.%s: %s has no attribute %q (has %s)", res, attr.Value, typ, attr.Value, strings.Join(spec.Attributes, ", "))
	}
}

// closest returns the property name nearest to name by edit distance, if it
// is close enough to be a likely typo.
func closest(name string, defs map[string]*Property) string {
	best, bestD := "", 4
	for k := range defs {
		if d := distance(strings.ToLower(name), strings.ToLower(k)); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if bestD > 3 {
		return ""
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
