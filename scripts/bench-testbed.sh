# Sourced by the rollout benchmarks (bench-rollout.sh, bench-verdict.sh), not run: builds the
# action and the test bed, starts `testbed up` and stops it on exit. Sets BIN, STATE, WORK.
# PROFILE=dev measures a debug build (the waits dominate; a cold release build takes minutes).
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
case "${PROFILE:-release}" in
  release) PROFILE_DIR=release; BUILD_FLAGS=(--release) ;;
  dev | debug) PROFILE_DIR=debug; BUILD_FLAGS=() ;;
  *) echo "PROFILE must be release or dev" >&2; exit 2 ;;
esac
BIN="$TARGET/$PROFILE_DIR/oidc-ecs-deploy"
TESTBED="$TARGET/$PROFILE_DIR/testbed"

echo "== build (${PROFILE:-release} profile; the action and the testbed)" >&2
cargo build "${BUILD_FLAGS[@]}" --locked --workspace --bins >&2
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
[ -s "$STATE" ] || { cat "$WORK/testbed.log" >&2; echo "the test bed did not start" >&2; exit 1; }
echo "== testbed up (pid $TESTBED_PID); ECS simulator at $(grep '^ECS_SIMULATOR_URL=' "$STATE" | cut -d= -f2-)" >&2
unset OIDC_ECS_DEPLOY_POLL_SECONDS
