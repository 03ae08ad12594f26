#!/usr/bin/env bash
# The whole-path benchmark (not a test): full deploys through the release binary against the
# test bed (identity, push of 3 x 50 MiB, rollout on the ECS simulator settling at once), with
# wall time, peak RSS and the calls of each stage; then identity alone against the peer,
# aws-actions/configure-aws-credentials (its committed dist/index.js, run with node), with the
# ratios and the targets (wall <= 0.10x, peak RSS <= 0.15x). The driver is
# scripts/bench-deploy.py.
#
# The peer is never downloaded here (no internet): it is read from, in order,
#   PEER_JS                 a path to its dist/index.js;
#   target/peer/configure-aws-credentials/dist/index.js   (a cache, gitignored);
#   PEER_GIT_DIR            a local clone of the peer (git dir): HEAD:dist/index.js is copied
#                           into the cache.
# Without any of them, or without node, the peer is skipped with a message and only our
# figures are printed.
#
# Usage: scripts/bench-deploy.sh   (ROUNDS=3 IDENTITY_ROUNDS=7 LAYER_MIB=50 PARTS=deploy,identity
#                                   PROFILE=release)
set -euo pipefail
source "$(dirname "$0")/bench-testbed.sh"

[ -x /usr/bin/time ] || apt-get install -y time >&2 # GNU time measures the peak RSS
find_peer aws-actions/configure-aws-credentials
python3 scripts/bench-deploy.py "$BIN" "$STATE" "$PEER"
