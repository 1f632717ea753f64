package templates

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the repository root, two levels above this package.
const root = "../.."

func loadSpec(t *testing.T) *Spec {
	t.Helper()
	spec, err := LoadSpec(filepath.Join("testdata", "spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if os.IsNotExist(err) {
		return nil // reported by Check for every BuildMethod: makefile resource
	}
	if err != nil {
		t.Fatal(err)
	}
	return MakeTargets(string(b))
}

// templateFiles lists every template of the repository.
func templateFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"template.yaml", "infra/*.yaml", "infra/examples/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if !slices.Contains(files, filepath.Join(root, "template.yaml")) {
		t.Fatalf("template.yaml not found under %s", root)
	}
	return files
}

func TestTemplates(t *testing.T) {
	c := &Checker{Spec: loadSpec(t), MakeTargets: makeTargets(t)}
	for _, f := range templateFiles(t) {
		name, _ := filepath.Rel(root, f)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tmpl, err := Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.Check(name, tmpl) {
				t.Error(p)
			}
		})
	}
}

func TestSpecIsPinned(t *testing.T) {
	s := loadSpec(t)
	if s.Source.Package != "@aws-cdk/aws-service-spec" || s.Source.Version == "" || s.Source.SHA256 == "" {
		t.Errorf("spec source = %+v, want package, version and checksum recorded", s.Source)
	}
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Lambda::Function", "AWS::IAM::Role"} {
		if s.Resources[typ] == nil {
			t.Errorf("spec lacks %s", typ)
		}
	}
}

// base is a valid template that each case below breaks in one place.
const base = `
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Level:
    Type: String
Conditions:
  IsDebug: !Equals [!Ref Level, DEBUG]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      Role: !GetAtt Role.Arn
      LoggingConfig:
        LogFormat: JSON
        ApplicationLogLevel: !If [IsDebug, DEBUG, INFO]
      Environment:
        Variables:
          A: !Sub "${AWS::Region}-${Level}-${Role.Arn}-${!Literal}"
Outputs:
  Arn:
    Value: !GetAtt Fn.Arn
`

