package templates

import (
	"encoding/json"
	"fmt"
	"os"
)

// Spec is the trimmed resource specification the checks run against: the
// resource types Rotary's templates use, with every property type they reach,
// copied unchanged from the AWS CDK service specification database.
type Spec struct {
	Source    Source               `json:"source"`
	Resources map[string]*Resource `json:"resources"` // by CloudFormation type
	Types     map[string]*TypeDef  `json:"types"`     // by the database's $id
}

// Source records where a Spec was taken from.
type Source struct {
	Package string `json:"package"` // npm package name
	Version string `json:"version"`
	File    string `json:"file"`   // file inside the package
	SHA256  string `json:"sha256"` // of that file
	Note    string `json:"note,omitempty"`
}

// Resource is one resource type.
type Resource struct {
	Properties map[string]*Property `json:"properties"`
	Attributes []string             `json:"attributes"` // Fn::GetAtt names
}

// TypeDef is a named property type (for example AWS::Lambda::Function's
// LoggingConfig).
type TypeDef struct {
	Name       string               `json:"name"`
	Properties map[string]*Property `json:"properties"`
}

// Property is one property of a resource or a property type.
type Property struct {
	Type     *TypeRef `json:"type"`
	Required bool     `json:"required,omitempty"`
}

// TypeRef is a property's type as the database writes it: a primitive
// (string, number, integer, boolean, json, date-time), "tag" (one {Key,
// Value} pair), "ref" to a TypeDef, or an array, map or union of types.
type TypeRef struct {
	Type      string     `json:"type"`
	Reference *Reference `json:"reference,omitempty"`
	Element   *TypeRef   `json:"element,omitempty"`
	Types     []*TypeRef `json:"types,omitempty"`
}

// Reference names a TypeDef.
type Reference struct {
	ID string `json:"$ref"`
}

// LoadSpec reads a Spec written by cmd/trimspec.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("load spec %s: %w", path, err)
	}
	if len(s.Resources) == 0 {
		return nil, fmt.Errorf("load spec %s: no resources", path)
	}
	return &s, nil
}

// samPassThrough lists properties that SAM passes unchanged to the resource
// it generates, and that the SAM definitions in the CDK database (taken from
// an older SAM specification) do not list yet. They are checked against the
// generated resource's definition instead. Source: the SAM resource
// reference, "passed directly to the … property of an AWS::Lambda::Function".
var samPassThrough = map[string]struct {
	target     string
	properties []string
}{
	"AWS::Serverless::Function": {
		target:     "AWS::Lambda::Function",
		properties: []string{"LoggingConfig", "RuntimeManagementConfig", "SnapStart", "RecursiveLoop"},
	},
}

// samGenerated maps a SAM resource type to the CloudFormation type SAM
// generates under the same logical ID, whose attributes Fn::GetAtt reaches.
var samGenerated = map[string]string{
	"AWS::Serverless::Function":     "AWS::Lambda::Function",
	"AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion",
	"AWS::Serverless::SimpleTable":  "AWS::DynamoDB::Table",
	"AWS::Serverless::StateMachine": "AWS::StepFunctions::StateMachine",
	"AWS::Serverless::Api":          "AWS::ApiGateway::RestApi",
	"AWS::Serverless::HttpApi":      "AWS::ApiGatewayV2::Api",
}

// RelatedTypes returns the resource types a template using typ also needs in
// the spec: the targets of SAM pass-through properties and attributes.
func RelatedTypes(typ string) []string {
	var out []string
	if p, ok := samPassThrough[typ]; ok {
		out = append(out, p.target)
	}
	if g, ok := samGenerated[typ]; ok && (len(out) == 0 || out[0] != g) {
		out = append(out, g)
	}
	return out
}
