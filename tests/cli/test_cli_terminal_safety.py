"""Issue 13 item 10: nothing a server sends can drive the terminal (retitle it, clear it, write the clipboard).

The server (`hostile_server.py`) puts escape sequences in a title, an answer, a notice, a widget, a workflow
task, a tool call, the stream's error and an HTTP error. Through CliRunner and through a real pseudo-terminal,
none reaches the output raw; their printable parts still show; `--json` keeps the exact text as JSON escapes.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner, Result

from chatkit_client.cli._app import cli
from chatkit_client.cli._terminal_text import neutralise
from tests.cli.hostile_server import FORBIDDEN, HOSTILE, THREAD_ID
from tests.cli.test_cli_processes import restore_sigint
from tests.reliability.misbehaving_server import MisbehavingServer

CHATKIT = str(Path(sys.executable).with_name("chatkit"))
VISIBLE = neutralise(HOSTILE, multiline=False)  # what a reader sees instead: `A\x1b]52;c;...`


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


def run(server: MisbehavingServer, *args: str, input: str | None = None) -> Result:
    url = server.url("cli_hostile")
    return CliRunner().invoke(cli, ["--server-url", url, *args], input=input, env={"CHATKIT_SERVER_URL": None})


def assert_inert(text: str, *, pty: bool = False) -> None:
    for sequence in FORBIDDEN:
        if pty and sequence == "\r":
            continue  # the terminal's own line ends (\r\n), and rich's cursor moves
        assert sequence not in text, (sequence, text[:2000])


def test_neutralise_escapes_every_control_but_newline_and_tab() -> None:
    assert neutralise("a\x1b[2Jb\tc\nd\r\ne\x9b") == "a\\x1b[2Jb\tc\nd\ne\\x9b"
    assert neutralise("a\tb\nc\rd", multiline=False) == "a\\tb\\nc\\rd"
    assert neutralise("plain — text ✓") == "plain — text ✓"


def test_a_line_end_split_across_deltas_is_a_line_end_and_a_lone_return_is_inert() -> None:
    from chatkit_client.cli._terminal_text import DeltaNeutraliser

    pieces = DeltaNeutraliser()
    assert [pieces.feed(d) for d in ("one\r", "\ntwo\r", "x\x1b", "[2J")] == ["one", "\ntwo", "\\rx\\x1b", "[2J"]
    pieces.end()
    assert pieces.feed("\nnext") == "\nnext"


@pytest.mark.parametrize(
    "args",
    [
        ["send", "hi"],
        ["threads", "list"],
        ["threads", "show", THREAD_ID],
        ["threads", "items", THREAD_ID],
        ["threads", "rename", THREAD_ID, "new"],
        ["chat"],
    ],
    ids=" ".join,
)
def test_server_text_is_inert_and_still_readable(server: MisbehavingServer, args: list[str]) -> None:
    result = run(server, *args, input="hello\n")
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    # The letters around the sequences are all there, and the sequences show as escapes.
    assert "A\\x1b]52;c;cHduZWQ=\\x07B\\x1b[2JC\\x1b]0;pwned title" in result.output


def test_send_shows_every_kind_of_server_text_inert(server: MisbehavingServer) -> None:
    result = run(server, "send", "hi")
    assert result.exit_code == 1  # the stream ends with an error event
    assert "Answer " + neutralise(HOSTILE) + "\nsecond line\twith a tab\n" == result.stdout
    for shown in ("… Progress ", "[info] Notice ", "[widget] Card: Widget ", "[workflow] 1 task(s): Task "):
        assert shown + VISIBLE in result.stderr
    assert "[client tool call] tool\\x1b]0;x\\x07 " in result.stderr
    assert "Error: the server reported an error in the stream: Failure " + VISIBLE in result.stderr


def test_http_error_line_is_inert(server: MisbehavingServer) -> None:
    url = server.url("cli_hostile_http_error")
    result = CliRunner().invoke(cli, ["--server-url", url, "send", "hi"], env={"CHATKIT_SERVER_URL": None})
    assert result.exit_code == 1
    assert_inert(result.stderr)
    assert result.stderr == f"Error: 400 Refused {VISIBLE} (code: bad\\x1b[2J)\n"


def test_json_keeps_the_exact_text_with_every_control_escaped(server: MisbehavingServer) -> None:
    result = run(server, "send", "hi", "--json")
    assert_inert(result.stdout.replace("\n", ""))
    assert not any("\x7f" <= char <= "\x9f" for char in result.stdout)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["thread"]["title"] == "Title " + HOSTILE
    deltas = "".join(e["update"]["delta"] for e in events if e.get("update", {}).get("type", "").endswith("delta"))
    assert deltas.startswith("Answer " + HOSTILE)


def test_rich_table_markup_in_a_title_is_text(server: MisbehavingServer) -> None:
    # rich would read `[link=...]` in a str cell as markup; the cells are Text, so a title is shown as is.
    from rich.console import Console

    from chatkit_client.cli import _render
    from chatkit_client.types import ThreadMetadata

    thread = ThreadMetadata.model_validate(
        {"id": "thr_1", "title": "[link=https://evil.example]click[/link] \x1b]0;t\x07", "created_at": 0}
    )
    out = Console(width=100, force_terminal=True, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    _render.thread_table([thread], out)
    shown = out.export_text()
    out.file.close()
    assert "[link=https://evil.example]click[/link] \\x1b]0;t\\x07" in shown


@pytest.mark.parametrize(
    "args", [["send", "hi"], ["threads", "list"], ["threads", "items", THREAD_ID], ["chat"]], ids=" ".join
)
def test_in_a_pseudo_terminal_nothing_reaches_the_terminal_raw(server: MisbehavingServer, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    child = pexpect.spawn(
        CHATKIT,
        ["--server-url", server.url("cli_hostile"), *args],
        env={**env, "TERM": "xterm-256color", "COLUMNS": "200", "LINES": "40"},
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
        dimensions=(40, 200),
        preexec_fn=restore_sigint,
    )
    seen = io.StringIO()
    child.logfile_read = seen  # everything the terminal would have received
    try:
        if args == ["chat"]:
            child.expect_exact("you> ")
            child.sendline("hello")
            child.expect_exact("you> ")
            child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    output = seen.getvalue()
    assert_inert(output, pty=True)
    # rich may wrap or colour it, but the readable part of the title or answer is on the screen.
    assert "A\\x1b]52;c;cHduZWQ=\\x07B" in output
