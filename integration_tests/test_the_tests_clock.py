"""The clock a process-level test owns (testing/harness.py): a connector forked for an emulator from
`running_emulator` skips every wait it owes onto that clock, which the emulator reads, so a test asserts on the
waits in the emulator's time and not on the machine's."""

from __future__ import annotations

from pathlib import Path

from testing.harness import connector_config, read_successfully, running_emulator


def test_a_retry_after_is_skipped_onto_the_tests_clock_in_full_and_the_emulator_sees_it_waited(tmp_path: Path):
    """Graph asks for 200 s, longer than the run's real-time limit: the connector still obeys it in full (with the
    CDK's extra second), in the emulator's time, and its next request is served, not counted as a violation."""
    with running_emulator(seed=15, users=5, sign_ins=50, days=2) as emu:
        emu.add_fault({"route": "subscribedSkus", "kind": "status", "status": 429, "times": 1, "retry_after": "200"})
        result = read_successfully(
            emu, tmp_path, connector_config(emu), {"subscribed_skus": "full_refresh"}, timeout=120
        )
        log = emu.request_log("subscribedSkus")
        skipped = emu.clock.skipped()

    assert [entry["status"] for entry in log] == [429, 200]
    assert log[1]["time"] - log[0]["time"] >= 201.0
    assert skipped == 201.0
    assert result.records_of("subscribed_skus")
    assert any("Retrying in 201.0 seconds" in line for line in result.log_lines())
