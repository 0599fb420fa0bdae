"""The installed `chatkit` as real processes: against `chatkit dev-server`, and `chatkit chat` in a pseudo-terminal."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

CHATKIT = str(Path(sys.executable).with_name("chatkit"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def restore_sigint() -> None:
    """In the child, before exec: SIGINT back to its default action.

    A shell running `make test` in the background (or nohup, or some CI runners) starts us with SIGINT
    ignored, and an ignored signal stays ignored across fork and exec; Python then installs no
    KeyboardInterrupt handler, and the Ctrl-C these tests send would do nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def dev_server() -> Iterator[str]:
    """`chatkit dev-server` as a real process; yields its origin and stops it with Ctrl-C (SIGINT)."""
    port = _free_port()
    proc = subprocess.Popen(
        [CHATKIT, "dev-server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        preexec_fn=restore_sigint,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("dev-server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # The banner names both endpoints and the commands to copy.
    assert f"chatkit --server-url http://127.0.0.1:{port}/chatkit chat" in out
    assert f"--base-url http://127.0.0.1:{port}/v1 --api-key sk-test-emulator --workflow wf_demo chat" in out
    assert proc.returncode == 130, err


def _chatkit(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    # subprocess.run kills the child when the timeout expires.
    return subprocess.run([CHATKIT, *args], capture_output=True, text=True, input=input, env=_env(), timeout=60)


def test_installed_chatkit_against_dev_server(dev_server: str) -> None:
    local = ["--server-url", f"{dev_server}/chatkit"]
    sent = _chatkit(*local, "send", "hello process")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "You said: hello process\n"
    thread = sent.stderr.strip().removeprefix("thread: ")

    listed = _chatkit(*local, "threads", "list", "--json")
    assert thread in [json.loads(line)["id"] for line in listed.stdout.splitlines()]

    hosted = ["--base-url", f"{dev_server}/v1", "--api-key", "sk-test-emulator", "--workflow", "wf_demo"]
    piped = _chatkit(*hosted, "--user", "u1", "send", "-", "--json", input="from stdin")
    assert piped.returncode == 0, piped.stderr
    events = [json.loads(line) for line in piped.stdout.splitlines()]
    assert events[0]["type"] == "thread.created"
    assert piped.stderr.strip().startswith("thread: cthr_")

    refused = _chatkit("--server-url", f"http://127.0.0.1:{_free_port()}/chatkit", "send", "hi")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: ") and "Traceback" not in refused.stderr


def test_ctrl_c_during_send_exits_130(dev_server: str) -> None:
    proc = subprocess.Popen(
        [CHATKIT, "--server-url", f"{dev_server}/chatkit", "send", "slow 200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        preexec_fn=restore_sigint,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(3)  # "w0 ": the answer has started
        assert first == "w0 "
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert not out.rstrip().endswith("w199")


def test_chat_in_a_pseudo_terminal(dev_server: str) -> None:
    child = pexpect.spawn(
        CHATKIT,
        ["--server-url", f"{dev_server}/chatkit", "chat"],
        env={**_env(), "TERM": "xterm", "COLUMNS": "100", "LINES": "30"},
        encoding="utf-8",
        timeout=30,
        dimensions=(30, 100),
        preexec_fn=restore_sigint,
    )
    try:
        child.expect_exact("you> ")
        child.sendline("hello pty")
        child.expect_exact("You said: hello pty")
        child.expect_exact("you> ")
        child.sendline("/rename Terminal talk")
        child.expect_exact("renamed: Terminal talk")
        child.expect_exact("you> ")
        child.sendline("second turn")
        child.expect_exact("You said: second turn")
        child.expect_exact("you> ")
        child.sendline("/threads")
        child.expect_exact("Terminal talk")
        child.expect_exact("you> ")
        # Ctrl-C stops the answer being streamed, and the conversation goes on.
        child.sendline("slow 200")
        child.expect_exact("w1 ")
        child.sendintr()
        child.expect_exact("[stopped]")
        child.expect_exact("you> ")
        child.sendline("still here")
        child.expect_exact("You said: still here")
        child.expect_exact("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
