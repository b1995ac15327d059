"""A connector process's output read as the CDK's `EntrypointOutput` (testing/connector_process.py `Result`)."""

import json

from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from testing.connector_process import Result


def line(message: dict) -> str:
    return json.dumps(message)


STDOUT = "\n".join(
    [
        line({"type": "LOG", "log": {"level": "WARN", "message": "roster_scope not set"}}),
        line({"type": "RECORD", "record": {"stream": "users", "data": {"id": "u1"}, "emitted_at": 1}}),
        line({"type": "RECORD", "record": {"stream": "groups", "data": {"id": "g1"}, "emitted_at": 1}}),
        line(
            {
                "type": "STATE",
                "state": {
                    "type": "STREAM",
                    "stream": {"stream_descriptor": {"name": "sign_ins"}, "stream_state": {"createdDateTime": "T1"}},
                },
            }
        ),
        line(
            {
                "type": "STATE",
                "state": {
                    "type": "STREAM",
                    "stream": {"stream_descriptor": {"name": "sign_ins"}, "stream_state": {"createdDateTime": "T2"}},
                },
            }
        ),
        line(
            {
                "type": "TRACE",
                "trace": {
                    "type": "ERROR",
                    "emitted_at": 1,
                    "error": {"message": "Graph refused", "failure_type": "config_error"},
                },
            }
        ),
        line({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "FAILED", "message": "no"}}),
    ]
)


def test_a_process_result_is_the_cdks_entrypoint_output_of_its_stdout_with_the_exit_code_and_stderr():
    result = Result(1, STDOUT + "\n", "a stderr line", ["main.py", "read"])
    assert isinstance(result, EntrypointOutput) and len(result.records) == 2
    assert result.returncode == 1 and result.stderr == "a stderr line"
    assert result.records_of("users") == [{"id": "u1"}] and result.records_of("groups") == [{"id": "g1"}]
    assert result.states("sign_ins") == [{"createdDateTime": "T1"}, {"createdDateTime": "T2"}]
    assert result.final_state("sign_ins") == {"createdDateTime": "T2"} and result.final_state("users") is None
    assert result.error_messages == ["Graph refused"]
    assert result.log_lines("warn") == ["roster_scope not set"] and result.log_lines("ERROR") == []
    assert result.connection_status == {"status": "FAILED", "message": "no"}
    assert [message["type"] for message in result.messages] == [
        "LOG",
        "RECORD",
        "RECORD",
        "STATE",
        "STATE",
        "TRACE",
        "CONNECTION_STATUS",
    ]
    assert result.stray_lines == []


def test_a_stdout_line_that_is_no_airbyte_message_is_a_stray_line_though_the_cdk_reads_it_as_a_log():
    stray = ["Traceback (most recent call last):", '{"type": "NOT_A_TYPE"}', "[1, 2]"]
    result = Result(0, "\n".join([STDOUT, *stray]), "")
    assert result.stray_lines == stray
    assert "Traceback (most recent call last):" in result.log_lines("INFO")
