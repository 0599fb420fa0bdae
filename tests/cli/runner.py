"""One way for the CLI tests to run `chatkit` in-process: a clean environment, `chatkit` as the program name."""

from __future__ import annotations

from collections.abc import Sequence

from click.testing import CliRunner, Result

from chatkit_client.cli._app import cli

# The CLI reads these; a developer's own values must not leak into the tests.
CLEAN_ENV: dict[str, str | None] = {
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": None,
    "CHATKIT_SERVER_URL": None,
    "CHATKIT_WORKFLOW_ID": None,
    "CHATKIT_USER": None,
    "CHATKIT_CLIENT_SECRET": None,
}


def run(args: Sequence[str], *, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """`chatkit ARGS...` through click's CliRunner, with `input` on stdin and `env` over the clean environment."""
    return CliRunner().invoke(cli, list(args), input=input, env={**CLEAN_ENV, **(env or {})}, prog_name="chatkit")
