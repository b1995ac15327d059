"""The truth a sync is compared with: the emulated tenant's own sign-ins, and the invariants every sync's output
keeps (no state past a sign-in not yet emitted, no sign-in twice)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping, Sequence

from graph_emulator import Emulator
from source_dynamics365_cc.graph.concealed import is_concealed
from source_dynamics365_cc.signins.instants import parse_instant

from .connector_process import Result


def truth_sign_in_ids(
    emulator: Emulator,
    start: dt.datetime | str,
    end: dt.datetime | str,
    app_ids: Sequence[str] | None,
    exclude_concealed: bool = True,
    event_type: str = "interactiveUser",
) -> set[str]:
    """Ids of the tenant's sign-ins of one event type (v1.0's interactiveUser unless told: nonInteractiveUser for
    beta's) with start <= createdDateTime < end for app_ids (None: every app)."""
    rows = emulator.tenant.sign_ins_between(start, end, app_ids, event_type=event_type)
    return {row["id"] for row in rows if not (exclude_concealed and is_concealed(row))}


def truth_rows(emu: Emulator, start: dt.datetime, end: dt.datetime) -> dict[str, dt.datetime]:
    """id -> createdDateTime of every sign-in the connector must deliver (every app, no concealed user)."""
    rows = emu.tenant.sign_ins_between(start, end, None)
    return {row["id"]: parse_instant(row["createdDateTime"]) for row in rows if not is_concealed(row)}


def assert_every_state_is_safe(
    messages: Iterable[Mapping[str, Any]], truth: Mapping[str, dt.datetime], already_emitted: Iterable[str] = ()
) -> set[str]:
    """Walk the output in order; return every sign-in id emitted (with `already_emitted`)."""
    emitted = set(already_emitted)
    for message in messages:
        if message.get("type") == "RECORD" and message["record"]["stream"] == "sign_ins":
            emitted.add(message["record"]["data"]["id"])
        stream = (message.get("state") or {}).get("stream") or {}
        if stream.get("stream_descriptor", {}).get("name") == "sign_ins" and stream.get("stream_state"):
            cursor = parse_instant(stream["stream_state"]["createdDateTime"])
            behind = {sign_in for sign_in, moment in truth.items() if moment < cursor}
            assert behind <= emitted, f"state {cursor} moved past {len(behind - emitted)} sign-ins not yet emitted"
    return emitted


def assert_no_duplicates(result: Result) -> None:
    ids = [record["id"] for record in result.records_of("sign_ins")]
    assert len(ids) == len(set(ids)), "a sign-in was emitted twice in one sync"
