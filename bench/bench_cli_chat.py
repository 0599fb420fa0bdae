"""Does `chatkit chat` in a terminal render a long answer in time linear in its length?

Both commands run as fresh processes in a pseudo-terminal (pexpect), against the local ChatKit server of
`chatkit_client.testing` (in a child process), with the same answer: the scripted agent's `long N`, one
assistant message of N text deltas (`w0 w1 ... w<N-1>`):

- `chatkit send "long N"`: plain text, one write per delta; the floor;
- `chatkit chat`, then `long N` typed at the prompt: the live Markdown view of a terminal.

Each row is the wall time from spawning the process to its exit (the chat process leaves on Ctrl-D after
the answer and the next prompt), median of the runs. The goal: chat costs at most 1.5 × send.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench._servers import dev_server

GOAL_RATIO = 1.5
FULL_DELTAS = 2000
SMOKE_DELTAS = 50
FULL_RUNS = 3
SMOKE_RUNS = 1
_TIMEOUT = 120.0

_CHATKIT = str(Path(sys.executable).with_name("chatkit"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}
    env.update({"TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"})
    return env


def _spawn(args: list[str]) -> Any:
    import pexpect

    return pexpect.spawn(
        _CHATKIT, args, env=_env(), encoding="utf-8", timeout=_TIMEOUT, dimensions=(30, 100), maxread=65536
    )


def _last_word(deltas: int) -> str:
    return f"w{deltas - 1}"


def time_send(server_url: str, deltas: int) -> float:
    """Seconds from spawn to exit of `chatkit send "long N"` in a pseudo-terminal; checks the answer arrived."""
    import pexpect

    started = time.perf_counter()
    child = _spawn(["--server-url", server_url, "send", f"long {deltas}"])
    try:
        child.expect(pexpect.EOF)
        output = child.before or ""
    finally:
        child.close(force=True)
    elapsed = time.perf_counter() - started
    if _last_word(deltas) not in output or child.exitstatus != 0:
        raise AssertionError(f"chatkit send printed no whole answer (exit {child.exitstatus}): {output[-300:]!r}")
    return elapsed


def time_chat(server_url: str, deltas: int) -> float:
    """Seconds from spawn to exit of `chatkit chat` answering `long N` in a pseudo-terminal, then Ctrl-D."""
    import pexpect

    started = time.perf_counter()
    child = _spawn(["--server-url", server_url, "chat"])
    try:
        child.expect_exact("you> ")
        child.sendline(f"long {deltas}")
        child.expect_exact(_last_word(deltas))
        child.expect_exact("you> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    elapsed = time.perf_counter() - started
    if child.exitstatus != 0:
        raise AssertionError(f"chatkit chat exited with {child.exitstatus}")
    return elapsed


def main(smoke: bool = False) -> dict[str, Any]:
    deltas = SMOKE_DELTAS if smoke else FULL_DELTAS
    runs = SMOKE_RUNS if smoke else FULL_RUNS
    with dev_server() as server:
        sends = [time_send(server.server_url, deltas) for _ in range(runs)]
        chats = [time_chat(server.server_url, deltas) for _ in range(runs)]
    send_s, chat_s = statistics.median(sends), statistics.median(chats)
    ratio = chat_s / send_s
    return {
        "title": f"chatkit chat vs chatkit send in a pseudo-terminal, one answer of {deltas} deltas",
        "table": [
            {"command": "chatkit send (plain)", "median s": send_s, "best s": min(sends), "runs": runs},
            {"command": "chatkit chat (live Markdown)", "median s": chat_s, "best s": min(chats), "runs": runs},
        ],
        "deltas": deltas,
        "chat / send ratio": ratio,
        "goal ratio": GOAL_RATIO,
        "within goal": ratio <= GOAL_RATIO,
    }


if __name__ == "__main__":
    from bench.__main__ import render

    print(render("cli_chat", main(smoke="--smoke" in sys.argv)))
