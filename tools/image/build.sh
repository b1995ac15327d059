#!/usr/bin/env bash
# Build the connector image from the repo's Dockerfile on the local base image (no registry here).
# Usage: tools/image/build.sh [CONTEXT_DIR]   (default: the repo root; tag: $CONNECTOR_IMAGE)
# For $PLATFORM (default linux/amd64, as `make image`); the local base is built for this host, so another platform
# needs a base image of that platform first.
set -euo pipefail
# shellcheck source=tools/image/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CONTEXT="${1:-$REPO_ROOT}"
BASE="$(local_base_image)"
podman image exists "$BASE" || die "base image $BASE missing: run tools/image/base_image.sh"

log "building $CONNECTOR_IMAGE from $CONTEXT on $BASE"
# The Dockerfile pins BASE_IMAGE by digest, which a local image cannot match: pass the local one.
build() {
    podman build --platform "${PLATFORM:-linux/amd64}" --pull=never --layers --quiet --build-arg "BASE_IMAGE=$BASE" \
        --build-arg "CONNECTOR_VERSION=$CONNECTOR_VERSION" \
        -f "$CONTEXT/Dockerfile" "$@" "$CONTEXT" >/dev/null
}
# The builder stage gets a tag of its own, so that pruning the images earlier builds left behind
# keeps its cached layers (a rebuild with unchanged sources then takes about a second).
build --target builder -t "${CONNECTOR_IMAGE}-builder"
build -t "$CONNECTOR_IMAGE"
podman image prune --force >/dev/null
