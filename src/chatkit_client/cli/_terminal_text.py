"""Server text made harmless for a terminal: control characters shown as escapes, never obeyed.

A server (or whoever wrote into a thread) controls titles, answers, error messages and widget texts.
Printed as they are, an escape sequence in them could retitle the window (OSC 0), clear the screen
(CSI 2J), write the clipboard (OSC 52) or hide text. Every control character but a newline and a tab
becomes its visible escape (`\\x1b`, `\\x9b`), so no sequence can start: without its ESC (or C1 byte) the
rest is plain text, and what the server tried stays visible rather than silently dropped.

Only the human-readable output goes through here; `--json` prints JSON, whose strings escape control
characters already.

>>> neutralise("hi \\x1b]0;pwned\\x07there")
'hi \\\\x1b]0;pwned\\\\x07there'
>>> neutralise("two\\nlines", multiline=False)
'two\\\\nlines'
"""

from __future__ import annotations

import re

__all__ = ["DeltaNeutraliser", "neutralise"]

# C0 (but newline and tab), DEL and C1: ESC and CSI/OSC/DCS... introducers all fall in these ranges.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"\\x{ord(char):02x}"


def neutralise(text: str, *, multiline: bool = True) -> str:
    """`text` with every control character escaped; `multiline` keeps newlines and tabs (message text).

    `multiline=False` is for values shown on one line (titles, ids, error lines, table cells): a newline
    there could forge a line of output of its own, so it is escaped too.
    """
    if multiline:
        # Windows line ends are line ends, not a carriage return that could overwrite the line shown.
        text = text.replace("\r\n", "\n")
        return _CONTROL.sub(_escape, text)
    return _CONTROL_ONE_LINE.sub(_escape, text)


class DeltaNeutraliser:
    """`neutralise` for text that arrives in pieces: a `\\r\\n` split across two deltas is still a line end.

    >>> pieces = DeltaNeutraliser()
    >>> pieces.feed("one\\r") + pieces.feed("\\ntwo")
    'one\\ntwo'
    """

    def __init__(self) -> None:
        self._carriage_return = False

    def feed(self, delta: str) -> str:
        if self._carriage_return:
            delta = "\r" + delta
        # Held back until the next piece shows whether it starts a Windows line end.
        self._carriage_return = delta.endswith("\r")
        return neutralise(delta[:-1] if self._carriage_return else delta)

    def end(self) -> None:
        """The message ended: a carriage return still held is dropped (it ended no line)."""
        self._carriage_return = False
