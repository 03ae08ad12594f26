# The action's image: one statically linked binary and a CA bundle, nothing else. No shell, no
# package manager, nothing to patch; `docker run` starts it in milliseconds.
#
# The binary is built outside (scripts/build-image.sh here, .github/workflows/release.yml on a
# tag), as release pipelines do: compiling Rust inside the build would cost minutes per
# architecture and need a base image. The build context holds:
#   bin/<arch>/oidc-ecs-deploy      static binary for each architecture (TARGETARCH: amd64, arm64)
#   ca-certificates.crt             the CA bundle (Debian/Ubuntu's ca-certificates)
#   tmp/                            an empty directory: /tmp for docker-daemon: sources' spool
FROM scratch
ARG TARGETARCH=amd64
# rustls finds its roots at Debian's path (the first place openssl-probe looks).
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY tmp/ /tmp/
COPY --chmod=0755 bin/${TARGETARCH}/oidc-ecs-deploy /oidc-ecs-deploy
# No USER: GitHub runs container actions as root so the binary can write the runner's
# GITHUB_OUTPUT/GITHUB_STEP_SUMMARY files, which belong to the runner's user on the host.
ENTRYPOINT ["/oidc-ecs-deploy"]
