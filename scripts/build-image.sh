#!/usr/bin/env bash
# Builds the action's image here, with no Docker daemon and no base image to pull:
#   1. the static release binary (glibc with crt-static: it runs in an empty root filesystem),
#   2. a build context with that binary and Debian's CA bundle,
#   3. the image from the top-level Dockerfile (FROM scratch) with buildah,
# and writes it as an OCI archive: target/image/oidc-ecs-deploy.oci.tar (linux/amd64).
# Prints the archive's path on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-gnu
out=target/image
archive="$out/oidc-ecs-deploy.oci.tar"
rm -f "$archive" # a failed build must not leave the last one to be tested
command -v buildah >/dev/null || { echo "build-image: buildah is missing (scripts/setup.sh installs it)" >&2; exit 1; }
bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$bundle" ] || { echo "build-image: $bundle is missing (Debian package ca-certificates)" >&2; exit 1; }

echo "build-image: static release binary for $target" >&2
binary="$(scripts/build-binary.sh)"

context="$out/context"
rm -rf "$context" && mkdir -p "$context/bin/amd64" "$context/tmp"
cp "$binary" "$context/bin/amd64/oidc-ecs-deploy"
cp "$bundle" "$context/ca-certificates.crt"

# A private store under target/: no state shared with other builds on this machine, and vfs
# needs no kernel overlay support.
store="$out/store"
rm -rf "$store"
buildah_() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
created=$(git log -1 --format=%ct 2>/dev/null || echo 0)
echo "build-image: buildah bud (FROM scratch)" >&2
buildah_ bud --isolation chroot --quiet --platform linux/amd64 --build-arg TARGETARCH=amd64 \
  --timestamp "$created" -f Dockerfile -t localhost/oidc-ecs-deploy:build "$context" >&2
rm -f "$archive"
buildah_ push --quiet localhost/oidc-ecs-deploy:build "oci-archive:$archive:oidc-ecs-deploy:build" >&2
rm -rf "$store" "$context"
echo "build-image: $archive ($(stat -c %s "$archive") bytes)" >&2
echo "$archive"
