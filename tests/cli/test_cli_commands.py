"""Every `chatkit` command and its error paths, through click's CliRunner against real servers on loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import Result

from chatkit_client import StreamError
from chatkit_client.cli._app import cli
from chatkit_client.testing import serve_dev
from chatkit_client.testing._dev import RunningDev
from tests.cli.runner import run


@pytest.fixture(scope="module")
def dev() -> Iterator[RunningDev]:
    with serve_dev() as running:
        yield running


def local(dev: RunningDev) -> list[str]:
    return ["--server-url", dev.server_url]


def hosted(dev: RunningDev, *, user: str | None = "user_cli") -> list[str]:
    args = ["--base-url", dev.base_url, "--api-key", dev.api_key, "--workflow", "wf_demo"]
    return [*args, "--user", user] if user else args


def thread_of(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("thread: ")]
    assert lines, result.stderr
    return lines[-1].removeprefix("thread: ")


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- help, version, start-up -----------------------------------------------------------------------
def _all_commands(group: click.Group, prefix: list[str]) -> Iterator[list[str]]:
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _all_commands(command, [*prefix, name])
        else:
            yield [*prefix, name]


@pytest.mark.parametrize("path", list(_all_commands(cli, [])), ids=lambda p: " ".join(p) or "chatkit")
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    result = run([*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert "chatkit" in result.stdout.split("Example", 1)[1]


def test_version() -> None:
    from chatkit_client import __version__

    result = run(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"chatkit, version {__version__}"


def test_help_imports_neither_pydantic_nor_rich_nor_httpx2() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['chatkit', '--help']\n"
        "from chatkit_client.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('pydantic', 'rich', 'httpx2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "Usage: chatkit" in out
    assert out.strip().endswith("LOADED []")


def test_without_the_cli_extra_one_line_and_exit_1() -> None:
    # A module set to None in sys.modules is what an uninstalled one looks like to find_spec.
    code = "import sys\nsys.modules['rich'] = None\nfrom chatkit_client.cli import main\nmain()\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "chatkit: install the command-line extra: pip install 'chatkit-client[cli]'"


def test_no_backend_is_a_usage_error() -> None:
    result = run(["send", "hi"])
    assert result.exit_code == 2
    assert "--server-url" in result.stderr and "--api-key" in result.stderr
    assert "Traceback" not in result.output


def test_backend_from_the_environment(dev: RunningDev) -> None:
    result = run(["send", "from env"], env={"CHATKIT_SERVER_URL": dev.server_url})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "You said: from env"


def test_bad_header_is_a_usage_error(dev: RunningDev) -> None:
    result = run([*local(dev), "--header", "no-colon-here", "send", "hi"])
    assert result.exit_code == 2
    assert "Name: value" in result.stderr


def test_headers_reach_the_self_hosted_server(dev: RunningDev) -> None:
    # The local server's scripted agent answers `help` whatever the headers; what we check is that
    # a header containing a colon in its value survives parsing and the request still succeeds.
    result = run([*local(dev), "--header", "Authorization: Bearer a:b", "--header", "X-Trace: 1", "send", "hi"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "You said: hi"


# -- send ------------------------------------------------------------------------------------------
def test_send_streams_text_to_stdout_and_thread_to_stderr(dev: RunningDev) -> None:
    result = run([*local(dev), "send", "hello there"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "You said: hello there\n"
    assert thread_of(result).startswith("thr_")


def test_send_reads_stdin_for_dash(dev: RunningDev) -> None:
    result = run([*local(dev), "send", "-"], input="piped text\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "You said: piped text"


def test_send_empty_text_is_a_usage_error(dev: RunningDev) -> None:
    result = run([*local(dev), "send", "-"], input="  \n")
    assert result.exit_code == 2
    assert "nothing to send" in result.stderr


def test_send_json_prints_one_event_per_line(dev: RunningDev) -> None:
    result = run([*local(dev), "send", "--json", "json please"])
    assert result.exit_code == 0, result.output
    events = json_lines(result.stdout)
    types = [event["type"] for event in events]
    assert types[0] == "thread.created"
    assert "thread.item.done" in types
    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"].endswith("text_delta")
    ]
    assert "".join(deltas) == "You said: json please"
    assert thread_of(result) == events[0]["thread"]["id"]


def test_send_continues_a_thread(dev: RunningDev) -> None:
    first = run([*local(dev), "send", "one"])
    thread = thread_of(first)
    second = run([*local(dev), "send", "two", "--thread", thread])
    assert second.exit_code == 0, second.output
    assert thread_of(second) == thread
    items = run([*local(dev), "threads", "items", thread, "--json"])
    texts = [item["content"][0]["text"] for item in json_lines(items.stdout)]
    assert texts == ["one", "You said: one", "two", "You said: two"]


def test_send_with_a_file(dev: RunningDev, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"abcd")
    result = run([*local(dev), "send", "read this", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "You said: read this" in result.stdout
    assert "Attachments: notes.txt (text/plain, 4 bytes)" in result.stdout


def test_send_missing_file_is_a_usage_error(dev: RunningDev, tmp_path: Path) -> None:
    result = run([*local(dev), "send", "hi", "--file", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "nope.txt" in result.stderr


def test_send_shows_notices_progress_workflows_and_widgets_on_stderr(dev: RunningDev) -> None:
    notice = run([*local(dev), "send", "notice"])
    assert notice.stdout.strip() == "A notice was sent."
    assert "[info] Heads up: This is a **scripted** notice." in notice.stderr
    progress = run([*local(dev), "send", "progress"])
    assert "… Searching the archive" in progress.stderr
    workflow = run([*local(dev), "send", "workflow"])
    assert "[workflow] 2 task(s): Thinking; Checking" in workflow.stderr
    widget = run([*local(dev), "send", "widget"])
    assert "[widget] Card: " in widget.stderr and "Count: 0" in widget.stderr and "[Increment]" in widget.stderr


def test_send_stream_error_exits_1_with_partial_text_and_no_traceback(dev: RunningDev) -> None:
    result = run([*local(dev), "send", "error"])
    assert result.exit_code == 1
    assert result.stdout.startswith("This reply will fail")
    assert "Error: the server reported an error in the stream: Scripted error" in result.stderr
    assert "Traceback" not in result.output
    assert thread_of(result).startswith("thr_")


def test_debug_lets_the_exception_through(dev: RunningDev) -> None:
    result = run(["--debug", *local(dev), "send", "error"])
    assert result.exit_code == 1
    assert isinstance(result.exception, StreamError)


def test_send_leaves_a_pending_tool_call_with_a_hint(dev: RunningDev) -> None:
    result = run([*local(dev), "send", 'tool:get_weather {"city": "Paris"}'])
    assert result.exit_code == 0, result.output
    assert '[client tool call] get_weather {"city": "Paris"}' in result.stderr
    assert f"chatkit chat --thread {thread_of(result)}" in result.stderr


def test_send_hosted_generates_and_prints_a_user(dev: RunningDev) -> None:
    result = run([*hosted(dev, user=None), "send", "hi hosted"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "You said: hi hosted"
    user_line = next(line for line in result.stderr.splitlines() if line.startswith("user: "))
    user = user_line.split()[1]
    assert user.startswith("cli-") and len(user) == len("cli-") + 8
    assert any(session.user == user for session in dev.emulator.sessions.values())


def test_send_hosted_needs_a_workflow(dev: RunningDev) -> None:
    result = run(["--base-url", dev.base_url, "--api-key", dev.api_key, "send", "hi"])
    assert result.exit_code == 2
    assert "--workflow" in result.stderr


def test_api_error_shows_status_and_request_id_but_never_the_key(dev: RunningDev) -> None:
    secret_key = "sk-wrong-key-that-must-not-leak-12345"
    result = run(["--base-url", dev.base_url, "--api-key", secret_key, "--workflow", "wf_demo", "send", "hi"])
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: 401 ")
    assert "[request id: " in line
    assert secret_key not in result.output
    assert secret_key[:12] not in result.output


def test_server_error_after_retries(dev: RunningDev) -> None:
    dev.emulator.fail_next(500, path="/chatkit/sessions", times=3)
    result = run([*hosted(dev), "send", "hi"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: 500 ")


def test_connection_refused_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(["--server-url", f"http://127.0.0.1:{port}/chatkit", "send", "hi"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1


# -- threads ---------------------------------------------------------------------------------------
def test_threads_over_the_protocol(dev: RunningDev) -> None:
    thread = thread_of(run([*local(dev), "send", "threads demo"]))

    listed = run([*local(dev), "threads", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert thread in [entry["id"] for entry in json_lines(listed.stdout)]
    table = run([*local(dev), "threads", "list", "--limit", "500"])
    assert any(line.startswith(thread) and "threads demo" in line for line in table.stdout.splitlines())

    shown = run([*local(dev), "threads", "show", thread])
    assert f"id:      {thread}" in shown.stdout and "title:   threads demo" in shown.stdout
    assert json.loads(run([*local(dev), "threads", "show", thread, "--json"]).stdout)["title"] == "threads demo"

    items = run([*local(dev), "threads", "items", thread])
    assert "user_message" in items.stdout and "You said: threads demo" in items.stdout

    renamed = run([*local(dev), "threads", "rename", thread, "A new title"])
    assert renamed.exit_code == 0, renamed.output
    assert renamed.stdout.strip() == f"renamed {thread}: A new title"
    assert json.loads(run([*local(dev), "threads", "show", thread, "--json"]).stdout)["title"] == "A new title"

    deleted = run([*local(dev), "threads", "delete", thread])
    assert deleted.stdout.strip() == f"deleted {thread}"
    missing = run([*local(dev), "threads", "show", thread])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: ")


def test_threads_list_limit(dev: RunningDev) -> None:
    for text in ("a", "b", "c"):
        run([*local(dev), "send", text])
    listed = run([*local(dev), "threads", "list", "--json", "--limit", "2"])
    assert len(json_lines(listed.stdout)) == 2


def test_threads_through_the_hosted_admin_api(dev: RunningDev) -> None:
    thread = thread_of(run([*hosted(dev, user="user_admin"), "send", "admin view"]))
    run([*hosted(dev, user="user_other"), "send", "someone else"])
    admin = ["--base-url", dev.base_url, "--api-key", dev.api_key]

    listed = json_lines(run([*admin, "--user", "user_admin", "threads", "list", "--json"]).stdout)
    assert [entry["id"] for entry in listed] == [thread]
    assert listed[0]["user"] == "user_admin"
    shown = run([*admin, "threads", "show", thread])
    assert "user:    user_admin" in shown.stdout
    items = json_lines(run([*admin, "threads", "items", thread, "--json"]).stdout)
    types = [item["type"] for item in items]
    assert types[0].endswith("user_message") and types[-1].endswith("assistant_message")

    rename = run([*admin, "threads", "rename", thread, "nope"])
    assert rename.exit_code == 2  # a usage error: this backend cannot do it
    assert "cannot rename" in rename.stderr

    deleted = run([*admin, "threads", "delete", thread, "--json"])
    assert json.loads(deleted.stdout) == {"id": thread, "deleted": True}
    assert json_lines(run([*admin, "--user", "user_admin", "threads", "list", "--json"]).stdout) == []


def test_threads_with_a_session_secret_go_over_the_protocol(dev: RunningDev) -> None:
    created = run([*hosted(dev, user="user_secret"), "sessions", "create"])
    secret = json.loads(created.stdout)["client_secret"]
    base = ["--base-url", dev.base_url, "--client-secret", secret]
    thread = thread_of(run([*base, "send", "with secret"]))
    renamed = run([*base, "threads", "rename", thread, "Via protocol"])
    assert renamed.exit_code == 0, renamed.output
    assert dev.emulator.threads[thread].title == "Via protocol"
    assert secret not in renamed.output


def test_threads_admin_api_needs_a_key() -> None:
    result = run(["--client-secret", "", "threads", "list"])
    assert result.exit_code == 2


# -- sessions --------------------------------------------------------------------------------------
def test_sessions_create_prints_the_session_with_its_secret(dev: RunningDev) -> None:
    result = run(
        [
            *hosted(dev, user=None),
            "sessions",
            "create",
            "--user",
            "user_s",
            "--expires-in",
            "120",
            "--uploads",
            "--max-requests",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    session = json.loads(result.stdout)
    assert session["user"] == "user_s"
    assert session["workflow"]["id"] == "wf_demo"
    assert session["client_secret"].startswith("ek_")
    assert session["chatkit_configuration"]["file_upload"]["enabled"] is True
    assert session["rate_limits"]["max_requests_per_1_minute"] == 7
    stored = dev.emulator.sessions[session["id"]]
    assert abs(stored.expires_at - stored.created_at - 120) < 2


def test_sessions_cancel_hides_the_secret(dev: RunningDev) -> None:
    session = json.loads(run([*hosted(dev), "sessions", "create"]).stdout)
    result = run([*hosted(dev), "sessions", "cancel", session["id"]])
    assert result.exit_code == 0, result.output
    cancelled = json.loads(result.stdout)
    assert cancelled["id"] == session["id"]
    assert cancelled["status"] == "cancelled"
    assert "client_secret" not in cancelled and session["client_secret"] not in result.output


def test_sessions_need_the_hosted_api(dev: RunningDev) -> None:
    result = run([*local(dev), "sessions", "create", "--workflow", "wf_demo"])
    assert result.exit_code == 2
    assert "hosted" in result.stderr
    no_key = run(["--base-url", dev.base_url, "--client-secret", "ek_x", "sessions", "cancel", "cksess_1"])
    assert no_key.exit_code == 2
    assert "API key" in no_key.stderr


def test_sessions_expires_in_out_of_range_is_a_usage_error(dev: RunningDev) -> None:
    result = run([*hosted(dev), "sessions", "create", "--expires-in", "601"])
    assert result.exit_code == 2


# -- upload ----------------------------------------------------------------------------------------
def test_upload_self_hosted(dev: RunningDev, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hello")
    result = run([*local(dev), "upload", str(path)])
    assert result.exit_code == 0, result.output
    (uploaded,) = json_lines(result.stdout)
    assert uploaded["name"] == "a.txt" and uploaded["mime_type"] == "text/plain"


def test_upload_hosted_large_file_with_progress(dev: RunningDev, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(1536 * 1024))
    small = tmp_path / "small.pdf"
    small.write_bytes(b"%PDF-1.4 tiny")
    result = run([*hosted(dev), "upload", str(big), str(small)])
    assert result.exit_code == 0, result.output
    uploaded = json_lines(result.stdout)
    assert [u["name"] for u in uploaded] == ["big.png", "small.pdf"]
    assert dev.emulator.files[uploaded[0]["id"]].size == 1536 * 1024
    assert "big.png" in result.stderr  # the progress bar's label
    assert "small.pdf" not in result.stderr


def test_upload_hosted_with_a_client_secret(dev: RunningDev, tmp_path: Path) -> None:
    secret = json.loads(run([*hosted(dev), "sessions", "create", "--uploads"]).stdout)["client_secret"]
    path = tmp_path / "pic.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    result = run(["--base-url", dev.base_url, "upload", str(path), "--client-secret", secret])
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout)[0]["name"] == "pic.png"
    assert secret not in result.output


def test_upload_rejected_type_is_an_api_error(dev: RunningDev, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("x")
    result = run([*hosted(dev), "upload", str(path)])
    assert result.exit_code == 1
    assert "Error: 400 " in result.stderr and "chatkit.file_upload_type_rejected" in result.stderr


def test_upload_needs_a_path() -> None:
    assert run(["upload"]).exit_code == 2


# -- dev-server ------------------------------------------------------------------------------------
def test_dev_server_busy_port_is_one_error_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run(["dev-server", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")


# -- chat (not a terminal: plain text) -------------------------------------------------------------
def test_chat_multi_turn_with_slash_commands(dev: RunningDev) -> None:
    script = "hello\n/rename Chat title\nsecond\n/threads\n/new\nfresh start\n/help\n/bogus\n/quit\nnever sent\n"
    result = run([*local(dev), "chat"], input=script)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "You said: hello" in out and "You said: second" in out and "You said: fresh start" in out
    assert "renamed: Chat title" in out
    assert re.search(r"\* thr_\w+  Chat title$", out, re.MULTILINE)  # /threads marks the current thread
    assert "/open ID" in out  # the help text
    assert "unknown command /bogus" in out
    assert "never sent" not in out


def test_chat_open_retry_file_and_errors(dev: RunningDev, tmp_path: Path) -> None:
    thread = thread_of(run([*local(dev), "send", "earlier"]))
    path = tmp_path / "doc.txt"
    path.write_bytes(b"123")
    script = f"/open {thread}\n/open thr_missing\nretry\n/retry\n/file {path}\nwith file\n/file nope.txt\nerror\n"
    result = run([*local(dev), "chat"], input=script)
    assert result.exit_code == 1, result.output  # piped, and turns failed
    out = result.stdout
    assert f"opened {thread}: earlier" in out
    assert "Error: " in out  # the missing thread, then the scripted stream error
    assert "Attempt 2 succeeded: You said: retry" in out
    assert "Attachments: doc.txt (text/plain, 3 bytes)" in out
    assert "no such file: nope.txt" in out
    assert "Scripted error" in out
    items = json_lines(run([*local(dev), "threads", "items", thread, "--json", "--limit", "50"]).stdout)
    assert items[0]["content"][0]["text"] == "earlier"
    assert any(item.get("content", [{}])[0].get("text") == "with file" for item in items)


def test_chat_answers_a_client_tool_call(dev: RunningDev) -> None:
    script = 'tool:get_weather {"city": "Paris"}\nnot json\n{"forecast": "sunny"}\n'
    result = run([*local(dev), "chat"], input=script)
    assert result.exit_code == 0, result.output
    assert 'client tool get_weather called with {"city": "Paris"}' in result.stdout
    assert "not JSON" in result.stdout
    assert 'Tool get_weather returned: {"forecast":"sunny"}' in result.stdout


def test_chat_skipping_a_tool_call_leaves_it_pending(dev: RunningDev) -> None:
    result = run([*local(dev), "chat"], input='tool:lookup {"q": 1}\n\n')
    assert result.exit_code == 0, result.output
    assert "skipped: the call stays pending" in result.stdout


def test_chat_hosted(dev: RunningDev) -> None:
    result = run([*hosted(dev, user="user_chat"), "chat"], input="hi from chat\nagain\n")
    assert result.exit_code == 0, result.output
    assert "You said: hi from chat" in result.stdout and "You said: again" in result.stdout
    threads = [t for t in dev.emulator.threads.values() if t.user == "user_chat"]
    assert len(threads) == 1


def test_chat_continues_a_thread_given_on_the_command_line(dev: RunningDev) -> None:
    thread = thread_of(run([*local(dev), "send", "before"]))
    result = run([*local(dev), "chat", "--thread", thread], input="after\n")
    assert f"continuing thread {thread}" in result.stdout
    items = json_lines(run([*local(dev), "threads", "items", thread, "--json"]).stdout)
    assert len(items) == 4
