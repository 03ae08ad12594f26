# Sourced by the benchmarks that need the test bed (bench-rollout.sh, bench-verdict.sh,
# bench-deploy.sh), not run: builds the action (PROFILE=release, the default: the static release
# binary the image ships, scripts/build-binary.sh; PROFILE=dev: a debug build) and the test bed
# (always the dev profile: it is not what is measured), starts `testbed up` and stops it on
# exit. Sets BIN, STATE, WORK, TARGET.
# Moto's request recorder writes to $WORK/moto-recording.jsonl once started through its API.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
echo "== build (the action: ${PROFILE:-release}; the testbed: dev)" >&2
case "${PROFILE:-release}" in
  release) BIN="${BIN:-$(scripts/build-binary.sh)}" ;; # the binary the image ships (or BIN=PATH)
  dev | debug) cargo build --locked --bin oidc-ecs-deploy >&2; BIN="$TARGET/debug/oidc-ecs-deploy" ;;
  *) echo "PROFILE must be release or dev" >&2; exit 2 ;;
esac
TESTBED="$TARGET/debug/testbed"
cargo build --locked -p testbed --bin testbed >&2
[ -x .venv/bin/moto_server ] && command -v docker-registry >/dev/null || scripts/setup.sh >&2

WORK="$(mktemp -d -t bench-rollout-XXXXXX)"
STATE="$WORK/testbed.env"
TESTBED_PID=""
cleanup() {
  if [ -n "$TESTBED_PID" ]; then kill "$TESTBED_PID" 2>/dev/null || true; wait "$TESTBED_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

MOTO_RECORDER_FILEPATH="$WORK/moto-recording.jsonl" "$TESTBED" up --state "$STATE" 2>"$WORK/testbed.log" &
TESTBED_PID=$!
for _ in $(seq 1 120); do [ -s "$STATE" ] && break; sleep 0.5; done
[ -s "$STATE" ] || { cat "$WORK/testbed.log" >&2; echo "the test bed did not start" >&2; exit 1; }
echo "== testbed up (pid $TESTBED_PID); ECS simulator at $(grep '^ECS_SIMULATOR_URL=' "$STATE" | cut -d= -f2-)" >&2
unset OIDC_ECS_DEPLOY_POLL_SECONDS

# find_peer OWNER/NAME: sets PEER to the peer action's committed dist/index.js, never downloaded
# (no internet here): PEER_JS, else the cache target/peer/NAME/dist/index.js (gitignored), else
# HEAD:dist/index.js of PEER_GIT_DIR (a local clone, git dir) copied into the cache. Without any
# of them, or without node, PEER is empty and a message says the peer is skipped.
find_peer() {
  local cache="$TARGET/peer/${1#*/}/dist/index.js"
  PEER="${PEER_JS:-}"
  if [ -z "$PEER" ] && [ ! -s "$cache" ] && [ -n "${PEER_GIT_DIR:-}" ]; then
    mkdir -p "$(dirname "$cache")"
    git --git-dir "$PEER_GIT_DIR" show HEAD:dist/index.js >"$cache.tmp" && mv "$cache.tmp" "$cache"
  fi
  [ -z "$PEER" ] && [ -s "$cache" ] && PEER="$cache"
  if [ -z "$PEER" ]; then
    echo "the peer is skipped: no PEER_JS, no $cache and no PEER_GIT_DIR (a local clone of $1); this script never downloads it" >&2
  elif ! command -v node >/dev/null; then
    echo "the peer is skipped: node is not installed (Debian package nodejs)" >&2
    PEER=""
  fi
}
