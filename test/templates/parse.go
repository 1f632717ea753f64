package templates

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Kind is the shape of a template Node.
type Kind int

// Node kinds.
const (
	Scalar Kind = iota
	Map
	List
	Null
)

// Node is one value of a parsed template. Short-form tags are expanded to
// their long form: !Ref X becomes the map {Ref: X}, !GetAtt A.B becomes
// {Fn::GetAtt: [A, B]}, !Condition C becomes {Condition: C}, and every other
// !Name becomes {Fn::Name: …}.
type Node struct {
	Kind  Kind
	Value string   // Scalar
	Keys  []string // Map, in document order
	Items map[string]*Node
	List  []*Node // List
	Line  int
}

// Get returns the value of key in a Map node, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Map {
		return nil
	}
	return n.Items[key]
}

// Str returns the scalar value, or "" for any other kind.
func (n *Node) Str() string {
	if n == nil || n.Kind != Scalar {
		return ""
	}
	return n.Value
}

// Intrinsic returns the function name when n is a one-key map whose key is
// Ref, Condition or Fn::*, that is an intrinsic function call.
func (n *Node) Intrinsic() (string, bool) {
	if n == nil || n.Kind != Map || len(n.Keys) != 1 {
		return "", false
	}
	k := n.Keys[0]
	if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
		return k, true
	}
	return "", false
}

// shortTags maps each CloudFormation short-form tag to its long form.
var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!If": "Fn::If", "!Equals": "Fn::Equals",
	"!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!ImportValue": "Fn::ImportValue", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr",
	"!GetAZs": "Fn::GetAZs", "!Transform": "Fn::Transform", "!Length": "Fn::Length",
	"!ToJsonString": "Fn::ToJsonString",
}

// Parse parses a YAML CloudFormation template.
func Parse(src []byte) (*Node, error) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, fmt.Errorf("parse YAML: want one document, got %d", len(f.Docs))
	}
	return convert(f.Docs[0].Body)
}

func line(n ast.Node) int {
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line
	}
	return 0
}

func convert(n ast.Node) (*Node, error) {
	switch v := n.(type) {
	case *ast.TagNode:
		tag := v.Start.Value
		switch tag {
		case "!!str", "!!int", "!!bool", "!!float", "!!null":
			return convert(v.Value)
		}
		long, ok := shortTags[tag]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown tag %s", line(v), tag)
		}
		var inner *Node
		if v.Value == nil {
			inner = &Node{Kind: Null, Line: line(v)}
		} else {
			var err error
			if inner, err = convert(v.Value); err != nil {
				return nil, err
			}
		}
		if long == "Fn::GetAtt" && inner.Kind == Scalar {
			res, attr, found := strings.Cut(inner.Value, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", line(v), inner.Value)
			}
			inner = &Node{Kind: List, List: []*Node{{Kind: Scalar, Value: res, Line: inner.Line}, {Kind: Scalar, Value: attr, Line: inner.Line}}, Line: inner.Line}
		}
		return &Node{Kind: Map, Keys: []string{long}, Items: map[string]*Node{long: inner}, Line: line(v)}, nil
	case *ast.MappingNode:
		out := &Node{Kind: Map, Items: map[string]*Node{}, Line: line(v)}
		for _, mv := range v.Values {
			if err := addPair(out, mv); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *ast.MappingValueNode:
		out := &Node{Kind: Map, Items: map[string]*Node{}, Line: line(v)}
		if err := addPair(out, v); err != nil {
			return nil, err
		}
		return out, nil
	case *ast.SequenceNode:
		out := &Node{Kind: List, Line: line(v)}
		for _, item := range v.Values {
			c, err := convert(item)
			if err != nil {
				return nil, err
			}
			out.List = append(out.List, c)
		}
		return out, nil
	case *ast.AnchorNode:
		return convert(v.Value)
	case *ast.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not supported by CloudFormation", line(v))
	case *ast.NullNode:
		return &Node{Kind: Null, Line: line(v)}, nil
	case *ast.LiteralNode:
		return &Node{Kind: Scalar, Value: v.Value.Value, Line: line(v)}, nil
	case *ast.StringNode:
		return &Node{Kind: Scalar, Value: v.Value, Line: line(v)}, nil
	case *ast.IntegerNode:
		return &Node{Kind: Scalar, Value: fmt.Sprint(v.Value), Line: line(v)}, nil
	case *ast.FloatNode:
		return &Node{Kind: Scalar, Value: strconv.FormatFloat(v.Value, 'g', -1, 64), Line: line(v)}, nil
	case *ast.BoolNode:
		return &Node{Kind: Scalar, Value: strconv.FormatBool(v.Value), Line: line(v)}, nil
	case ast.ScalarNode:
		return &Node{Kind: Scalar, Value: fmt.Sprint(v.GetValue()), Line: line(v)}, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node %T", line(n), n)
}

func addPair(out *Node, mv *ast.MappingValueNode) error {
	key := mv.Key.GetToken().Value
	if mv.Key.IsMergeKey() {
		return fmt.Errorf("line %d: YAML merge keys are not supported by CloudFormation", line(mv))
	}
	if _, dup := out.Items[key]; dup {
		return fmt.Errorf("line %d: duplicate key %q", line(mv), key)
	}
	var val *Node
	if mv.Value == nil {
		val = &Node{Kind: Null, Line: line(mv)}
	} else {
		var err error
		if val, err = convert(mv.Value); err != nil {
			return err
		}
	}
	out.Keys = append(out.Keys, key)
	out.Items[key] = val
	return nil
}
