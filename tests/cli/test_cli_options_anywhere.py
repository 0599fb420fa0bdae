"""The target options work before or after the command, at any depth; after the command wins."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from chatkit_client import StreamError
from chatkit_client.cli._app import TARGET_OPTIONS, cli
from chatkit_client.testing import serve_dev, serve_local_server
from chatkit_client.testing._dev import RunningDev
from tests.cli.runner import run
from tests.cli.test_cli_commands import _all_commands


@pytest.fixture(scope="module")
def dev() -> Iterator[RunningDev]:
    with serve_dev() as running:
        yield running


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/chatkit"


def test_send_with_the_server_url_after_the_text(dev: RunningDev) -> None:
    result = run(["send", "hi", "--server-url", dev.server_url])
    assert result.exit_code == 0, result.output
    assert result.stdout == "You said: hi\n"


def test_nested_group_takes_them_after_either_name(dev: RunningDev) -> None:
    run(["send", "nested", "--server-url", dev.server_url])
    for args in (
        ["threads", "list", "--json", "--server-url", dev.server_url],
        ["threads", "--server-url", dev.server_url, "list", "--json"],
    ):
        result = run(args)
        assert result.exit_code == 0, result.output
        assert "nested" in [json.loads(line)["title"] for line in result.stdout.splitlines()]


def test_after_the_command_wins(dev: RunningDev) -> None:
    result = run(["--server-url", _refused_url(), "send", "hi", "--server-url", dev.server_url])
    assert result.exit_code == 0, result.output
    before_wins = run(["--server-url", dev.server_url, "send", "hi", "--server-url", _refused_url()])
    assert before_wins.exit_code == 1  # the refused one, given after, was used


def test_hosted_options_after_the_command(dev: RunningDev) -> None:
    wrong = ["--api-key", "sk-wrong", "--workflow", "wf_nope"]
    right = ["--base-url", dev.base_url, "--api-key", dev.api_key, "--workflow", "wf_demo", "--user", "u_after"]
    result = run([*wrong, "send", "hosted after", *right])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "You said: hosted after"
    assert any(session.user == "u_after" for session in dev.emulator.sessions.values())


def test_headers_after_the_command_reach_the_server_and_override() -> None:
    with serve_local_server(required_headers={"X-Token": "right"}) as server:
        ok = run(["--header", "X-Token: wrong", "send", "hi", "--server-url", server.url, "--header", "X-Token: right"])
        assert ok.exit_code == 0, ok.output
        refused = run(["--server-url", server.url, "send", "hi", "--header", "X-Token: wrong"])
        assert refused.exit_code == 1 and "401" in refused.stderr
        bad = run(["send", "hi", "--server-url", server.url, "--header", "no colon"])
        assert bad.exit_code == 2 and "Name: value" in bad.stderr


def test_debug_after_the_command(dev: RunningDev) -> None:
    result = run(["send", "error", "--server-url", dev.server_url, "--debug"])
    assert isinstance(result.exception, StreamError)


def test_a_bad_url_after_the_command_is_a_usage_error() -> None:
    result = run(["send", "hi", "--server-url", "localhost:8000"])
    assert result.exit_code == 2
    assert "http:// or https://" in result.stderr


@pytest.mark.parametrize("path", [p for p in _all_commands(cli, []) if p], ids=" ".join)
@pytest.mark.parametrize("option", [decls[0] for decls, _attr, _settings in TARGET_OPTIONS])
def test_every_command_accepts_every_target_option_after_its_name(path: list[str], option: str) -> None:
    value = [] if option == "--debug" else ["http://127.0.0.1:1/x" if option.endswith("-url") else "a: b"]
    # --help stops before the command runs; an unknown option would fail the parse before that.
    result = run([*path, option, *value, "--help"])
    assert result.exit_code == 0, result.output


def test_a_command_added_later_gets_them_from_its_group() -> None:
    from chatkit_client.cli._app import Target, _Group

    seen: dict[str, object] = {}

    @click.group(cls=_Group)
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = Target()

    @root.group()
    def sub() -> None:
        """A sub-group made without cls: it is a _Group too."""

    @sub.command("new")
    @click.pass_context
    def new(ctx: click.Context) -> None:
        target = ctx.find_object(Target)
        assert target is not None
        seen.update(server_url=target.server_url, user=target.user, debug=target.debug)

    result = CliRunner().invoke(root, ["sub", "new", "--server-url", "http://h/x", "--user", "u", "--debug"])
    assert result.exit_code == 0, result.output
    assert seen == {"server_url": "http://h/x", "user": "u", "debug": True}
