"""What the rollout benchmarks share (scripts/bench-rollout.py, scripts/bench-verdict.py): the
test bed's ECS simulator (seeding, its call log) and running the action the way the runner does
(env + INPUT_*), with the action's real adaptive poll interval."""
import json
import os
import subprocess
import tempfile
import time
import urllib.request

CLUSTER = "bench"
REGION = "us-east-1"
ACCOUNT = "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app@sha256:" + "ab" * 32
# Fake keys the local servers accept (moto, the simulator): never real credentials.
KEYS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


class Testbed:
    """`testbed up`'s state file: the endpoints of moto and the simulator."""

    def __init__(self, state_file):
        self.env = dict(line.rstrip("\n").split("=", 1) for line in open(state_file) if "=" in line)
        self.sim = self.env["ECS_SIMULATOR_URL"]

    def http(self, path, body=None):
        req = urllib.request.Request(self.sim + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req) as r:
            text = r.read()
        return json.loads(text) if text else None

    def seed(self, service, scenario, desired=2, **more):
        return self.http("/_sim/seed", {"cluster": CLUSTER, "service": service, "desiredCount": desired,
                                        "scenario": scenario, **more})

    def calls(self, since_ms, until_ms):
        return [c for c in self.http("/_sim/calls/log") if since_ms <= c["unixMs"] <= until_ms]

    def service(self, name):
        return self.http(f"/_sim/service/{CLUSTER}/{name}")

    def aws_env(self):
        """AWS settings for a process that talks to the test bed only."""
        env = dict(KEYS, AWS_ENDPOINT_URL=self.env["AWS_ENDPOINT_URL"], AWS_EC2_METADATA_DISABLED="true",
                   AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
        for k in ("AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
                  "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"):
            env[k] = self.env[k]
        return env


def now_ms():
    return time.time() * 1000.0


def runner_env(work, testbed, inputs):
    """The environment a GitHub runner gives an action step, with `inputs` as INPUT_*."""
    files = {k: os.path.join(work, k) for k in ("output", "summary", "env")}
    for f in files.values():
        open(f, "w").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "AWS_", "ACTIONS_", "GITHUB_"))}
    env.pop("OIDC_ECS_DEPLOY_POLL_SECONDS", None)  # the real, adaptive interval
    env.update({
        "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": files["output"], "GITHUB_STEP_SUMMARY": files["summary"],
        "GITHUB_ENV": files["env"], "GITHUB_REPOSITORY": "octo-org/payments", "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1", "GITHUB_WORKSPACE": work, "RUNNER_TEMP": work,
    })
    env.update(testbed.aws_env())
    for k, v in inputs.items():
        env["INPUT_" + k.replace("_", "-").upper()] = v
    return env


def run_step(argv, testbed, inputs, files=None):
    """Runs one action step as the runner does, with `files` (name -> text) written into its
    workspace first; returns (exit code, start ms, exit ms, stdout + stderr, outputs)."""
    work = tempfile.mkdtemp(prefix="bench-step-")
    for name, text in (files or {}).items():
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    env = runner_env(work, testbed, inputs)
    start = now_ms()
    p = subprocess.run(argv, env=env, cwd=work, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = now_ms()
    outputs = {}
    text = open(os.path.join(work, "output")).read()
    lines = iter(text.splitlines())
    for line in lines:  # NAME=value and NAME<<DELIM ... DELIM
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            for v in lines:
                if v == delim:
                    break
                value.append(v)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return p.returncode, start, end, p.stdout + p.stderr, outputs


def run_action(binary, testbed, services, **inputs):
    """Our action, deploying IMAGE to the `app` container of `services`."""
    base = {"aws_region": REGION, "cluster": CLUSTER, "service": ",".join(services), "containers": f"app={IMAGE}"}
    return run_step([binary, "action"], testbed, {**base, **inputs})


def verdict(ok):
    return "PASS" if ok else "MISS"
