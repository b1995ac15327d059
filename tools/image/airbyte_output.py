"""Helpers for tools/image/image_test.sh: read Airbyte protocol output (one JSON message a line)
and compare the connector image's results with those of the same run from the venv.

    airbyte_output.py expect spec|check|discover|read OUTPUT -> exit 1 unless the command succeeded
    airbyte_output.py documented README                    -> the README's `docker run` commands, one a line
    airbyte_output.py catalog DISCOVER_OUTPUT              -> configured catalog (stdout)
    airbyte_output.py compare EXPECTED ACTUAL --clock-after ISO
        exit 1 unless both reads have the same records (emitted_at ignored) and final states.

Standard library only, so it runs with any python3.
"""

import argparse
import json
import re
import sys
from collections import Counter
from datetime import datetime, timezone

EXPECTED_STREAMS = {"users", "sign_ins", "subscribed_skus", "groups"}
INCREMENTAL_STREAMS = {"sign_ins": ["createdDateTime"]}


class Mismatch(Exception):
    pass


def messages(path):
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue  # not a protocol message (e.g. a stray print)
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise Mismatch(f"{path}:{number}: not JSON: {exc}") from exc


def of_type(path, kind):
    return [m for m in messages(path) if m.get("type") == kind]


def trace_errors(path):
    return [
        m["trace"]["error"].get("message", "")
        for m in of_type(path, "TRACE")
        if m.get("trace", {}).get("type") == "ERROR"
    ]


# --- catalog --------------------------------------------------------------------------------------


def configured_catalog(discover_output):
    catalogs = of_type(discover_output, "CATALOG")
    if not catalogs:
        raise Mismatch(f"{discover_output}: no CATALOG message")
    streams = {s["name"]: s for s in catalogs[-1]["catalog"]["streams"]}
    missing = EXPECTED_STREAMS - set(streams)
    if missing:
        raise Mismatch(f"discover lacks streams {sorted(missing)} (has {sorted(streams)})")
    configured = []
    for name, stream in sorted(streams.items()):
        if name in INCREMENTAL_STREAMS:
            if "incremental" not in stream.get("supported_sync_modes", []):
                raise Mismatch(f"stream {name} does not support incremental sync")
            cursor = stream.get("default_cursor_field") or INCREMENTAL_STREAMS[name]
            configured.append(
                {
                    "stream": stream,
                    "sync_mode": "incremental",
                    "cursor_field": cursor,
                    "destination_sync_mode": "append",
                }
            )
        else:
            configured.append({"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"})
    return {"streams": configured}


# --- checks on one command's output ---------------------------------------------------------------


def expect(command, output):
    errors = trace_errors(output)
    if errors:
        raise Mismatch(f"{command} emitted error traces: {errors}")
    if command == "spec":
        specs = of_type(output, "SPEC")
        if not specs or "connectionSpecification" not in specs[-1]["spec"]:
            raise Mismatch("spec: no SPEC message with a connectionSpecification")
        return "SPEC ok"
    if command == "check":
        statuses = of_type(output, "CONNECTION_STATUS")
        if not statuses:
            raise Mismatch("check: no CONNECTION_STATUS message")
        status = statuses[-1]["connectionStatus"]
        if status.get("status") != "SUCCEEDED":
            raise Mismatch(f"check: {status}")
        return "CONNECTION_STATUS SUCCEEDED"
    if command == "discover":
        catalog = configured_catalog(output)
        return "CATALOG with streams " + ", ".join(s["stream"]["name"] for s in catalog["streams"])
    if command == "read":
        records, final_state = read_result(output)
        per_stream = Counter(stream for stream, _ in records.elements())
        missing = EXPECTED_STREAMS - set(per_stream)
        if missing:
            raise Mismatch(f"read: no records for {sorted(missing)}")
        if not final_state.get(("", "sign_ins")):
            raise Mismatch("read: no state for the incremental sign_ins stream")
        return "records for " + ", ".join(f"{stream} {count}" for stream, count in sorted(per_stream.items()))
    raise Mismatch(f"unknown command {command}")


# --- the README's commands ------------------------------------------------------------------------

DOCUMENTED = re.compile(r"<!-- image-test:begin[^>]*-->(.*?)<!-- image-test:end -->", re.DOTALL)


