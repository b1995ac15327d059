# shellcheck shell=bash
# Shared settings for the image scripts; source it, do not run it.
# Everything podman stores (images, layers, its database) lives under .image-cache/ in the repo,
# configured by files written there, so nothing in /etc/containers is touched.

# runc and debootstrap live in /usr/sbin, which a non-login root shell may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" ;; esac

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${IMAGE_CACHE_DIR:-$REPO_ROOT/.image-cache}"
PODMAN_CONF_DIR="$CACHE_DIR/podman"

export CONTAINERS_STORAGE_CONF="$PODMAN_CONF_DIR/storage.conf"
export CONTAINERS_CONF="$PODMAN_CONF_DIR/containers.conf"
export CONTAINERS_REGISTRIES_CONF="$PODMAN_CONF_DIR/registries.conf"

# The connector's version (metadata.yaml's dockerImageTag, the one place it is kept) and the image the
# scripts build and test: the name and tag `make image` gives it, which the README's commands use.
CONNECTOR_VERSION="$(sed -n 's/^ *dockerImageTag: *//p' "$REPO_ROOT/metadata.yaml" | head -n 1)"
CONNECTOR_IMAGE="${CONNECTOR_IMAGE:-source-dynamics365-cc:$CONNECTOR_VERSION}"

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] FAIL: %s\n' "$*" >&2; exit 1; }

# The Dockerfile's default BASE_IMAGE, e.g. docker.io/airbyte/python-connector-base:4.0.2@sha256:...
dockerfile_base_image() {
    sed -n 's/^ARG BASE_IMAGE=//p' "$REPO_ROOT/Dockerfile" | head -n 1
}

# The local stand-in for it: no registry is reachable here, so the base is built with debootstrap
# and tagged under localhost/ with the same repository name and tag (a digest cannot be matched).
local_base_image() {
    local ref name_tag
    ref="$(dockerfile_base_image)"
    [ -n "$ref" ] || die "no 'ARG BASE_IMAGE=' default found in $REPO_ROOT/Dockerfile"
    name_tag="${ref%%@*}"            # drop @sha256:...
    name_tag="${name_tag#docker.io/}"
    echo "localhost/$name_tag"
}

have_cmd() { command -v "$1" >/dev/null 2>&1; }
