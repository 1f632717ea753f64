#!/usr/bin/env bash
# Refresh the pinned resource specification used by the template checks
# (test/templates/testdata/spec.json) from the AWS CDK service specification
# database, npm package @aws-cdk/aws-service-spec, which also covers the SAM
# resource types. Only the resource types the templates use are kept.
#
#   scripts/refresh-schemas.sh            # latest version
#   SPEC_VERSION=0.1.216 scripts/refresh-schemas.sh
#
# Needs npm (registry access) and go. Tests never run this: they read the
# committed copy, offline.
set -euo pipefail

cd "$(dirname "$0")/.."
pkg=@aws-cdk/aws-service-spec
version=${SPEC_VERSION:-$(npm view "$pkg" version)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetching $pkg@$version"
(cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/db.json.gz

shopt -s nullglob
templates=(template.yaml infra/*.yaml infra/examples/*.yaml)
go run ./test/templates/cmd/trimspec \
	-db "$work/package/db.json.gz" -package "$pkg" -version "$version" \
	-out test/templates/testdata/spec.json "${templates[@]}"
echo "wrote test/templates/testdata/spec.json ($pkg@$version); run: go test ./test/templates/"
