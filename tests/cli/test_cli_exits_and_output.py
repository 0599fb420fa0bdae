"""Exit statuses, piped output and the small things issue 8 found: usage errors exit 2, piped chat fails
when a turn failed, piped tables carry no padding, uploads print no spent descriptor, `//text` sends
`/text`, and `chatkit dev-server` answers before its local server has finished loading."""

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

import pytest

from chatkit_client.testing import serve_dev
from chatkit_client.testing._dev import RunningDev
from tests.cli.runner import run
from tests.cli.test_cli_processes import restore_sigint


@pytest.fixture(scope="module")
def dev() -> Iterator[RunningDev]:
    with serve_dev() as running:
        yield running


# -- usage errors exit 2 ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--server-url", "localhost:8000", "send", "hi"],
        ["--server-url", "http://", "send", "hi"],
        ["send", "hi", "--server-url", "127.0.0.1:8000/chatkit"],
        ["--base-url", "api.example.com/v1", "--api-key", "sk-x", "--workflow", "wf", "send", "hi"],
    ],
    ids=["no scheme", "no host", "no scheme after the command", "base url without scheme"],
)
def test_a_url_that_is_no_url_exits_2_before_any_request(args: list[str]) -> None:
    result = run(args)
    assert result.exit_code == 2, result.output
    assert "http:// or https://" in result.stderr
    assert "Traceback" not in result.output


def test_a_url_from_the_environment_is_checked_too() -> None:
    result = run(["send", "hi"], env={"CHATKIT_SERVER_URL": "localhost:8000"})
    assert result.exit_code == 2
    assert "CHATKIT_SERVER_URL" in result.stderr or "--server-url" in result.stderr


def test_input_the_client_refuses_exits_2(dev: RunningDev) -> None:
    # The library's InvalidInputError (refused before any request) is a usage error on the command line.
    result = run(["--base-url", dev.base_url, "--api-key", dev.api_key, "threads", "show", " "])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ")


# -- piped chat ------------------------------------------------------------------------------------
def test_piped_chat_exits_1_when_a_turn_failed(dev: RunningDev) -> None:
    failed = run(["--server-url", dev.server_url, "chat"], input="hello\nerror\nafter\n")
    assert failed.exit_code == 1, failed.output
    assert "You said: after" in failed.stdout  # the conversation still went on
    fine = run(["--server-url", dev.server_url, "chat"], input="hello\n")
    assert fine.exit_code == 0, fine.output


def test_a_message_starting_with_a_slash_is_sent_with_a_double_slash(dev: RunningDev) -> None:
    result = run(["--server-url", dev.server_url, "chat"], input="//help me\n/help\n")
    assert result.exit_code == 0, result.output
    assert "You said: /help me" in result.stdout
    assert "//TEXT" in result.stdout  # /help still runs the command, and names the escape


# -- piped tables ----------------------------------------------------------------------------------
def test_piped_tables_are_neither_padded_nor_wrapped(dev: RunningDev) -> None:
    long_text = "wide " + "x" * 300
    sent = run(["--server-url", dev.server_url, "send", long_text])
    thread = sent.stderr.strip().splitlines()[-1].removeprefix("thread: ")
    listed = run(["--server-url", dev.server_url, "threads", "list", "--limit", "3"])
    items = run(["--server-url", dev.server_url, "threads", "items", thread])
    for result in (listed, items):
        assert result.exit_code == 0, result.output
        assert all(line == line.rstrip() for line in result.stdout.splitlines()), result.stdout
    assert items.stdout.split()[:2] == ["id", "type"]
    rows = items.stdout.splitlines()[1:]
    assert len(rows) == 2  # one line per item, however long
    assert rows[1].endswith("You said: " + long_text)


# -- upload ----------------------------------------------------------------------------------------
def test_upload_prints_the_attachment_without_where_it_was_sent(dev: RunningDev, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hello")
    local = run(["--server-url", dev.server_url, "upload", str(path)])
    assert local.exit_code == 0, local.output
    picture = tmp_path / "p.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    hosted_target = ["--base-url", dev.base_url, "--api-key", dev.api_key, "--workflow", "wf", "--user", "u"]
    hosted = run([*hosted_target, "upload", str(picture)])
    assert hosted.exit_code == 0, hosted.output
    for result in (local, hosted):
        (uploaded,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert uploaded["id"] and uploaded["name"] in ("a.txt", "p.png")
        assert "upload_descriptor" not in uploaded and "upload_url" not in uploaded


# -- dev-server --------------------------------------------------------------------------------------
_GATED_DEV_SERVER = """
import importlib.abc, os, sys, time
gate, port = sys.argv[1], sys.argv[2]

class Gate(importlib.abc.MetaPathFinder):
    # Holds the import of openai-chatkit's server (the slow part of start-up) until the test opens the gate.
    def find_spec(self, name, path, target=None):
        if name == "chatkit.server":
            while not os.path.exists(gate):
                time.sleep(0.02)
        return None

sys.meta_path.insert(0, Gate())
sys.argv = ["chatkit", "dev-server", "--port", port]
from chatkit_client.cli import main
main()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(port: int, path: str, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return conn.recv(64)


def test_dev_server_answers_while_the_local_server_still_loads(tmp_path: Path) -> None:
    gate, port = tmp_path / "gate", _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    proc = subprocess.Popen(
        [sys.executable, "-c", _GATED_DEV_SERVER, str(gate), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=restore_sigint,
    )
    try:
        deadline = time.monotonic() + 60
        answer = b""
        while not answer:
            try:
                # The hosted emulator answers (404 for an unknown path) though chatkit.server is not imported.
                answer = _get(port, "/v1/nothing", timeout=30)
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "dev-server never answered"
                time.sleep(0.05)
        assert answer.startswith(b"HTTP/1.1 404")
        # A request to the local server waits for it rather than failing; it answers once loaded.
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            body = b'{"type": "threads.list", "params": {}}'
            head = f"POST /chatkit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            conn.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + body)
            time.sleep(0.2)
            gate.touch()
            assert conn.recv(64).startswith(b"HTTP/1.1 200")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert f"http://127.0.0.1:{port}/chatkit" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_dev_server_without_openai_chatkit_is_one_error_line() -> None:
    # The local server loads in the background, so its dependency is checked before the server starts.
    code = (
        "import sys\nsys.modules['chatkit'] = None\n"
        "sys.argv = ['chatkit', 'dev-server', '--port', '0']\n"
        "from chatkit_client.cli import main\nmain()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr == "Error: dev-server needs the testing extra: pip install 'chatkit-client[testing]'\n"
