#!/usr/bin/env bash
# Idempotent host setup for building and running images with podman (root, no Docker engine):
# installs the tools only if missing and writes podman's configuration into .image-cache/.
# Why each setting: /work/shared/notes/containers.md (every one was found by a failure).
set -euo pipefail
# shellcheck source=tools/image/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_missing_packages() {
    local missing=() cmd pkg
    for pair in podman:podman runc:runc debootstrap:debootstrap; do
        cmd="${pair%%:*}"; pkg="${pair##*:}"
        have_cmd "$cmd" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # With recommends: podman's (buildah, catatonit, netavark, slirp4netns...) are what builds use.
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

write_if_changed() {  # write stdin to $1 only if its content differs
    local target="$1" tmp
    tmp="$(mktemp)"
    cat >"$tmp"
    if [ -f "$target" ] && cmp -s "$tmp" "$target"; then rm -f "$tmp"; else mv "$tmp" "$target"; fi
}

write_podman_config() {
    mkdir -p "$PODMAN_CONF_DIR" "$CACHE_DIR/storage" "$CACHE_DIR/run" "$CACHE_DIR/tmp"
    # The storage driver must be set before the first podman call, or podman records an empty
    # driver and every `podman run` then hangs 20 s at cleanup.
    write_if_changed "$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$CACHE_DIR/storage"
runroot = "$CACHE_DIR/run"
CONF
    # crun refuses this kernel's hybrid cgroups: use runc. Root lacks CAP_SYS_RESOURCE, so the
    # default ulimits cannot be raised: pin them to values it may set.
    write_if_changed "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$CACHE_DIR/tmp"
CONF
    # No registry is reachable; short names resolve to local images only.
    write_if_changed "$CONTAINERS_REGISTRIES_CONF" <<CONF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
CONF
}

install_missing_packages
write_podman_config
log "podman ready (config and storage in $CACHE_DIR)"
