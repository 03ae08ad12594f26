#!/usr/bin/env python3
"""The whole-path benchmark's driver (run by scripts/bench-deploy.sh, which builds the binaries,
starts `testbed up` and finds the peer). Two parts:

deploy    ROUNDS full deploys with the action as the runner runs it: identity (the test bed's
          OIDC issuer, moto's STS), push of an OCI layout of 3 x LAYER_MIB MiB layers (the same
          seeded bytes every round, to a fresh repository each round, so every byte is sent) to
          moto's ECR + docker-registry, rollout on the ECS simulator with the poll interval at 0,
          so a HealthyRolling service settles as fast as the action asks. Prints the medians of
          wall time (whole run and per stage, from the log groups' times) and peak RSS, and the
          calls each stage made: STS and ECR API calls from moto's request recorder (ours only,
          by User-Agent), registry requests from its access log, ECS/ELB/Logs calls from the
          simulator's call log.
identity  IDENTITY_ROUNDS identity-only runs of ours and of the peer,
          aws-actions/configure-aws-credentials' committed dist/index.js under node, alternating
          who goes first, on the same issuer and moto; prints the medians of wall time and peak
          RSS, the ratios ours/peer and the targets: wall <= 0.10x, RSS <= 0.15x.

Wall time is process start -> exit; peak RSS is GNU time's maximum resident set size.

Usage: bench-deploy.py BIN STATE_FILE [PEER_JS]   (ROUNDS=3 IDENTITY_ROUNDS=7 LAYER_MIB=50
       PARTS=deploy,identity); without PEER_JS the identity part measures ours only.
"""
import base64
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_sim import CLUSTER, REGION, Testbed, now_ms, runner_env, verdict  # noqa: E402

BIN, STATE = os.path.abspath(sys.argv[1]), sys.argv[2]
PEER = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
ROUNDS = int(os.environ.get("ROUNDS", "3"))
IDENTITY_ROUNDS = int(os.environ.get("IDENTITY_ROUNDS", "7"))
LAYER_MIB = int(os.environ.get("LAYER_MIB", "50"))
PARTS = os.environ.get("PARTS", "deploy,identity").split(",")
ROLE = "arn:aws:iam::123456789012:role/deploy"
SHA = "3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a"
STAGES = {"Authenticate to AWS": "identity", "Push the image to ECR": "push", "Roll out to ECS": "rollout"}
tb = Testbed(STATE)
MOTO = tb.env["TESTBED_MOTO_URL"]
stamp = int(time.time())
CREATED = []


def workdir(prefix):
    """A temporary directory, removed when the driver ends."""
    CREATED.append(tempfile.mkdtemp(prefix=prefix))
    return CREATED[-1]


def step_env(work, inputs, **more):
    """The runner's environment for a step of a push-triggered job with `id-token: write`."""
    env = runner_env(work, tb, inputs)
    env.update({
        "ACTIONS_ID_TOKEN_REQUEST_URL": tb.env["ACTIONS_ID_TOKEN_REQUEST_URL"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": tb.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        "GITHUB_SHA": SHA, "GITHUB_WORKFLOW": "deploy", "GITHUB_ACTION": "__run", "GITHUB_ACTOR": "octocat",
        "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push",
    })
    env.update(more)
    return env


def measure(argv, env, cwd):
    """Runs argv; returns (exit code, wall seconds, peak RSS in MiB, [(seconds since start, line)]).
    The peak RSS is GNU time's: a child forked from this Python process would count Python's
    own pages, which stay in its high-water mark across exec."""
    rss_file = os.path.join(cwd, "time.txt")
    start = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file, *argv], env=env, cwd=cwd,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in p.stdout]
    p.wait()
    wall = time.perf_counter() - start
    rss_kb = int(open(rss_file).read().split()[-1])
    return p.returncode, wall, rss_kb / 1024, lines


def stage_times(lines):
    """Seconds spent in each stage's log group."""
    times, open_group = {}, None
    for at, line in lines:
        if line.startswith("::group::"):
            open_group = (STAGES.get(line[len("::group::"):], line[len("::group::"):]), at)
        elif line.startswith("::endgroup::") and open_group:
            times[open_group[0]] = at - open_group[1]
            open_group = None
    return times


# --- what the deploy asked of AWS -------------------------------------------------------------

def moto(path):
    with urllib.request.urlopen(urllib.request.Request(MOTO + path, method="POST" if "download" not in path else "GET")) as r:
        return r.read().decode()


def moto_calls():
    """Our SDK's calls in moto's recording: (service, operation) -> count."""
    calls = collections.Counter()
    for line in moto("/moto-api/recorder/download-recording").splitlines():
        entry = json.loads(line)
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        agent = headers.get("user-agent", "")
        if "aws-sdk-rust" not in agent:
            continue  # the test bed's own calls (its ECR sync)
        service = next((t.split("/")[1] for t in agent.split() if t.startswith("api/")), "?")
        target = headers.get("x-amz-target")
        if target:
            op = target.rsplit(".", 1)[-1]
        else:
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode(errors="replace")
            op = dict(urllib.parse.parse_qsl(body)).get("Action", "?")
        calls[(service.upper(), op)] += 1
    return calls


