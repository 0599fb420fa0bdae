"""`chatkit load` through click's CliRunner against the local server on loopback, and its error paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from chatkit_client.testing import serve_local_server
from chatkit_client.testing._server import RunningLocalServer
from tests.cli.runner import run


@pytest.fixture(scope="module")
def server() -> Iterator[RunningLocalServer]:
    with serve_local_server() as running:
        yield running


def chatkit(*args: str) -> Result:
    return run(args)


def test_closed_model_prints_the_table_the_chart_and_writes_the_json(
    server: RunningLocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "run.json"
    result = chatkit(
        "--server-url", server.url, "load", "--users", "2", "--duration", "600ms", "--turns", "2",
        "--message", "hello there", "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for line in ("time to first text delta (ms)", "gap between text deltas (ms)", "turn (end to end) (ms)"):
        assert line in result.stdout
    assert "closed model, 2 users" in result.stdout and "errors: none" in result.stdout
    assert "time to first delta over time" in result.stdout and "distribution of time to first delta" in result.stdout
    assert f"report: {out}" in result.stderr
    data = json.loads(out.read_text())
    assert data["plan"]["model"] == "closed" and data["plan"]["turns_per_thread"] == 2
    assert data["summary"]["turns"] > 0 and data["summary"]["failed_turns"] == 0


def test_open_model_with_messages_from_a_file_and_a_tool_result(server: RunningLocalServer, tmp_path: Path) -> None:
    messages = tmp_path / "messages.txt"
    messages.write_text('hello\n\ntool:lookup {"q": 1}\n')
    out = tmp_path / "run.json"
    result = chatkit(
        "--server-url", server.url, "load", "--rate", "10", "--duration", "0.5s", "--messages", str(messages),
        "--tool-result", '{"found": true}', "--json", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "open model, 10.0 turns/s scheduled" in result.stdout
    data = json.loads(out.read_text())
    assert data["summary"]["turns"] == 5 and data["summary"]["failed_turns"] == 0
    assert len(data["samples"]) == 5


def test_errors_are_listed_by_kind_and_all_failed_exits_1(server: RunningLocalServer) -> None:
    result = chatkit("--server-url", server.url, "load", "--users", "1", "--duration", "0.3s", "--message", "error")
    assert result.exit_code == 1
    assert "errors: stream error: custom ×" in result.stdout
    assert "Error: every turn failed (stream error: custom ×" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "1s"], "give --users N (closed model) or --rate R (open model)"),
        (["--users", "2", "--rate", "3"], "give --users N (closed model) or --rate R (open model)"),
        (["--rate", "3", "--spawn-rate", "2"], "--spawn-rate goes with --users"),
        (["--users", "2", "--duration", "soon"], "expected a duration like 60s, 2m, 1h or 500ms, got 'soon'"),
        (["--users", "2", "--tool-result", "{nope"], "expected JSON"),
        (["--users", "2", "--message", "a", "--messages", "README.md"], "not both"),
        (["--users", "0"], "0 is not in the range"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    result = chatkit("--server-url", "http://127.0.0.1:9/chatkit", "load", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_no_backend_and_hosted_without_workflow_are_explained() -> None:
    result = chatkit("load", "--users", "1")
    assert result.exit_code == 2 and "no ChatKit backend given" in result.stderr
    result = chatkit("--api-key", "sk-test", "load", "--users", "1")
    assert result.exit_code == 2 and "hosted load needs a workflow" in result.stderr


def test_a_plan_the_engine_refuses_is_one_error_line() -> None:
    result = chatkit("--server-url", "http://127.0.0.1:9/chatkit", "load", "--users", "1", "--duration", "0s")
    # Input refused before anything is sent is a usage error everywhere in the CLI: exit 2.
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and "duration" in result.stderr


def test_hosted_load_gives_each_virtual_user_a_session() -> None:
    from chatkit_client.testing import serve_emulator

    with serve_emulator() as hosted:
        result = chatkit(
            "--base-url", hosted.base_url, "--api-key", hosted.api_key, "--workflow", "wf_demo",
            "load", "--users", "2", "--duration", "0.4s",
        )  # fmt: skip
        users = {request.json.get("user") for request in hosted.emulator.requests if request.path.endswith("/sessions")}
    assert result.exit_code == 0, result.output
    assert "errors: none" in result.stdout
    assert users == {"load-0", "load-1"}


def test_the_live_view_shows_in_a_terminal(server: RunningLocalServer) -> None:
    import os
    import sys

    import pexpect

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    child = pexpect.spawn(
        str(Path(sys.executable).with_name("chatkit")),
        ["--server-url", server.url, "load", "--users", "2", "--duration", "2s"],
        env={**env, "TERM": "xterm", "COLUMNS": "160", "LINES": "30", "PYTHONUNBUFFERED": "1"},
        encoding="utf-8",
        timeout=60,
        dimensions=(30, 160),
    )
    try:
        child.expect_exact("turns/s  first delta p50")
        child.expect_exact("time to first text delta (ms)")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
