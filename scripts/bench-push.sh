#!/usr/bin/env bash
# The push benchmark (issue 3; not a test): our `oidc-ecs-deploy push` against
# `skopeo copy --preserve-digests`, both pushing the same OCI layout (3 layers of 50 MiB random
# bytes) to one local docker-registry (anonymous, loopback), with fresh repository names and a
# freshly generated layout every round, so a "cold" push really sends every blob (skopeo keeps a
# blob-info cache and mounts blobs it pushed before from other repositories of the registry;
# new random layers leave it nothing to mount). Measures, 5 rounds each, interleaved:
#   cold push      ours vs skopeo (fresh repositories)
#   re-push        ours vs skopeo (the same image again, to the repository that already has it;
#                  REPUSHES times a round)
# then our peak RSS (GNU time -v) pushing a 1 GiB single-layer image.
# Prints the medians, the ratios ours/skopeo, and the issue's targets with PASS/MISS:
#   cold <= 0.6x, re-push <= 0.4x, peak RSS < 40 MiB.
#
# Usage: scripts/bench-push.sh            (ROUNDS=5 REPUSHES=3 LAYER_MIB=50 BIG_MIB=1024 to change sizes;
#                                          BIN=PATH measures that binary instead of building)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-5}"
# A re-push takes tens of milliseconds, so one sample is mostly noise: each round times it this
# many times (alternating), and the median is over all of them.
REPUSHES="${REPUSHES:-3}"
LAYER_MIB="${LAYER_MIB:-50}"
BIG_MIB="${BIG_MIB:-1024}"

echo "== build (the binary the image ships: release, static)" >&2
BIN="${BIN:-$(scripts/build-binary.sh)}"

need=()
command -v skopeo >/dev/null || need+=(skopeo)
[ -x /usr/bin/time ] || need+=(time)
command -v docker-registry >/dev/null || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  echo "== install ${need[*]}" >&2
  apt-get install -y "${need[@]}" >&2
fi
REGISTRY_EXE="$(command -v docker-registry || echo /usr/bin/docker-registry)"

WORK="$(mktemp -d -t bench-push-XXXXXX)"
REGISTRY_PID=""
cleanup() {
  if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the registry: Debian's docker-registry, anonymous, on a free loopback port -------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry-data
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$PORT
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
EOF
"$REGISTRY_EXE" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null || { cat "$WORK/registry.log" >&2; echo "registry did not start" >&2; exit 1; }
echo "== docker-registry on 127.0.0.1:$PORT (pid $REGISTRY_PID)" >&2

# --- the images: OCI layouts of random layers, written and hashed in 8 MiB steps --------------
make_layout() { # DIR MIB...
  python3 - "$@" <<'EOF'
import hashlib, json, os, sys
out, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return d
layers = []
for mib in sizes:
    h, tmp = hashlib.sha256(), os.path.join(blobs, "tmp")
    with open(tmp, "wb") as f:
        for _ in range(mib // 8 + (mib % 8 > 0)):
            chunk = os.urandom(min(8, mib) * 1024 * 1024)
            h.update(chunk); f.write(chunk)
            mib -= 8
    size = os.path.getsize(tmp)
    os.rename(tmp, os.path.join(blobs, h.hexdigest()))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h.hexdigest(), "size": size})
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + put(config), "size": len(config)},
    "layers": layers}).encode()
md = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:" + md, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]},
    open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
EOF
}

POLICY="$WORK/policy.json"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$POLICY"

