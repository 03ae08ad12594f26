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
#   detection within one poll interval plus one second; at most 12 DescribeServices and at
#   most 60 ECS/ELB calls in any minute for 10 services. The driver is scripts/bench-rollout.py.
#
# Usage: scripts/bench-rollout.sh        (ROUNDS=5 WAIT_MINUTES=2 SERVICES=10 PROFILE=release)
set -euo pipefail
source "$(dirname "$0")/bench-testbed.sh"
python3 scripts/bench-rollout.py "$BIN" "$STATE"
