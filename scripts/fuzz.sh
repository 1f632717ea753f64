#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each ($1, default 10s).
# A failing input is written by go test under the package's testdata/fuzz/, where
# it stays as a regression case.
set -euo pipefail
fuzztime=${1:-10s}
cd "$(dirname "$0")/.."
status=0
failed=()
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
  pkg=./$(dirname "$file")
  echo "== $pkg $name ($fuzztime)"
  out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1) && rc=0 || rc=$?
  printf '%s\n' "$out"
  if [ "$rc" -ne 0 ]; then
    # The go command sometimes reports "context deadline exceeded" when
    # -fuzztime ends while a worker is busy, without any failing input: that
    # is the fuzzer stopping, not a finding. A finding always says where its
    # input was written (testdata/fuzz/<name>/…), where it stays as a
    # regression case.
    if grep -q "Failing input written to" <<<"$out" || ! grep -q "context deadline exceeded" <<<"$out"; then
      status=1
      failed+=("$pkg $name")
    else
      echo "(fuzzer stopped at its deadline without a finding)"
    fi
  fi
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sed -E 's/^\.\/([^:]*):[0-9]+:/\1:/')
if [ "$status" -ne 0 ]; then
  echo "fuzz targets with findings or errors: ${failed[*]}"
fi
exit $status
