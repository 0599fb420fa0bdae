"""Turning exceptions into one `Error: ...` line and an exit status."""

from __future__ import annotations

import click

__all__ = ["EXIT_INTERRUPTED", "describe_error"]

EXIT_INTERRUPTED = 130
"""128 + SIGINT, what shells report for a command stopped with Ctrl-C."""


def describe_error(err: BaseException) -> str:
    """One line for the user; for API errors the status code and request id, never a secret.

    The server wrote most of it, so control characters come out escaped (see `_terminal_text`).
    """
    from ._terminal_text import neutralise

    return neutralise(_describe(err), multiline=False)


def _describe(err: BaseException) -> str:
    from .._exceptions import APIStatusError, StreamError

    if isinstance(err, APIStatusError):
        text = f"{err.status_code} {err.message}"
        if err.code:
            text += f" (code: {err.code})"
        if err.request_id:
            text += f" [request id: {err.request_id}]"
        return text
    if isinstance(err, StreamError):
        hint = " (the server allows a retry)" if err.allow_retry else ""
        return f"the server reported an error in the stream: {err.error_message or err.code}{hint}"
    if isinstance(err, click.ClickException):
        return err.format_message()
    message = str(err).strip()
    return message or type(err).__name__
