#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test of the
# workspace (unit tables, the test bed's own tests, and end-to-end runs of the built binary
# against moto server, docker-registry and the project's fakes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# action.yml against GitHub's published schema for action metadata (vendored in check-jsonschema).
.venv/bin/check-jsonschema --builtin-schema vendor.github-actions action.yml
export TESTBED_MOTO_SERVER="$PWD/.venv/bin/moto_server"
cargo build --workspace --all-targets --locked
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked -- --test-threads=4 2>&1 | tee "$log"
# cargo prints one "test result:" line per test binary, the last often a doc-test run of 0
# tests; close with the totals over all of them.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
