#!/usr/bin/env bash
# The side-by-side verdict benchmark (not a test): ours and the peer,
# aws-actions/amazon-ecs-deploy-task-definition (its committed dist/index.js, run with node),
# deploying to the test bed's ECS simulator, alternating; prints each verdict time, the ratios
# and the targets (healthy <= 0.25x the peer's, crash loop incl. our completed rollback <=
# 0.15x). The driver is scripts/bench-verdict.py.
#
# The peer is never downloaded here (no internet): it is read from, in order,
#   PEER_JS                 a path to its dist/index.js;
#   target/peer/amazon-ecs-deploy-task-definition/dist/index.js   (a cache, gitignored);
#   PEER_GIT_DIR            a local clone of the peer (git dir): HEAD:dist/index.js is copied
#                           into the cache.
# Without any of them, or without node, the peer is skipped with a message and only our
# figures are printed.
#
# Usage: scripts/bench-verdict.sh        (ROUNDS=3 PROFILE=release)
set -euo pipefail
source "$(dirname "$0")/bench-testbed.sh"

find_peer aws-actions/amazon-ecs-deploy-task-definition
python3 scripts/bench-verdict.py "$BIN" "$STATE" "$PEER"
