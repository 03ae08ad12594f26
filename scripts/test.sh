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
cargo test --workspace --locked -- --test-threads=4