def documented_commands(readme):
    """The `docker run` lines of the README's marked block, continuations joined: what a new user types."""
    with open(readme, encoding="utf-8") as f:
        block = DOCUMENTED.search(f.read())
    if block is None:
        raise Mismatch(f"{readme}: no <!-- image-test:begin --> ... <!-- image-test:end --> block")
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    commands = [line.split("#")[0].strip() for line in joined.splitlines() if line.strip().startswith("docker run ")]
    verbs = [re.search(r"\s(spec|check|discover|read)\b", command) for command in commands]
    if sorted(v.group(1) for v in verbs if v) != ["check", "read", "spec"]:
        raise Mismatch(f"{readme}: the marked block must run spec, check and read once each, found {commands}")
    return commands


# --- comparing two reads --------------------------------------------------------------------------


def parse_datetime(value):
    if not isinstance(value, str) or len(value) < 19 or value[4:5] != "-" or value[10:11] not in ("T", " "):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def without_clock(value, clock_after):
    """State with the sync's own clock readings masked: a datetime later than every record the
    emulator serves (e.g. the upper bound of the last time window) differs between two runs."""
    if isinstance(value, dict):
        return {k: without_clock(v, clock_after) for k, v in value.items()}
    if isinstance(value, list):
        return [without_clock(v, clock_after) for v in value]
    parsed = parse_datetime(value)
    if parsed is not None and parsed > clock_after:
        return "<sync clock>"
    return value


def read_result(path):
    records = Counter()
    final_state = {}
    for message in messages(path):
        if message.get("type") == "RECORD":
            record = message["record"]
            records[(record["stream"], json.dumps(record["data"], sort_keys=True))] += 1
        elif message.get("type") == "STATE":
            state = message["state"]
            kind = state.get("type", "LEGACY")
            if kind == "STREAM":
                descriptor = state["stream"]["stream_descriptor"]
                key = descriptor.get("namespace") or "", descriptor["name"]
                final_state[key] = state["stream"].get("stream_state")
            elif kind == "GLOBAL":
                final_state[("", "<global>")] = state["global"]
            else:
                final_state[("", "<legacy>")] = state.get("data")
    return records, final_state


def compare(expected_path, actual_path, clock_after):
    problems = []
    for path in (expected_path, actual_path):
        if trace_errors(path):
            problems.append(f"{path}: error traces {trace_errors(path)}")
    expected_records, expected_state = read_result(expected_path)
    actual_records, actual_state = read_result(actual_path)

    per_stream = Counter(stream for stream, _ in expected_records.elements())
    for stream in sorted(EXPECTED_STREAMS - set(per_stream)):
        problems.append(f"stream {stream}: no records in the venv run (an empty comparison proves nothing)")
    if expected_records != actual_records:
        only_expected = expected_records - actual_records
        only_actual = actual_records - expected_records
        problems.append(
            f"records differ: {sum(only_expected.values())} only in the venv run, "
            f"{sum(only_actual.values())} only in the image run"
        )
        for label, diff in (("venv only", only_expected), ("image only", only_actual)):
            for (stream, data), _ in list(diff.items())[:3]:
                problems.append(f"  {label}: {stream} {data[:300]}")

    expected_state = without_clock(expected_state, clock_after)
    actual_state = without_clock(actual_state, clock_after)
    for key in sorted(set(expected_state) | set(actual_state)):
        venv_value, image_value = expected_state.get(key), actual_state.get(key)
        if venv_value != image_value:
            problems.append(f"final state of {key[1]} differs:\n  venv:  {venv_value}\n  image: {image_value}")

    if problems:
        raise Mismatch("\n".join(problems))
    counts = ", ".join(f"{stream} {count}" for stream, count in sorted(per_stream.items()))
    return f"same records ({counts}) and same final state for {len(expected_state)} stream(s)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("expect")
    p.add_argument("kind", choices=["spec", "check", "discover", "read"])
    p.add_argument("output")
    p = sub.add_parser("catalog")
    p.add_argument("discover_output")
    p = sub.add_parser("documented")
    p.add_argument("readme")
    p = sub.add_parser("compare")
    p.add_argument("expected")
    p.add_argument("actual")
    p.add_argument("--clock-after", required=True, help="ISO time after which a state datetime is a clock reading")
    args = parser.parse_args(argv)

    try:
        if args.command == "catalog":
            print(json.dumps(configured_catalog(args.discover_output), indent=2))
        elif args.command == "expect":
            print(expect(args.kind, args.output))
        elif args.command == "documented":
            print("\n".join(documented_commands(args.readme)))
        else:
            print(compare(args.expected, args.actual, parse_datetime(args.clock_after)))
    except Mismatch as exc:
        print(f"MISMATCH: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
