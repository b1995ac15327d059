#!/usr/bin/env bash
# Image test: build the connector image and prove it behaves like the connector run from the venv.
#
#   1. host setup (podman, runc, debootstrap; podman config in .image-cache/), hadolint
#   2. local base image (debootstrap, cached), connector image source-dynamics365-cc:<version> (as `make image` tags it)
#   3. image checks: non-root user, labels, nothing of the emulator, tests or venv inside
#   4. a Graph emulator on the host; the image runs spec, check, discover and read against it
#      (--network host, config/catalog/CA mounted read-only), the venv runs the same read, and
#      records (emitted_at ignored) and final states must be equal.
#   5. the README's own `docker run` lines (spec, check, read with the shipped
#      integration_tests/configured_catalog.json), run as written with podman for docker plus only
#      what reaching the emulator needs (--network host, its CA).
#
# Usage: bash tools/image/image_test.sh
#   PYTHON=...          interpreter for the emulator and the venv run (default .venv/bin/python)
#   READ_TIMEOUT=300    seconds allowed for one read; MAX_OUTPUT_KIB caps one command's output
#   LOOKBACK_DAYS=3     days of sign-ins read (start_date = that many days before the hour)
# Exits non-zero with a MISMATCH/FAIL message on any difference. Leaves outputs in
# .image-cache/image-test/ for inspection.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/image/common.sh
. "$HERE/common.sh"

PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
RUN_DIR="$CACHE_DIR/image-test"
SECRETS="$RUN_DIR/secrets"
OUTPUT="$HERE/airbyte_output.py"
READ_TIMEOUT="${READ_TIMEOUT:-300}"     # seconds for one read
MAX_OUTPUT_KIB="${MAX_OUTPUT_KIB:-524288}"
CONTAINER_PREFIX="d365-image-test-$$"

T0=$SECONDS
step() { log "[$((SECONDS - T0))s] $*"; }

[ -x "$PYTHON" ] || die "no interpreter at $PYTHON (create the venv first)"
for path in setup.py main.py source_dynamics365_cc graph_emulator; do
    [ -e "$REPO_ROOT/$path" ] || die "$REPO_ROOT/$path is missing"
done

step "setup"
bash "$HERE/setup.sh"
bash "$HERE/lint.sh"

step "base image"
bash "$HERE/base_image.sh"

step "connector image"
bash "$HERE/build.sh"

