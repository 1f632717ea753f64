#!/usr/bin/env python3
"""Expand a SAM template the way CloudFormation does at deployment, offline.

    scripts/sam-transform.py TEMPLATE [--params JSON] [--region R] [--account A]

Applies the AWS::LanguageExtensions transform's Fn::ForEach (the only language
extension Rotary's templates use) for the given parameter values, then the
AWS::Serverless-2016-10-31 transform with aws-sam-translator, and prints the
resulting CloudFormation template as JSON on stdout. Errors go to stderr with
exit status 2. Used by test/templates (go test), which checks the output.

Needs aws-sam-translator 1.110.0 (pip install aws-sam-translator==1.110.0).
"""
import argparse
import copy
import json
import os
import re
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")

try:
    import samtranslator
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse
except ImportError as e:  # the Go test turns this into "install ..."
    print(f"aws-sam-translator is not installed ({e}): pip install aws-sam-translator==1.110.0", file=sys.stderr)
    sys.exit(3)

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
SERVERLESS = "AWS::Serverless-2016-10-31"
FOREACH = "Fn::ForEach::"


def parameter_values(template, overrides):
    """Defaults of the template's parameters, then the overrides."""
    values = {}
    for name, p in (template.get("Parameters") or {}).items():
        if "Default" in p:
            values[name] = p["Default"]
    values.update(overrides)
    for name, p in (template.get("Parameters") or {}).items():
        if name in values and p.get("Type") == "CommaDelimitedList" and isinstance(values[name], str):
            values[name] = values[name].split(",")
    return values


def substitute(node, ident, value):
    """Replaces ${ident} and &{ident} in strings and {"Ref": ident} in node."""
    alnum = re.sub(r"[^A-Za-z0-9]", "", value)

    def sub_str(s):
        return s.replace("${" + ident + "}", value).replace("&{" + ident + "}", alnum)

    if isinstance(node, dict):
        if list(node.keys()) == ["Ref"] and node["Ref"] == ident:
            return value
        return {sub_str(k): substitute(v, ident, value) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, ident, value) for v in node]
    if isinstance(node, str):
        return sub_str(node)
    return node


def collection(spec, values, where):
    if isinstance(spec, list):
        return spec
    if isinstance(spec, dict) and list(spec.keys()) == ["Ref"]:
        v = values.get(spec["Ref"])
        if isinstance(v, list):
            return v
        raise ValueError(f"{where}: Fn::ForEach collection !Ref {spec['Ref']} is not a list parameter")
    raise ValueError(f"{where}: Fn::ForEach collection must be a list or a !Ref to a CommaDelimitedList")


def expand_foreach(section, values, where):
    """Expands every Fn::ForEach::Name key of a mapping section (nested loops too)."""
    if not isinstance(section, dict):
        return section
    out = {}
    for key, val in section.items():
        if not key.startswith(FOREACH):
            if key in out:
                raise ValueError(f"{where}: duplicate key {key}")
            out[key] = val
            continue
        if not (isinstance(val, list) and len(val) == 3 and isinstance(val[0], str) and isinstance(val[2], dict)):
            raise ValueError(f"{where}.{key}: want [Identifier, Collection, {{OutputKey: OutputValue}}]")
        ident, items, fragment = val[0], collection(val[1], values, f"{where}.{key}"), val[2]
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"{where}.{key}: collection items must be strings")
            expanded = expand_foreach(substitute(copy.deepcopy(fragment), ident, item), values, f"{where}.{key}")
            for k, v in expanded.items():
                if k in out:
                    raise ValueError(f"{where}.{key}: generated key {k!r} clashes with another key")
                out[k] = v
    return out


def language_extensions(template, values):
    transforms = template.get("Transform")
    if isinstance(transforms, str):
        transforms = [transforms]
    transforms = list(transforms or [])
    if LANGUAGE_EXTENSIONS not in transforms:
        for section in ("Resources", "Outputs", "Conditions"):
            for k in (template.get(section) or {}):
                if k.startswith(FOREACH):
                    raise ValueError(f"{section}.{k}: Fn::ForEach needs Transform {LANGUAGE_EXTENSIONS}")
        return template
    if transforms.index(LANGUAGE_EXTENSIONS) != 0:
        raise ValueError(f"{LANGUAGE_EXTENSIONS} must be the first transform")
    for section in ("Resources", "Outputs", "Conditions"):
        if section in template:
            template[section] = expand_foreach(template[section], values, section)
    transforms.remove(LANGUAGE_EXTENSIONS)
    template["Transform"] = transforms[0] if len(transforms) == 1 else transforms
    return template


def package(template):
    """Does what `sam package` does to local code: an S3 location instead."""
    for logical_id, r in (template.get("Resources") or {}).items():
        props = r.get("Properties") if isinstance(r, dict) else None
        if not isinstance(props, dict):
            continue
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            uri = props.get(key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                props[key] = f"s3://rotary-artifacts/{logical_id}.zip"
    return template


class NoManagedPolicies:
    """Rotary's functions name their role: SAM never needs the managed policy map."""

    def load(self):
        return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template")
    ap.add_argument("--params", default="{}", help="parameter values, a JSON object")
    ap.add_argument("--version", action="store_true", help="print aws-sam-translator's version and exit")
    args = ap.parse_args()
    with open(args.template, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    values = parameter_values(template, json.loads(args.params))
    try:
        template = package(language_extensions(template, values))
        out = Translator(NoManagedPolicies().load(), Parser()).translate(template, values)
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{args.template}: {cause.message}", file=sys.stderr)
        sys.exit(2)
    except ValueError as e:
        print(f"{args.template}: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)
    print()


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--translator-version":
        print(samtranslator.__version__)
        sys.exit(0)
    main()
