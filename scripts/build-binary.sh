#!/usr/bin/env bash
# Builds the binary the action's image ships and prints its path: the release profile, glibc
# with crt-static (it runs in an empty root filesystem). build-image.sh packs it; the benchmarks
# measure it, so their figures are the shipped binary's and they need no second release build.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
# --target keeps RUSTFLAGS away from build scripts and proc macros, which must stay dynamic.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$target" --bin oidc-ecs-deploy >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$target/release/oidc-ecs-deploy"
