// Command trimspec writes the trimmed resource specification that the
// template checks read (test/templates/testdata/spec.json): from the AWS CDK
// service specification database (db.json.gz of the npm package
// @aws-cdk/aws-service-spec), it keeps the resource types the given templates
// use, the types they depend on, and every property type they reach.
//
//	trimspec -db db.json.gz -package @aws-cdk/aws-service-spec -version 0.1.216 \
//	    -out test/templates/testdata/spec.json template.yaml infra/*.yaml ...
//
// scripts/refresh-schemas.sh (make schemas) runs it.
package main

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rotary-secrets/rotary/test/templates"
)

// db is the part of the database's layout trimspec reads.
type db struct {
	Schema struct {
		Resource struct {
			Entities []struct {
				CloudFormationType string                         `json:"cloudFormationType"`
				Properties         map[string]*templates.Property `json:"properties"`
				Attributes         map[string]json.RawMessage     `json:"attributes"`
			} `json:"entities"`
		} `json:"resource"`
		TypeDefinition struct {
			Entities []struct {
				ID         string                         `json:"$id"`
				Name       string                         `json:"name"`
				Properties map[string]*templates.Property `json:"properties"`
			} `json:"entities"`
		} `json:"typeDefinition"`
	} `json:"schema"`
}

func main() {
	dbPath := flag.String("db", "", "db.json.gz (or db.json) of @aws-cdk/aws-service-spec")
	pkg := flag.String("package", "@aws-cdk/aws-service-spec", "npm package the database comes from")
	version := flag.String("version", "", "version of that package")
	out := flag.String("out", "test/templates/testdata/spec.json", "output file")
	flag.Parse()
	if err := run(*dbPath, *pkg, *version, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "trimspec:", err)
		os.Exit(1)
	}
}

func run(dbPath, pkg, version, out string, files []string) error {
	if dbPath == "" || version == "" || len(files) == 0 {
		return fmt.Errorf("usage: trimspec -db db.json.gz -version V [-out spec.json] template.yaml…")
	}
	raw, err := os.ReadFile(dbPath)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	var r io.Reader = strings.NewReader(string(raw))
	if strings.HasSuffix(dbPath, ".gz") {
		if r, err = gzip.NewReader(r); err != nil {
			return fmt.Errorf("%s: %w", dbPath, err)
		}
	}
	var d db
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return fmt.Errorf("%s: %w", dbPath, err)
	}

	want := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		root, err := templates.Parse(src)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, typ := range templates.ResourceTypes(root) {
			want[typ] = true
			for _, rel := range templates.RelatedTypes(typ) {
				want[rel] = true
			}
		}
	}

	spec := templates.Spec{
		Source: templates.Source{
			Package: pkg, Version: version, File: filepath.Base(dbPath), SHA256: hex.EncodeToString(sum[:]),
			Note: "Trimmed by test/templates/cmd/trimspec to the resource types Rotary's templates use; regenerate with make schemas.",
		},
		Resources: map[string]*templates.Resource{},
		Types:     map[string]*templates.TypeDef{},
	}
	typeDefs := map[string]*templates.TypeDef{}
	for _, t := range d.Schema.TypeDefinition.Entities {
		typeDefs[t.ID] = &templates.TypeDef{Name: t.Name, Properties: t.Properties}
	}
	var queue []*templates.TypeRef
	for _, e := range d.Schema.Resource.Entities {
		if !want[e.CloudFormationType] {
			continue
		}
		res := &templates.Resource{Properties: e.Properties}
		for a := range e.Attributes {
			res.Attributes = append(res.Attributes, a)
		}
		slices.Sort(res.Attributes)
		spec.Resources[e.CloudFormationType] = res
		for _, p := range e.Properties {
			queue = append(queue, p.Type)
		}
	}
	for typ := range want {
		if spec.Resources[typ] == nil {
			return fmt.Errorf("resource type %s is not in %s@%s", typ, pkg, version)
		}
	}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if t == nil {
			continue
		}
		if t.Element != nil {
			queue = append(queue, t.Element)
		}
		queue = append(queue, t.Types...)
		if t.Reference == nil {
			continue
		}
		id := t.Reference.ID
		if _, done := spec.Types[id]; done {
			continue
		}
		td := typeDefs[id]
		if td == nil {
			return fmt.Errorf("type %s referenced but not defined", id)
		}
		spec.Types[id] = td
		for _, p := range td.Properties {
			queue = append(queue, p.Type)
		}
	}

	b, err := json.MarshalIndent(spec, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