ours() { # LAYOUT REPO
  RUST_LOG=warn "$BIN" push --source "oci:$1:bench" --registry "http://127.0.0.1:$PORT" \
    --repository "$2" --tag bench >>"$WORK/ours.log" 2>&1
}
skopeo_push() { # LAYOUT REPO
  skopeo --policy "$POLICY" copy --quiet --preserve-digests --dest-tls-verify=false \
    "oci:$1:bench" "docker://127.0.0.1:$PORT/$2:bench" >>"$WORK/skopeo.log" 2>&1
}
timed() { # seconds taken by "$@"; a failed push stops the benchmark (a failure is fast, not a figure)
  local t0 t1
  t0=$(date +%s.%N)
  if ! "$@"; then
    echo "benchmark push failed: $*" >&2
    tail -n 20 "$WORK/ours.log" "$WORK/skopeo.log" >&2
    return 1
  fi
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}

declare -a OURS_COLD SKOPEO_COLD OURS_RE SKOPEO_RE
echo "== $ROUNDS rounds, each with a new OCI layout of 3 x $LAYER_MIB MiB random layers" >&2
for i in $(seq 1 "$ROUNDS"); do
  id="$(date +%s%N)"
  layout="$WORK/round-$i"
  make_layout "$layout" "$LAYER_MIB" "$LAYER_MIB" "$LAYER_MIB"
  sync
  t="$(timed ours "$layout" "ours-$id")" || exit 1; OURS_COLD+=("$t")
  t="$(timed skopeo_push "$layout" "skopeo-$id")" || exit 1; SKOPEO_COLD+=("$t")
  for _ in $(seq 1 "$REPUSHES"); do
    t="$(timed ours "$layout" "ours-$id")" || exit 1; OURS_RE+=("$t")
    t="$(timed skopeo_push "$layout" "skopeo-$id")" || exit 1; SKOPEO_RE+=("$t")
  done
  rm -rf "$layout"
  echo "round $i: cold ours ${OURS_COLD[-1]} s, skopeo ${SKOPEO_COLD[-1]} s; re-push ours ${OURS_RE[-1]} s, skopeo ${SKOPEO_RE[-1]} s" >&2
done

echo "== peak RSS: our push of a $BIG_MIB MiB layer" >&2
make_layout "$WORK/big" "$BIG_MIB"
RUST_LOG=warn /usr/bin/time -v -o "$WORK/time.txt" "$BIN" push --source "oci:$WORK/big:bench" \
  --registry "http://127.0.0.1:$PORT" --repository "big-$(date +%s%N)" --tag bench >>"$WORK/ours.log" 2>&1
RSS_KB="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")"
BIG_SECS="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")"

python3 - "${OURS_COLD[*]}" "${SKOPEO_COLD[*]}" "${OURS_RE[*]}" "${SKOPEO_RE[*]}" "$RSS_KB" "$BIG_SECS" "$ROUNDS" "$LAYER_MIB" "$BIG_MIB" <<'EOF'
import statistics, sys
oc, sc, orp, srp = ([float(x) for x in a.split()] for a in sys.argv[1:5])
rss_kb, big_secs, rounds, layer, big = int(sys.argv[5]), sys.argv[6], sys.argv[7], sys.argv[8], sys.argv[9]
def verdict(ok): return "PASS" if ok else "MISS"
m = {k: statistics.median(v) for k, v in [("oc", oc), ("sc", sc), ("or", orp), ("sr", srp)]}
cold, re = m["oc"] / m["sc"], m["or"] / m["sr"]
rss = rss_kb / 1024
print(f"push benchmark: 3 x {layer} MiB random layers, {rounds} rounds ({len(orp)} re-pushes each), medians (seconds)")
print(f"  cold push   ours {m['oc']:7.3f}   skopeo {m['sc']:7.3f}   ratio {cold:5.2f}x  target <= 0.60x  {verdict(cold <= 0.6)}")
print(f"  re-push     ours {m['or']:7.3f}   skopeo {m['sr']:7.3f}   ratio {re:5.2f}x  target <= 0.40x  {verdict(re <= 0.4)}")
print(f"  peak RSS    ours {rss:7.1f} MiB pushing a {big} MiB layer (in {big_secs})  target < 40 MiB  {verdict(rss < 40)}")
EOF