func TestCheckReportsMistakes(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old with new in base; "" for base itself
		targets  []string
		want     []Problem // Code and Path compared
	}{
		{name: "valid", targets: []string{"build-Fn"}},
		{name: "misspelt property", old: "      Runtime: provided.al2023", new: "      Runtme: provided.al2023", targets: []string{"build-Fn"},
			want: []Problem{{Code: UnknownProperty, Path: "Resources.Fn.Properties.Runtme"}}},
		{name: "missing required property", old: "      AssumeRolePolicyDocument: {}", new: "      Description: no trust policy", targets: []string{"build-Fn"},
			want: []Problem{{Code: MissingRequired, Path: "Resources.Role.Properties"}}},
		{name: "no Properties at all", old: "    Properties:\n      AssumeRolePolicyDocument: {}", new: "", targets: []string{"build-Fn"},
			want: []Problem{{Code: MissingRequired, Path: "Resources.Role.Properties"}}},
		{name: "misspelt nested property", old: "        LogFormat: JSON", new: "        LogFormt: JSON", targets: []string{"build-Fn"},
			want: []Problem{{Code: UnknownProperty, Path: "Resources.Fn.Properties.LoggingConfig.LogFormt"}}},
		{name: "misspelt property in an If branch", old: "!If [IsDebug, DEBUG, INFO]", new: "INFO\n        Level: !If [IsDebug, {LogFormat: JSON}, !Ref AWS::NoValue]", targets: []string{"build-Fn"},
			want: []Problem{{Code: UnknownProperty, Path: "Resources.Fn.Properties.LoggingConfig.Level"}}},
		{name: "nested required property missing", old: "        Variables:\n", new: "        Varables:\n", targets: []string{"build-Fn"},
			want: []Problem{{Code: UnknownProperty, Path: "Resources.Fn.Properties.Environment.Varables"}, {Code: MissingRequired, Path: "Resources.Fn.Properties.Environment"}}},
		{name: "list where a mapping is wanted", old: "          A: !Sub", new: "          - !Sub", targets: []string{"build-Fn"},
			want: []Problem{{Code: WrongShape, Path: "Resources.Fn.Properties.Environment.Variables"}}},
		{name: "unknown resource type", old: "Type: AWS::IAM::Role", new: "Type: AWS::IAM::Rol", targets: []string{"build-Fn"},
			want: []Problem{{Code: UnknownType, Path: "Resources.Role.Type"}}},
		{name: "Ref to nothing", old: "!Equals [!Ref Level, DEBUG]", new: "!Equals [!Ref Levle, DEBUG]", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadReference, Path: "Conditions.IsDebug.Fn::Equals[0]"}}},
		{name: "GetAtt of a missing resource", old: "!GetAtt Role.Arn", new: "!GetAtt Rloe.Arn", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadReference, Path: "Resources.Fn.Properties.Role"}}},
		{name: "GetAtt of a missing attribute", old: "Value: !GetAtt Fn.Arn", new: "Value: !GetAtt Fn.Name", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadReference, Path: "Outputs.Arn.Value"}}},
		{name: "Sub variable of nothing", old: "${AWS::Region}", new: "${AWS::Regoin}", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadReference, Path: "Resources.Fn.Properties.Environment.Variables.A"}}},
		{name: "If on a missing condition", old: "!If [IsDebug,", new: "!If [IsDbug,", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadCondition, Path: "Resources.Fn.Properties.LoggingConfig.ApplicationLogLevel"}}},
		{name: "no build target", targets: []string{"build-Other", "build"},
			want: []Problem{{Code: NoMakeTarget, Path: "Resources.Fn.Metadata.BuildMethod"}}},
		{name: "default outside AllowedValues", old: "    Type: String\n", new: "    Type: String\n    Default: TRACE\n    AllowedValues: [DEBUG, INFO]\n", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadParameter, Path: "Parameters.Level.Default"}}},
		{name: "default not matching AllowedPattern", old: "    Type: String\n", new: "    Type: String\n    Default: debug\n    AllowedPattern: \"[A-Z]+\"\n", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadParameter, Path: "Parameters.Level.Default"}}},
		{name: "unknown parameter type", old: "    Type: String\n", new: "    Type: Strin\n", targets: []string{"build-Fn"},
			want: []Problem{{Code: BadParameter, Path: "Parameters.Level.Type"}}},
		{name: "SAM resource without the transform", old: "Transform: AWS::Serverless-2016-10-31\n", new: "", targets: []string{"build-Fn"},
			want: []Problem{{Code: NoTransform, Path: "Resources.Fn.Type"}}},
		{name: "no Makefile",
			want: []Problem{{Code: NoMakeTarget, Path: "Resources.Fn.Metadata.BuildMethod"}}},
	}
	spec := loadSpec(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.old != "" {
				if !strings.Contains(src, tt.old) {
					t.Fatalf("base has no %q", tt.old)
				}
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			tmpl, err := Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			var targets map[string]bool
			if tt.targets != nil {
				targets = map[string]bool{}
				for _, tg := range tt.targets {
					targets[tg] = true
				}
			}
			c := &Checker{Spec: spec, MakeTargets: targets}
			var got []Problem
			for _, p := range c.Check("t.yaml", tmpl) {
				got = append(got, Problem{Code: p.Code, Path: p.Path})
				t.Log(p)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnknownPropertySuggestsName(t *testing.T) {
	src := strings.Replace(base, "      Runtime: provided.al2023", "      Runtme: provided.al2023", 1)
	tmpl, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ps := (&Checker{Spec: loadSpec(t), MakeTargets: map[string]bool{"build-Fn": true}}).Check("t.yaml", tmpl)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, `did you mean "Runtime"`) || ps[0].Line != 21 {
		t.Errorf("problems = %v, want one on line 21 suggesting Runtime", ps)
	}
}

func TestParseShortTags(t *testing.T) {
	tests := []struct {
		src  string
		want string // the long-form key
	}{
		{"!Ref X", "Ref"}, {"!Sub x", "Fn::Sub"}, {"!GetAtt A.B", "Fn::GetAtt"}, {"!If [C, a, b]", "Fn::If"},
		{"!Equals [a, b]", "Fn::Equals"}, {"!Not [!Condition C]", "Fn::Not"}, {"!Join ['', [a]]", "Fn::Join"},
		{"!Select [0, [a]]", "Fn::Select"}, {"!Split [',', a]", "Fn::Split"}, {"!FindInMap [M, a, b]", "Fn::FindInMap"},
		{"!Condition C", "Condition"}, {"!ImportValue x", "Fn::ImportValue"}, {"!Base64 x", "Fn::Base64"},
		{"!Cidr [a, 1, 2]", "Fn::Cidr"}, {"!GetAZs ''", "Fn::GetAZs"}, {"!And [a, b]", "Fn::And"}, {"!Or [a, b]", "Fn::Or"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			n, err := Parse([]byte("V: " + tt.src + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			fn, ok := n.Get("V").Intrinsic()
			if !ok || fn != tt.want {
				t.Errorf("Parse(%q) = %q (intrinsic %v), want %q", tt.src, fn, ok, tt.want)
			}
		})
	}
	t.Run("GetAtt splits", func(t *testing.T) {
		n, err := Parse([]byte("V: !GetAtt Res.Attr.Sub\n"))
		if err != nil {
			t.Fatal(err)
		}
		args := n.Get("V").Get("Fn::GetAtt")
		if args.Kind != List || args.List[0].Str() != "Res" || args.List[1].Str() != "Attr.Sub" {
			t.Errorf("!GetAtt Res.Attr.Sub = %+v, want [Res, Attr.Sub]", args)
		}
	})
	t.Run("unknown tag", func(t *testing.T) {
		if _, err := Parse([]byte("V: !Reff X\n")); err == nil {
			t.Error("Parse accepted !Reff")
		}
	})
}

func TestMakeTargets(t *testing.T) {
	got := MakeTargets("X ?= 1\nY := 2\nbuild-A: dep\n\tcmd\nbuild-B build-C:\n.PHONY: all\ndist/%.zip: FORCE\n")
	for _, want := range []string{"build-A", "build-B", "build-C", ".PHONY", "dist/%.zip"} {
		if !got[want] {
			t.Errorf("MakeTargets lacks %q (got %v)", want, got)
		}
	}
	for _, not := range []string{"X", "Y"} {
		if got[not] {
			t.Errorf("MakeTargets has variable %q", not)
		}
	}
}
