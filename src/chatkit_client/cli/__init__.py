"""The `chatkit` command: chat, send, threads, sessions, uploads and a local dev server from the terminal.

Needs the `cli` extra (`pip install 'chatkit-client[cli]'`). Run `chatkit --help` for the commands.

>>> from chatkit_client.cli import main
>>> main()  # doctest: +SKIP   (same as running `chatkit` in a shell)
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

__all__ = ["main"]

_MISSING_EXTRA = "chatkit: install the command-line extra: pip install 'chatkit-client[cli]'"


def main() -> None:
    """Run the `chatkit` command with `sys.argv`; exits with the command's status."""
    # find_spec only looks the modules up: importing rich here would cost start-up time on every run.
    if find_spec("click") is None or find_spec("rich") is None:
        print(_MISSING_EXTRA, file=sys.stderr)
        raise SystemExit(1)
    from ._app import cli

    cli(prog_name="chatkit")