step "image checks"
user="$(podman image inspect --format '{{.Config.User}}' "$CONNECTOR_IMAGE")"
case "$user" in ""|0|0:*|root|root:*) die "image runs as root (USER '$user')";; esac
labels="$(podman image inspect --format '{{index .Config.Labels "io.airbyte.name"}} {{index .Config.Labels "io.airbyte.version"}}' "$CONNECTOR_IMAGE")"
expected="$("$PYTHON" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1]))["data"]
print(d["dockerRepository"], d["dockerImageTag"])' "$REPO_ROOT/metadata.yaml")"
[ "$labels" = "$expected" ] || die "image labels (name, version) are '$labels', metadata.yaml says '$expected'"
leftovers="$(podman run --rm --pull=never --entrypoint sh "$CONNECTOR_IMAGE" -c '
    cd / && ls -d /airbyte/integration_code/* /airbyte/integration_code/.venv \
        /usr/local/lib/python3*/*-packages/graph_emulator \
        /usr/local/lib/python3*/*-packages/unit_tests \
        /usr/local/lib/python3*/*-packages/integration_tests \
        /usr/local/lib/python3*/*-packages/tests 2>/dev/null || true')"
[ -z "$leftovers" ] || die "image holds what it should not: $leftovers"

step "Graph emulator"
rm -rf "$RUN_DIR"
mkdir -p "$SECRETS"
# Fixed data: the emulator's clock is the current hour (floored, so every sign-in is in the past
# for both runs) and the connector's start_date LOOKBACK_DAYS before; the connector clamps start_date to
# the 30-day retention by the real clock, so a fixed date in the past would not do.
LOOKBACK_DAYS="${LOOKBACK_DAYS:-3}"
now_epoch="$(date -u +%s)"
now_epoch=$((now_epoch - now_epoch % 3600))
NOW="$(date -u -d "@$now_epoch" +%Y-%m-%dT%H:%M:%SZ)"
START_DATE="$(date -u -d "@$((now_epoch - LOOKBACK_DAYS * 86400))" +%Y-%m-%dT00:00:00Z)"
EMULATOR_PID=""
VENV_READ_PID=""
cleanup() {
    [ -z "$VENV_READ_PID" ] || pkill -TERM -P "$VENV_READ_PID" 2>/dev/null || true
    # The connector runs as PID 1 in its container, where SIGTERM does nothing: containers left
    # by a timeout are removed by name.
    podman ps -a --filter "name=^$CONTAINER_PREFIX-" --format '{{.ID}}' | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
    if [ -n "$EMULATOR_PID" ] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
        kill -TERM "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
(cd "$REPO_ROOT" && exec "$PYTHON" -m graph_emulator --port 0 --seed 42 --users 200 --sign-ins 5000 \
    --days 30 --now "$NOW" --info-file "$RUN_DIR/emulator.json") >"$RUN_DIR/emulator.log" 2>&1 &
EMULATOR_PID=$!
for _ in $(seq 1 300); do
    [ -s "$RUN_DIR/emulator.json" ] && "$PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' \
        "$RUN_DIR/emulator.json" 2>/dev/null && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$RUN_DIR/emulator.log" >&2; die "the emulator exited"; }
    sleep 0.1
done
[ -s "$RUN_DIR/emulator.json" ] || die "the emulator wrote no info file in 30 s"
CA_PATH="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_path"])' "$RUN_DIR/emulator.json")"
log "emulator at $("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$RUN_DIR/emulator.json"), now $NOW, start_date $START_DATE"

cp "$CA_PATH" "$SECRETS/ca.pem"
(cd "$REPO_ROOT" && exec "$PYTHON" -m tools.emulator_config "$RUN_DIR/emulator.json" --start-date "$START_DATE") \
    >"$SECRETS/config.json"
# The container runs as uid 1000: the mounted folder must be readable by it (test credentials only).
chmod 755 "$RUN_DIR" "$SECRETS"
chmod 644 "$SECRETS"/*

# A connector that loops would run forever and fill the disk: every run has a time limit and
# its output a size limit (ulimit -f, in KiB). Containers run with --log-driver none so that podman
# does not keep a second copy of the output in its storage.
bounded() {  # bounded NAME SECONDS COMMAND... : stdout to $RUN_DIR/NAME.jsonl, stderr to NAME.stderr
    local name="$1" seconds="$2" rc=0
    shift 2
    (ulimit -f "$MAX_OUTPUT_KIB" && exec timeout -k 5 "$seconds" "$@") \
        >"$RUN_DIR/$name.jsonl" 2>"$RUN_DIR/$name.stderr" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        die "'$name' did not finish in $seconds s (outputs in $RUN_DIR)"
    fi
    [ "$(du -k "$RUN_DIR/$name.jsonl" | cut -f1)" -lt $((MAX_OUTPUT_KIB * 9 / 10)) ] \
        || die "'$name' stopped at the limit of $MAX_OUTPUT_KIB KiB of output (a loop?): see $RUN_DIR/$name.jsonl"
    if [ "$rc" -ne 0 ]; then
        tail -c 3000 "$RUN_DIR/$name.stderr" >&2
        grep -v '"type": *"RECORD"' "$RUN_DIR/$name.jsonl" | tail -c 3000 >&2
        die "'$name' exited $rc (outputs in $RUN_DIR)"
    fi
}
in_image() {  # in_image NAME SECONDS ARGS... : run the image as a user would
    local name="$1" seconds="$2"
    shift 2
    bounded "$name" "$seconds" podman run --rm --pull=never --log-driver none --name "$CONTAINER_PREFIX-$name" --network host \
        -v "$SECRETS:/secrets:ro" -e REQUESTS_CA_BUNDLE=/secrets/ca.pem -e SSL_CERT_FILE=/secrets/ca.pem \
        -e DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1 "$CONNECTOR_IMAGE" "$@"
}

step "image: spec, check, discover"
bounded spec 60 podman run --rm --pull=never --log-driver none --name "$CONTAINER_PREFIX-spec" "$CONNECTOR_IMAGE" spec
"$PYTHON" "$OUTPUT" expect spec "$RUN_DIR/spec.jsonl"
in_image check 120 check --config /secrets/config.json
"$PYTHON" "$OUTPUT" expect check "$RUN_DIR/check.jsonl"
in_image discover 120 discover --config /secrets/config.json
"$PYTHON" "$OUTPUT" expect discover "$RUN_DIR/discover.jsonl"
"$PYTHON" "$OUTPUT" catalog "$RUN_DIR/discover.jsonl" >"$SECRETS/catalog.json"
chmod 644 "$SECRETS/catalog.json"

step "read: image and venv side by side"
(cd "$REPO_ROOT" && REQUESTS_CA_BUNDLE="$SECRETS/ca.pem" SSL_CERT_FILE="$SECRETS/ca.pem" DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1 \
    bounded read-venv "$READ_TIMEOUT" "$PYTHON" main.py read \
    --config "$SECRETS/config.json" --catalog "$SECRETS/catalog.json") &
VENV_READ_PID=$!
in_image read-image "$READ_TIMEOUT" read --config /secrets/config.json --catalog /secrets/catalog.json
wait "$VENV_READ_PID" || die "the venv read failed (see above)"
VENV_READ_PID=""

step "compare"
"$PYTHON" "$OUTPUT" compare "$RUN_DIR/read-venv.jsonl" "$RUN_DIR/read-image.jsonl" --clock-after "$NOW" \
    || die "the image's read differs from the venv's (outputs in $RUN_DIR)"

step "the README's commands, as a new user types them"
DOC_DIR="$RUN_DIR/readme"
mkdir -p "$DOC_DIR/secrets" "$DOC_DIR/integration_tests"
cp "$SECRETS/config.json" "$SECRETS/ca.pem" "$DOC_DIR/secrets/"
cp "$REPO_ROOT/integration_tests/configured_catalog.json" "$DOC_DIR/integration_tests/"
chmod 755 "$DOC_DIR" "$DOC_DIR/secrets" "$DOC_DIR/integration_tests"
chmod 644 "$DOC_DIR"/secrets/* "$DOC_DIR/integration_tests/configured_catalog.json"
documented="$("$PYTHON" "$OUTPUT" documented "$REPO_ROOT/README.md")" || die "README.md has no usable image commands"
while IFS= read -r command; do
    verb="$(grep -oE ' (spec|check|read)( |$)' <<<"$command" | head -n 1 | tr -d ' ')"
    log "  $command"
    run_as_documented="podman run --pull=never --log-driver none --network host --name $CONTAINER_PREFIX-doc-$verb \
        -e REQUESTS_CA_BUNDLE=/secrets/ca.pem -e SSL_CERT_FILE=/secrets/ca.pem -e DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS=1 \
        ${command#docker run }"
    (cd "$DOC_DIR" && bounded "doc-$verb" "$READ_TIMEOUT" bash -c "$run_as_documented")
    "$PYTHON" "$OUTPUT" expect "$verb" "$RUN_DIR/doc-$verb.jsonl"
done <<<"$documented"

size="$(podman image inspect --format '{{.Size}}' "$CONNECTOR_IMAGE")"
log "image $CONNECTOR_IMAGE: $((size / 1000000)) MB"
step "image test passed"
