"""`chatkit chat` answering structured input, and `chatkit threads export`, through CliRunner on loopback."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from chatkit_client import ChatKit
from chatkit_client.testing import RunningLocalServer, serve_dev, serve_local_server
from chatkit_client.testing._dev import RunningDev
from tests.cli.runner import run
from tests.integration.test_protocol_operations import check_export, seed


@pytest.fixture
def running() -> Iterator[RunningLocalServer]:
    with serve_local_server() as served:
        yield served


@pytest.fixture(scope="module")
def dev() -> Iterator[RunningDev]:
    with serve_dev() as served:
        yield served


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- chat: structured input ------------------------------------------------------------------------


def test_chat_asks_the_questions_of_a_structured_input_and_sends_the_answers(running: RunningLocalServer) -> None:
    # Options by number (several for the multiple-choice question), then free text.
    result = run(["--server-url", running.url, "chat"], input="survey\n1, 3\nAda\n")
    assert result.exit_code == 0, result.output
    assert "Which colors do you like?" in result.stdout
    assert "1) red" in result.stdout and "3) blue" in result.stdout
    assert "Any name will do." in result.stdout
    assert "You answered: red, blue; Ada" in result.stdout


def test_chat_skips_a_question_left_empty_and_keeps_typed_values(running: RunningLocalServer) -> None:
    result = run(["--server-url", running.url, "chat"], input="survey\npurple\n\n")
    assert result.exit_code == 0, result.output
    assert "You answered: purple; (skipped)" in result.stdout


def test_chat_leaves_the_questions_pending_on_end_of_input(running: RunningLocalServer) -> None:
    result = run(["--server-url", running.url, "chat"], input="ask\n")
    assert result.exit_code == 0, result.output
    assert "Which color do you like?" in result.stdout
    assert "the questions stay pending" in result.stdout
    assert "You answered" not in result.stdout
    (thread_id,) = running.store.thread_ids()
    with ChatKit(server_url=running.url) as client:
        items = list(client.chat().items(thread_id))
    assert items[-1].type == "structured_input" and items[-1].status == "pending"  # type: ignore[union-attr]


# -- threads export --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_export_of_1000_threads_of_20_items_through_the_cli(running: RunningLocalServer, tmp_path: Path) -> None:
    expected = await seed(running, 1000, 20)
    out = tmp_path / "backup.jsonl"
    # CliRunner runs the (sync) command in this thread; the server runs in its own.
    result = run(["--server-url", running.url, "threads", "export", "--all", "--output", str(out)])
    assert result.exit_code == 0, result.output
    records = lines(out)
    assert len(records) == 1000
    check_export(records, expected)
    # Not a terminal: no progress bar, only the summary.
    assert result.stderr == f"exported 1000 threads (20000 items) to {out}\n"
    assert not (tmp_path / "backup.jsonl.partial").exists()


@pytest.mark.anyio
async def test_export_chosen_threads_to_stdout_and_refuse_unclear_selections(
    running: RunningLocalServer, tmp_path: Path
) -> None:
    expected = await seed(running, 5, 4)
    result = run(["--server-url", running.url, "threads", "export", "thr_00003", "thr_00001", "-o", "-"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["id"] for record in records] == ["thr_00003", "thr_00001"]
    check_export(records, {key: expected[key] for key in ("thr_00003", "thr_00001")})

    both = run(["--server-url", running.url, "threads", "export", "thr_00003", "--all", "-o", "-"])
    neither = run(["--server-url", running.url, "threads", "export", "-o", "-"])
    assert both.exit_code == 2 and "not both" in both.stderr
    assert neither.exit_code == 2 and "THREAD_ID... or --all" in neither.stderr

    # A failing export leaves no file that looks complete.
    out = tmp_path / "broken.jsonl"
    missing = run(["--server-url", running.url, "threads", "export", "thr_00001", "thr_missing", "-o", str(out)])
    assert missing.exit_code == 1
    assert "Error:" in missing.stderr and "Traceback" not in missing.output
    assert not out.exists() and not (tmp_path / "broken.jsonl.partial").exists()


def test_export_from_the_hosted_admin_api_by_user(dev: RunningDev, tmp_path: Path) -> None:
    with ChatKit(api_key=dev.api_key, base_url=dev.base_url) as client:
        chat = client.chat(user="user_export", workflow="wf_demo")
        first = chat.send("first thread")
        chat.send("second message")
        chat.new_thread()
        second = chat.send("another thread")
    out = tmp_path / "hosted.jsonl"
    hosted = ["--base-url", dev.base_url, "--api-key", dev.api_key, "--user", "user_export"]
    result = run([*hosted, "threads", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    records = {record["id"]: record for record in lines(out)}
    assert set(records) == {first.thread_id, second.thread_id}
    texts = [
        part["text"] for item in records[first.thread_id]["items"] for part in item.get("content", []) if "text" in part
    ]
    assert texts[:2] == ["first thread", "You said: first thread"]
    assert "second message" in texts
    assert all(record["user"] == "user_export" for record in records.values())

    # --all: every user's threads (another user's thread included), even with --user given.
    with ChatKit(api_key=dev.api_key, base_url=dev.base_url) as client:
        other = client.chat(user="user_other", workflow="wf_demo").send("someone else")
    everything = tmp_path / "all.jsonl"
    result = run([*hosted, "threads", "export", "--all", "--output", str(everything)])
    assert result.exit_code == 0, result.output
    exported = {record["id"] for record in lines(everything)}
    assert {first.thread_id, second.thread_id, other.thread_id} <= exported


# -- in a terminal ---------------------------------------------------------------------------------
CHATKIT = str(Path(sys.executable).with_name("chatkit"))


def _pty(args: list[str]) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    env.update({"TERM": "xterm", "COLUMNS": "100", "LINES": "30", "PYTHONUNBUFFERED": "1"})
    return pexpect.spawn(CHATKIT, args, env=env, encoding="utf-8", timeout=30, dimensions=(30, 100))


@pytest.mark.anyio
async def test_export_shows_a_progress_bar_in_a_terminal(running: RunningLocalServer, tmp_path: Path) -> None:
    expected = await seed(running, 30, 4)
    out = tmp_path / "tty.jsonl"
    child = _pty(["--server-url", running.url, "threads", "export", "--all", "--output", str(out)])
    try:
        child.expect_exact("exporting threads")
        child.expect_exact("exported 30 threads (120 items)")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    check_export(lines(out), expected)


def test_chat_in_a_terminal_answers_structured_input(running: RunningLocalServer) -> None:
    child = _pty(["--server-url", running.url, "chat"])
    try:
        child.expect_exact("you> ")
        child.sendline("survey")
        child.expect_exact("Which colors do you like?")
        child.expect_exact("answer (numbers or text, comma-separated, empty to skip)> ")
        child.sendline("2")
        child.expect_exact("What is your name?")
        child.expect_exact("> ")
        child.sendline("Grace")
        child.expect_exact("You answered: green; Grace")
        child.expect_exact("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
