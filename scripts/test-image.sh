#!/usr/bin/env bash
# Tests the action's image as published: unpacks the OCI archive that scripts/build-image.sh
# wrote, checks what it holds, and runs its binary from the image's root filesystem alone
# (chroot: no library, no file, nothing from this machine), so a missing library or CA bundle
# fails here and not on a user's runner.
#
# The CA bundle is proved to be found the way a runner would need it: moto server answers STS
# over TLS with a certificate from a throwaway CA. The image as built refuses that certificate
# (the binary verifies against its roots); the same root filesystem with the throwaway CA
# appended to /etc/ssl/certs/ca-certificates.crt authenticates, and without the file it cannot
# start a TLS client. So the binary loads its roots from that file, and the image's file holds
# Debian's public roots.
#
# Usage: scripts/test-image.sh [ARCHIVE]   (default target/image/oidc-ecs-deploy.oci.tar)
# Needs root (chroot), openssl, python3, target/debug/testbed and .venv/bin/moto_server.
# Ends with a line in cargo's format ("test result: ok. N passed; M failed; 0 ignored") that
# scripts/test.sh counts; exits 1 when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

archive=${1:-target/image/oidc-ecs-deploy.oci.tar}
limit_bytes=15000000
work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
# check NAME COMMAND...: runs the command (in this shell, so what it sets stays set); a non-zero
# status fails NAME. What the command printed is shown only on failure.
check() {
  local name=$1
  shift
  if "$@" >"$work/check.out" 2>&1; then
    echo "test image::$name ... ok"
    passed=$((passed + 1))
  else
    echo "test image::$name ... FAILED"
    sed 's/^/    /' "$work/check.out"
    failed=$((failed + 1))
    return 1
  fi
}
finish() {
  local verdict=ok
  [ "$failed" -eq 0 ] || verdict=FAILED
  echo "test result: $verdict. $passed passed; $failed failed; 0 ignored"
  [ "$failed" -eq 0 ]
  exit
}

if [ ! -s "$archive" ]; then
  echo "test-image: $archive is missing: run scripts/build-image.sh" >&2
  failed=1
  finish
fi

