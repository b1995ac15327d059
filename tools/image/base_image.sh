#!/usr/bin/env bash
# Build the local stand-in for the Dockerfile's BASE_IMAGE (Airbyte's python-connector-base, which
# no registry here can serve): Debian bookworm + its Python 3.11, made with debootstrap, with the
# same user (airbyte, uid 1000), /airbyte folder and UTC clock as Airbyte's base.
# Cached: does nothing when the image already exists (FORCE=1 rebuilds it).
set -euo pipefail
# shellcheck source=tools/image/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BASE="$(local_base_image)"
if [ "${FORCE:-0}" != 1 ] && podman image exists "$BASE"; then
    log "base image $BASE exists (cached)"
    exit 0
fi

apt_mirror() {  # the Debian mirror apt already uses
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

ROOTFS="$CACHE_DIR/base-rootfs"
cleanup_rootfs() {
    # debootstrap mounts /proc and /sys inside the rootfs: never delete through a live mount.
    findmnt -rn -o TARGET | grep -F "$ROOTFS/" | sort -r | xargs -r umount -l || true
    rm -rf "$ROOTFS"
}
trap cleanup_rootfs EXIT
cleanup_rootfs

MIRROR="$(apt_mirror)"
log "debootstrap bookworm from $MIRROR (about a minute)"
debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$ROOTFS" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"; }

# Package downloads go through a proxy whose CA the host keeps in /usr/local/share/ca-certificates:
# the image must trust it too, or pip fails with CERTIFICATE_VERIFY_FAILED during a build.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
fi
chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1

# As in Airbyte's base: the airbyte system user (uid/gid 1000), /airbyte owned by it, UTC.
chroot "$ROOTFS" groupadd --system --gid 1000 airbyte
chroot "$ROOTFS" useradd --uid 1000 --gid 1000 --no-create-home \
    --home-dir /airbyte --shell /usr/sbin/nologin airbyte
install -d -m 755 -o 1000 -g 1000 "$ROOTFS/airbyte"
ln -snf /usr/share/zoneinfo/Etc/UTC "$ROOTFS/etc/localtime"

# Trim what a runtime image never reads.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
    "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old

# Debian's Python refuses system-wide pip installs unless told (python:3.11-slim does not);
# pip and Python trust the system bundle, which now holds the proxy CA.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
log "importing $BASE"
tar -C "$ROOTFS" -c . | podman import --quiet \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PIP_BREAK_SYSTEM_PACKAGES=1" \
    --change "ENV PIP_CERT=$CA_BUNDLE" \
    --change "ENV SSL_CERT_FILE=$CA_BUNDLE" \
    --change "ENV REQUESTS_CA_BUNDLE=$CA_BUNDLE" \
    --change "LABEL io.airbyte.local_stand_in_for=$(dockerfile_base_image)" \
    --change 'CMD ["python3"]' \
    - "$BASE" >/dev/null
log "base image $BASE built"
