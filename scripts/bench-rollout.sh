#!/usr/bin/env bash
# The rollout benchmark (issue 4; not a test): the release binary, run as the runner runs the
# action, against `testbed up`'s ECS simulator, with the action's real adaptive poll interval
# (2 s growing by half each poll to 15 s; OIDC_ECS_DEPLOY_POLL_SECONDS is unset). Measures
#   (a) detection: from the poll answer that first shows a failure (`failureVisibleUnixMs`) to
#       the action's exit, for a revision that cannot pull its image, `rollback: false`; ROUNDS
#       rounds, the median, with the interval that was in force before that poll;
#   (b) the ECS API calls per minute while waiting: 10 services that never settle, one action,
#       `wait-for-minutes: 2` (two real minutes), from the simulator's call log.
# Prints the figures and the issue's targets with PASS/MISS:
#   detection within one poll interval plus one second; at most 12 DescribeServices a minute
#   for up to 10 services. The driver is scripts/bench-rollout.py.
#
# Usage: scripts/bench-rollout.sh        (ROUNDS=5 WAIT_MINUTES=2 SERVICES=10 to change)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="$TARGET/release/oidc-ecs-deploy"
TESTBED="$TARGET/release/testbed"

echo "== build (release profile from Cargo.toml; the action and the testbed)" >&2
cargo build --release --locked --workspace --bins >&2
[ -x .venv/bin/moto_server ] && command -v docker-registry >/dev/null || scripts/setup.sh >&2

WORK="$(mktemp -d -t bench-rollout-XXXXXX)"
STATE="$WORK/testbed.env"
TESTBED_PID=""
cleanup() {
  if [ -n "$TESTBED_PID" ]; then kill "$TESTBED_PID" 2>/dev/null || true; wait "$TESTBED_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$TESTBED" up --state "$STATE" 2>"$WORK/testbed.log" &
TESTBED_PID=$!
for _ in $(seq 1 120); do [ -s "$STATE" ] && break; sleep 0.5; done
[ -s "$STATE" ] || { cat "$WORK/testbed.log" >&2; echo "bench-rollout: the test bed did not start" >&2; exit 1; }
echo "== testbed up (pid $TESTBED_PID); ECS simulator at $(grep '^ECS_SIMULATOR_URL=' "$STATE" | cut -d= -f2-)" >&2

unset OIDC_ECS_DEPLOY_POLL_SECONDS
python3 scripts/bench-rollout.py "$BIN" "$STATE"