# --- what the archive holds ------------------------------------------------------------------
mkdir -p "$work/oci" "$work/rootfs"
tar -xf "$archive" -C "$work/oci"
# Prints the manifest's facts as KEY=VALUE lines and extracts the single layer into rootfs.
python3 - "$work/oci" "$work/rootfs" >"$work/facts" <<'EOF'
import json, sys, tarfile
oci, rootfs = sys.argv[1], sys.argv[2]
blob = lambda d: f"{oci}/blobs/{d.replace(':', '/')}"
index = json.load(open(f"{oci}/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
print("layers=%d" % len(manifest["layers"]))
print("platform=%s/%s" % (config["os"], config["architecture"]))
print("entrypoint=%s" % json.dumps(config["config"].get("Entrypoint")))
print("cmd=%s" % json.dumps(config["config"].get("Cmd")))
for layer in manifest["layers"]:
    with tarfile.open(blob(layer["digest"])) as t:
        for m in t.getmembers():
            print("entry=%s%s" % (m.name.rstrip("/"), "/" if m.isdir() else ""))
        t.extractall(rootfs)
EOF
fact() { sed -n "s/^$1=//p" "$work/facts"; }

check from_scratch_one_layer test "$(fact layers)" = 1
check platform_linux_amd64 test "$(fact platform)" = linux/amd64
check entrypoint_is_the_binary test "$(fact entrypoint)" = '["/oidc-ecs-deploy"]'
# Nothing but the binary, the CA bundle and /tmp (with their parent directories).
expected=$'etc/\netc/ssl/\netc/ssl/certs/\netc/ssl/certs/ca-certificates.crt\noidc-ecs-deploy\ntmp/'
check holds_only_binary_bundle_and_tmp test "$(fact entry | sort)" = "$expected"
size=$(stat -c %s "$archive")
echo "test-image: archive $size bytes (limit $limit_bytes)"
check under_15_mb test "$size" -lt "$limit_bytes"
# Debian's bundle: well over a hundred public roots.
roots=$(grep -c 'BEGIN CERTIFICATE' "$work/rootfs/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || echo 0)
check ca_bundle_holds_public_roots test "$roots" -gt 100

# --- the binary alone in its root filesystem --------------------------------------------------
# What every container runtime adds to an image's root filesystem: /dev/random and /dev/urandom.
# rand's thread RNG (retry jitter) reads them in a statically linked binary, whose getrandom crate
# cannot find glibc's getrandom() by dlsym and falls back to the files.
mkdir -p "$work/rootfs/dev"
mknod -m 444 "$work/rootfs/dev/random" c 1 8
mknod -m 444 "$work/rootfs/dev/urandom" c 1 9
# An empty environment: nothing from this machine leaks in (no PATH, no HOME, no SSL_CERT_FILE),
# so chroot is named by its path.
chroot=$(command -v chroot)
version_matches() {
  local want got
  want="oidc-ecs-deploy $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
  got=$(env -i "$chroot" "$work/rootfs" /oidc-ecs-deploy --version) || return 1
  [ "$got" = "$want" ] || { echo "got '$got', want '$want'"; return 1; }
}
help_lists_commands() {
  local help
  help=$(env -i "$chroot" "$work/rootfs" /oidc-ecs-deploy --help) || return 1
  for c in action deploy check-trust trust-policy push; do
    grep -q "^  $c " <<<"$help" || { echo "--help does not list $c:"; echo "$help"; return 1; }
  done
}
offline_command_works() {
  local policy
  policy=$(env -i "$chroot" "$work/rootfs" /oidc-ecs-deploy trust-policy --account 111122223333 \
    --repo octo-org/payments --branch main) || return 1
  grep -q '"repo:octo-org/payments:ref:refs/heads/main"' <<<"$policy" || { echo "$policy"; return 1; }
}
check runs_alone_version version_matches
check runs_alone_help help_lists_commands
check runs_alone_trust_policy offline_command_works

# --- TLS roots come from the image's CA bundle ------------------------------------------------
tls_setup() {
  cd "$work" || return 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=oidc-ecs-deploy image test CA" -keyout ca.key -out ca.pem 2>/dev/null || return 1
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null || return 1
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile ext -out server.pem 2>/dev/null || return 1
  cd - >/dev/null
}
moto_up() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/moto_server -H 127.0.0.1 -p "$port" -c "$work/server.pem" -k "$work/server.key" \
    >"$work/moto.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$work/moto.log"
  return 1
}
# deploy ROOT: authenticate against moto over TLS from ROOT, with a token file inside ROOT.
deploy_from() {
  local root=$1
  target/debug/testbed mint >"$root/tmp/token.jwt" || return 1
  env -i AWS_ENDPOINT_URL="https://127.0.0.1:$port" AWS_EC2_METADATA_DISABLED=true \
    "$chroot" "$root" /oidc-ecs-deploy deploy --aws-region us-east-1 \
    --role-to-assume arn:aws:iam::123456789012:role/image-test \
    --web-identity-token-file /tmp/token.jwt
}
refuses_unknown_ca() {
  local out
  if out=$(deploy_from "$work/rootfs" 2>&1); then
    echo "authenticated against a server whose CA is not in the image's bundle:"; echo "$out"
    return 1
  fi
  grep -qi 'certificate' <<<"$out" || { echo "failed, but not on the certificate:"; echo "$out"; return 1; }
}
trusts_ca_in_bundle() {
  local out
  cp -a "$work/rootfs" "$work/rootfs-ca"
  cat "$work/ca.pem" >>"$work/rootfs-ca/etc/ssl/certs/ca-certificates.crt"
  out=$(deploy_from "$work/rootfs-ca" 2>&1) || { echo "$out"; return 1; }
  grep -qx 'aws-account-id=123456789012' <<<"$out" || { echo "$out"; return 1; }
}
# The control: the same root filesystem without its bundle cannot make a TLS client at all
# (it reports no root CA certificates and refuses every server), so the checks above depend on
# that file.
fails_without_bundle() {
  local out
  cp -a "$work/rootfs" "$work/rootfs-none"
  rm "$work/rootfs-none/etc/ssl/certs/ca-certificates.crt"
  if out=$(deploy_from "$work/rootfs-none" 2>&1); then
    echo "authenticated with no CA bundle at all:"; echo "$out"
    return 1
  fi
  grep -qiE 'no (valid |native )?root (CA )?certificates' <<<"$out" || { echo "failed, but not for want of roots:"; echo "$out"; return 1; }
}
tls_server_up() { tls_setup && moto_up; }
if check tls_server_up tls_server_up; then
  check tls_refuses_ca_not_in_bundle refuses_unknown_ca
  check tls_trusts_ca_in_bundle trusts_ca_in_bundle
  check tls_needs_the_bundle fails_without_bundle
fi
finish
