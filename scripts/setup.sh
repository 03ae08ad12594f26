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
# Node.js runs prism, the mock of GitHub's REST API built from GitHub's API description.
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
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
