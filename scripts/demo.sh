#!/usr/bin/env bash
# The README's demo: installs what it needs, starts the local stand-ins for GitHub and AWS (moto
# server, docker-registry, a fake GitHub OIDC issuer), and runs the action the way the GitHub
# runner runs it: once for a job the role admits, and once for a job it refuses, to show the
# diagnosis. Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --bins --locked -q
bin=target/debug/oidc-ecs-deploy
work=$(mktemp -d)
state="$work/testbed.env"
target/debug/testbed up --state "$state" --claims '{"repository":"octo-org/payments","ref":"refs/heads/main"}' 2>"$work/testbed.log" &
testbed_pid=$!
trap 'kill $testbed_pid 2>/dev/null; wait $testbed_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do [ -s "$state" ] && break; sleep 0.5; done
[ -s "$state" ] || { cat "$work/testbed.log" >&2; echo "demo: the test bed did not start" >&2; exit 1; }
set -a; . "$state"; set +a

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# What the runner gives a container action: the env contract, INPUT_* from `with:`, and files.
run_action() {
  : >"$work/output"; : >"$work/summary"; : >"$work/env"
  env GITHUB_ACTIONS=true GITHUB_OUTPUT="$work/output" GITHUB_STEP_SUMMARY="$work/summary" GITHUB_ENV="$work/env" \
    GITHUB_REPOSITORY=octo-org/payments GITHUB_RUN_ID=4242 GITHUB_RUN_ATTEMPT=1 \
    ACTIONS_ID_TOKEN_REQUEST_URL="$ACTIONS_ID_TOKEN_REQUEST_URL" ACTIONS_ID_TOKEN_REQUEST_TOKEN="$ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
    AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" \
    "INPUT_AWS-REGION=us-east-1" "INPUT_ROLE-TO-ASSUME=arn:aws:iam::123456789012:role/deploy-payments" \
    "INPUT_TRUST-POLICY=$work/policy.json" "$@" "$bin" action
}

say "1. a least-privilege trust policy for octo-org/payments, branch main"
"$bin" trust-policy --account 123456789012 --repo octo-org/payments --branch main | tee "$work/policy.json"

say "2. the job on main assumes the role (action mode, against moto's STS)"
run_action | grep -v '^::add-mask::' || true
echo "--- GITHUB_OUTPUT"; cat "$work/output"
echo "--- GITHUB_STEP_SUMMARY"; cat "$work/summary"

say "3. the same job run in the environment \"production\": refused before STS, with the fix (exit 3)"
target/debug/testbed mint --claims '{"repository":"octo-org/payments","environment":"production"}' >"$work/token"
set +e
run_action "INPUT_WEB-IDENTITY-TOKEN-FILE=$work/token" | grep -v '^::add-mask::'
code=${PIPESTATUS[0]}
set -e
echo "--- exit code $code"
[ "$code" = 3 ] || { echo "demo: expected exit 3" >&2; exit 1; }

say "4. the job on main pushes its image (an OCI layout) to ECR under the commit SHA"
scripts/make-oci-layout.py "$work/image" --layers 2 --mib 4 --ref v1 >/dev/null
sha=3f1e2d4c5b6a798812f0e1d2c3b4a5968778695a
push_inputs=("GITHUB_SHA=$sha" "INPUT_IMAGE-SOURCE=oci:$work/image" "INPUT_REPOSITORY=payments/api"
  "INPUT_CREATE-REPOSITORY=true" "INPUT_REGISTRY-ENDPOINT=$REGISTRY_URL")
run_action "${push_inputs[@]}" | grep -v '^::add-mask::' || true
echo "--- GITHUB_OUTPUT"; grep -v '^ghadelimiter_' "$work/output" | paste - - | sed 's/<<.*\t/ = /'

say "5. a re-run of the same job: the tag already names this image, nothing is uploaded"
run_action "${push_inputs[@]}" | grep -v '^::add-mask::' || true

say "6. another build under the same commit SHA: the immutable tag is refused, nothing uploaded (exit 3)"
scripts/make-oci-layout.py "$work/image" --layers 2 --mib 4 --ref v1 >/dev/null
set +e
run_action "${push_inputs[@]}" | grep -v '^::add-mask::'
code=${PIPESTATUS[0]}
set -e
echo "--- exit code $code"
[ "$code" = 3 ] || { echo "demo: expected exit 3" >&2; exit 1; }

post() { python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"content-type": "application/json"})).read()' "$@"; }
# The ECS simulator's clock moves 15 s per poll; polling it every second keeps the demo short.
export OIDC_ECS_DEPLOY_POLL_SECONDS=1
post "$ECS_SIMULATOR_URL/_sim/seed" "{\"cluster\": \"prod\", \"service\": \"payments-api\", \"family\": \"payments\",
  \"containerName\": \"api\", \"image\": \"$REGISTRY/payments/api:previous\", \"desiredCount\": 2}"
rollout_inputs=("INPUT_CLUSTER=prod" "INPUT_SERVICE=payments-api")

say "7. push and roll out to ECS (the simulator): register once, update, watch until healthy"
sha=8a1b2c3d4e5f60718293a4b5c6d7e8f901234567
scripts/make-oci-layout.py "$work/image" --layers 2 --mib 4 --ref v2 >/dev/null
push_inputs=("GITHUB_SHA=$sha" "INPUT_IMAGE-SOURCE=oci:$work/image" "INPUT_REPOSITORY=payments/api"
  "INPUT_REGISTRY-ENDPOINT=$REGISTRY_URL")
run_action "${push_inputs[@]}" "${rollout_inputs[@]}" | grep -v '^::add-mask::' || true
echo "--- GITHUB_OUTPUT"; grep -v '^ghadelimiter_' "$work/output" | paste - - | sed 's/<<.*\t/ = /'

say "8. the next commit's image crash-loops: the rollout fails, and is rolled back (exit 4)"
post "$ECS_SIMULATOR_URL/_sim/scenario" '{"cluster": "prod", "service": "payments-api", "scenario": "CrashLoop"}'
sha=9b2c3d4e5f60718293a4b5c6d7e8f90123456789
scripts/make-oci-layout.py "$work/image" --layers 2 --mib 4 --ref v3 >/dev/null
push_inputs[0]="GITHUB_SHA=$sha"
set +e
run_action "${push_inputs[@]}" "${rollout_inputs[@]}" | grep -v '^::add-mask::'
code=${PIPESTATUS[0]}
set -e
echo "--- exit code $code"
[ "$code" = 4 ] || { echo "demo: expected exit 4" >&2; exit 1; }

say "demo complete"