def registry_requests(log, offset):
    """Our requests in the registry's access log after `offset`: 'METHOD kind' -> count."""
    calls = collections.Counter()
    with open(log, errors="replace") as f:
        f.seek(offset)
        for line in f:
            if '"oidc-ecs-deploy/' not in line or '] "' not in line:
                continue
            method, path = line.split('] "', 1)[1].split(" ")[:2]
            parts = path.split("?")[0].rstrip("/").split("/")
            kind = "/v2/" if len(parts) <= 2 else ("blob upload" if "uploads" in parts else parts[-2].rstrip("s"))
            calls[f"{method} {kind}"] += 1
    return calls


def deploy_round(layout, work, i):
    name = f"deploy-{stamp}-{i}"
    repo = f"bench/{name}"
    tb.seed(name, "HealthyRolling", desired=2, family=name, containerName="app",
            image=f"{tb.env['REGISTRY']}/{repo}:previous")
    inputs = {"role_to_assume": ROLE, "aws_region": REGION, "image_source": f"oci:{layout}",
              "repository": repo, "create_repository": "true", "registry_endpoint": tb.env["REGISTRY_URL"],
              "cluster": CLUSTER, "service": name}
    env = step_env(work, inputs, OIDC_ECS_DEPLOY_POLL_SECONDS="0")
    moto("/moto-api/recorder/reset-recording")
    moto("/moto-api/recorder/start-recording")
    log = tb.env["REGISTRY_LOG"]
    offset = os.path.getsize(log)
    began = now_ms()
    code, wall, rss, lines = measure([BIN, "action"], env, work)
    ended = now_ms()
    moto("/moto-api/recorder/stop-recording")
    if code != 0:
        sys.exit(f"deploy round {i}: exit {code}\n" + "\n".join(line for _, line in lines))
    time.sleep(0.2)  # the registry's access log is written after each answer
    calls = {
        "identity": {f"{s} {op}": n for (s, op), n in moto_calls().items() if s == "STS"},
        "push": {**{f"{s} {op}": n for (s, op), n in moto_calls().items() if s == "ECR"},
                 **{f"registry {k}": n for k, n in registry_requests(log, offset).items()}},
        "rollout": dict(collections.Counter(c["op"] for c in tb.calls(began, ended))),
    }
    return wall, rss, stage_times(lines), calls


def deploy_part():
    work = workdir("bench-deploy-")
    layout = os.path.join(work, "image")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "make-oci-layout.py"), layout,
                    "--layers", "3", "--mib", str(LAYER_MIB), "--seed", "1", "--ref", "bench"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["sync"], check=False)
    walls, rsss, stages, calls = [], [], collections.defaultdict(list), None
    for i in range(1, ROUNDS + 1):
        wall, rss, times, calls = deploy_round(layout, work, i)
        walls.append(wall)
        rsss.append(rss)
        for k, v in times.items():
            stages[k].append(v)
        print(f"deploy round {i}: {wall:.2f} s, {rss:.1f} MiB, "
              + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()), file=sys.stderr)
    print(f"deploy benchmark: identity, push of 3 x {LAYER_MIB} MiB to a fresh repository, rollout "
          f"(simulator settling at once); {ROUNDS} rounds, medians")
    per_stage = ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in stages.items())
    print(f"  wall       {statistics.median(walls):7.2f} s   ({per_stage})")
    print(f"  peak RSS   {statistics.median(rsss):7.1f} MiB")
    print("  calls (the last round)")
    for stage, counted in calls.items():
        total = sum(counted.values())
        listed = ", ".join(f"{k} {n}" for k, n in sorted(counted.items()))
        print(f"    {stage:<9} {total:3d}: {listed}")


# --- identity against the peer ----------------------------------------------------------------

def identity_run(who, work):
    inputs = {"role_to_assume": ROLE, "aws_region": REGION, "audience": "sts.amazonaws.com"}
    argv = [BIN, "action"] if who == "ours" else ["node", PEER]
    code, wall, rss, lines = measure(argv, step_env(work, inputs), work)
    if code != 0:
        sys.exit(f"identity, {who}: exit {code}\n" + "\n".join(line for _, line in lines))
    return wall, rss


def identity_part():
    work = workdir("bench-identity-")
    who = ["ours"] + (["peer"] if PEER else [])
    runs = {w: [] for w in who}
    for i in range(IDENTITY_ROUNDS):
        for w in (who if i % 2 == 0 else who[::-1]):
            runs[w].append(identity_run(w, work))
    med = {w: (statistics.median(r[0] for r in runs[w]), statistics.median(r[1] for r in runs[w])) for w in who}
    print(f"identity benchmark: OIDC token -> AssumeRoleWithWebIdentity -> outputs; {IDENTITY_ROUNDS} rounds, medians")
    if not PEER:
        print(f"  ours  wall {med['ours'][0]:.3f} s  peak RSS {med['ours'][1]:.1f} MiB  (peer skipped)")
        return
    wall, rss = med["ours"][0] / med["peer"][0], med["ours"][1] / med["peer"][1]
    print(f"  wall       ours {med['ours'][0]:7.3f} s    peer {med['peer'][0]:7.3f} s    ratio {wall:5.2f}x"
          f"  target <= 0.10x  {verdict(wall <= 0.10)}")
    print(f"  peak RSS   ours {med['ours'][1]:7.1f} MiB  peer {med['peer'][1]:7.1f} MiB  ratio {rss:5.2f}x"
          f"  target <= 0.15x  {verdict(rss <= 0.15)}")


if __name__ == "__main__":
    try:
        if "deploy" in PARTS:
            deploy_part()
        if "identity" in PARTS:
            identity_part()
    finally:  # the layout and the runs' files
        for d in CREATED:
            shutil.rmtree(d, ignore_errors=True)
