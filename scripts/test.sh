#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test of the
# workspace (unit tables, the test bed's own tests, and end-to-end runs of the built binary
# against moto server, docker-registry and the project's fakes).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's duration goes to stderr, so a slow phase shows (a cold run must stay under 30 min).
phase_start=$SECONDS
phase() { echo "test.sh: $1 took $((SECONDS - phase_start)) s" >&2; phase_start=$SECONDS; }
scripts/setup.sh
phase setup
# action.yml against GitHub's published schema for action metadata (vendored in check-jsonschema).
.venv/bin/check-jsonschema --builtin-schema vendor.github-actions action.yml
# The workflows (ours and the example's): GitHub's schema, zizmor's security audits (offline:
# no GitHub API here), act's parser (it lists the jobs; planning them needs Docker), and the
# example's Terraform and Dockerfile with checkov (--skip-download: no vendor API).
workflows=(.github/workflows/*.yml examples/.github/workflows/*.yml)
.venv/bin/check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
.venv/bin/zizmor --offline --quiet --persona=pedantic .github/workflows examples/.github/workflows
for w in "${workflows[@]}"; do
  .venv/bin/act --list --workflows "$w" >/dev/null 2>&1 || { .venv/bin/act --list --workflows "$w"; exit 1; }
done
# HCL_PARSE_TIMEOUT_SEC=0: on a loaded machine checkov's 10 s parse limit drops a .tf file
# unchecked and still passes.
HCL_PARSE_TIMEOUT_SEC=0 .venv/checkov/bin/checkov --skip-download --quiet --compact -d examples
phase lints
export TESTBED_MOTO_SERVER="$PWD/.venv/bin/moto_server"
cargo build --workspace --all-targets --locked
phase build
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast -- --test-threads=4 2>&1 | tee "$log" || status=1
phase tests
# The action's image: built (the static release binary, then buildah), then run from its own
# root filesystem. test-image.sh reports in cargo's format, so its checks count below.
scripts/build-image.sh >/dev/null || echo "test.sh: the image did not build (test-image.sh reports it)" >&2
phase "image build"
scripts/test-image.sh 2>&1 | tee -a "$log" || status=1
phase "image tests"
# cargo prints one "test result:" line per test binary, the last often a doc-test run of 0
# tests; close with the totals over all of them.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
