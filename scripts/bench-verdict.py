#!/usr/bin/env python3
"""The side-by-side verdict benchmark's driver (run by scripts/bench-verdict.sh, which builds
the binaries, starts `testbed up` and finds the peer). Deploys the same new image to a fresh
service of the ECS simulator with the peer, aws-actions/amazon-ecs-deploy-task-definition's
committed dist/index.js under node (`wait-for-service-stability: true`, `wait-for-minutes: 1`),
and with ours (its real adaptive poll interval, `wait-for-minutes: 1`), alternating which goes
first each round, on two scenarios:

  healthy  HealthyRolling, desired 2: the time to a healthy verdict (exit 0);
  crash    CrashLoop, desired 2: the time to a failure verdict. Ours includes its rollback,
           completed (exit 4, `rolled-back=true`, the service on its old revision again); the
           peer waits out its minute and leaves the service crash-looping.

Each figure is process start -> exit, the median of ROUNDS. Prints the ratios and the targets:
healthy <= 0.25x the peer's, crash (rolled back) <= 0.15x.

Usage: bench-verdict.py BIN STATE_FILE [PEER_JS]   (ROUNDS=3); without PEER_JS ours only.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sim import IMAGE, CLUSTER, Testbed, run_action, run_step, verdict  # noqa: E402

BIN, STATE = os.path.abspath(sys.argv[1]), sys.argv[2]
PEER = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
ROUNDS = int(os.environ.get("ROUNDS", "3"))
tb = Testbed(STATE)
stamp = int(time.time())


def definition(family):
    """The peer deploys a whole definition file: the seeded one's shape with the new image."""
    return json.dumps({
        "family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": IMAGE, "essential": True,
                                  "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}],
    })


def peer(service):
    inputs = {"task_definition": "task-definition.json", "service": service, "cluster": CLUSTER,
              "wait_for_service_stability": "true", "wait_for_minutes": "1"}
    return run_step(["node", PEER], tb, inputs, files={"task-definition.json": definition(service)})


def ours(service):
    return run_action(BIN, tb, [service], wait_for_minutes="1")


def check(who, scenario, result, service):
    code, start, end, text, outputs = result
    if scenario == "healthy" and code != 0:
        sys.exit(f"{who} {scenario}: expected exit 0, got {code}\n{text}")
    if scenario == "crash" and code == 0:
        sys.exit(f"{who} {scenario}: expected a failure, got exit 0\n{text}")
    if who == "ours" and scenario == "crash":
        serving = tb.service(service)
        if code != 4 or outputs.get("rolled-back") != "true":
            sys.exit(f"ours crash: expected exit 4 and rolled-back=true, got {code} {outputs}\n{text}")
        print(f"  ours crash: rolled back; the simulator says: {json.dumps(serving)[:300]}", file=sys.stderr)
    return (end - start) / 1000.0


SCENARIOS = {"healthy": "HealthyRolling", "crash": "CrashLoop"}
runners = {"ours": ours}
if PEER:
    runners["peer"] = peer
times = {(who, sc): [] for who in runners for sc in SCENARIOS}
for r in range(1, ROUNDS + 1):
    order = ["peer", "ours"] if r % 2 else ["ours", "peer"]
    for sc, scenario in SCENARIOS.items():
        for who in [w for w in order if w in runners]:
            service = f"{sc}-{who}-{stamp}-{r}"
            tb.seed(service, scenario)
            seconds = check(who, sc, runners[who](service), service)
            times[(who, sc)].append(seconds)
            print(f"round {r} {sc:7s} {who}: {seconds:7.3f} s", file=sys.stderr)

print(f"verdict benchmark on the ECS simulator, desired 2, wait-for-minutes 1, {ROUNDS} rounds, medians")
targets = {"healthy": 0.25, "crash": 0.15}
for sc in SCENARIOS:
    mine = statistics.median(times[("ours", sc)])
    what = "healthy verdict" if sc == "healthy" else "crash verdict, ours incl. completed rollback"
    if not PEER:
        print(f"  {what:46s} ours {mine:7.3f} s  (peer skipped)")
        continue
    theirs = statistics.median(times[("peer", sc)])
    ratio = mine / theirs
    print(f"  {what:46s} ours {mine:7.3f} s  peer {theirs:7.3f} s  ratio {ratio:5.3f}x"
          f"  target <= {targets[sc]}x  {verdict(ratio <= targets[sc])}")
