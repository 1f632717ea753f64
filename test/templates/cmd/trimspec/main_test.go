package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rotary-secrets/rotary/test/templates"
)

// A database in the layout of @aws-cdk/aws-service-spec's db.json, cut to
// two resources, a SAM one, and a chain of property types.
const fakeDB = `{"idCtr": 9, "schema": {
 "resource": {"type": "entity", "entities": [
  {"$id": "1", "cloudFormationType": "AWS::Lambda::Function", "attributes": {"Arn": {"type": {"type": "string"}}},
   "properties": {"Code": {"type": {"type": "ref", "reference": {"$ref": "10"}}, "required": true, "documentation": "x"},
                  "LoggingConfig": {"type": {"type": "ref", "reference": {"$ref": "11"}}}}},
  {"$id": "2", "cloudFormationType": "AWS::Serverless::Function", "attributes": {},
   "properties": {"Runtime": {"type": {"type": "string"}}}},
  {"$id": "3", "cloudFormationType": "AWS::S3::Bucket", "attributes": {}, "properties": {}}]},
 "typeDefinition": {"type": "entity", "entities": [
  {"$id": "10", "name": "Code", "properties": {"S3Bucket": {"type": {"type": "string"}}}},
  {"$id": "11", "name": "LoggingConfig", "properties": {"Nested": {"type": {"type": "array", "element": {"type": "ref", "reference": {"$ref": "12"}}}}}},
  {"$id": "12", "name": "Deep", "properties": {"X": {"type": {"type": "string"}, "required": true}}},
  {"$id": "13", "name": "Unused", "properties": {}}]}}}`

func TestRunTrimsToUsedTypes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.json")
	tmpl := filepath.Join(dir, "t.yaml")
	out := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(db, []byte(fakeDB), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, []byte("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(db, "@aws-cdk/aws-service-spec", "0.0.1", out, []string{tmpl}); err != nil {
		t.Fatal(err)
	}
	spec, err := templates.LoadSpec(out)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Source.Version != "0.0.1" || spec.Source.SHA256 == "" {
		t.Errorf("source = %+v, want version and checksum", spec.Source)
	}
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Lambda::Function"} {
		if spec.Resources[typ] == nil {
			t.Errorf("spec lacks %s (used, or reached through SAM)", typ)
		}
	}
	if spec.Resources["AWS::S3::Bucket"] != nil {
		t.Error("spec keeps AWS::S3::Bucket, which no template uses")
	}
	for _, id := range []string{"10", "11", "12"} {
		if spec.Types[id] == nil {
			t.Errorf("spec lacks property type %s", id)
		}
	}
	if spec.Types["13"] != nil {
		t.Error("spec keeps an unreachable property type")
	}
	if !spec.Resources["AWS::Lambda::Function"].Properties["Code"].Required {
		t.Error("Code lost its required flag")
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	if containsKey(generic, "documentation") {
		t.Error("documentation text was not trimmed")
	}
}

func TestRunRejectsUnknownType(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.json")
	tmpl := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(db, []byte(fakeDB), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, []byte("Resources:\n  X:\n    Type: AWS::Nope::Thing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(db, "p", "1", filepath.Join(dir, "o.json"), []string{tmpl}); err == nil {
		t.Error("run accepted a resource type missing from the database")
	}
}

func containsKey(v any, key string) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			if k == key || containsKey(vv, key) {
				return true
			}
		}
	case []any:
		for _, vv := range x {
			if containsKey(vv, key) {
				return true
			}
		}
	}
	return false
}
