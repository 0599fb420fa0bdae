"""How long does the `chatkit` command take to start and to answer, next to importing the libraries?

Every row is the median wall time of N fresh subprocesses (so it includes interpreter start-up):

- `python -c pass`: the interpreter alone, the floor;
- `python -c "import chatkit_client"` and `python -c "import openai"`: context for what an import costs;
- `chatkit --help`: must stay under 300 ms (it must not import pydantic, rich or httpx2);
- `chatkit send hello` against the local ChatKit server of `chatkit dev-server` (started once, as a subprocess):
  the whole round trip a script pays per message.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

GOAL_HELP_MS = 300.0
FULL_RUNS = 15
SMOKE_RUNS = 2

_CHATKIT = str(Path(sys.executable).with_name("chatkit"))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATKIT_"))}


def _median_ms(argv: list[str], runs: int, *, expect: str | None = None) -> tuple[float, float]:
    """Median and best wall time in ms; checks the output once so a broken command cannot look fast."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), check=True)
        times.append((time.perf_counter() - started) * 1000)
        if expect is not None and expect not in proc.stdout:
            raise RuntimeError(f"{argv!r} printed {proc.stdout[:200]!r}, expected {expect!r}")
    return statistics.median(times), min(times)


def _start_dev_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [_CHATKIT, "dev-server", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env()
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("chatkit dev-server did not start") from None
            time.sleep(0.05)


def main(smoke: bool = False) -> dict[str, Any]:
    runs = SMOKE_RUNS if smoke else FULL_RUNS
    python = sys.executable
    rows: list[dict[str, Any]] = []

    def row(name: str, argv: list[str], expect: str | None = None) -> float:
        median, best = _median_ms(argv, runs, expect=expect)
        rows.append({"command": name, "median ms": median, "best ms": best, "runs": runs})
        return median

    row("python -c pass", [python, "-c", "pass"])
    row("python -c 'import chatkit_client'", [python, "-c", "import chatkit_client"])
    row("python -c 'import chatkit_client; ChatKit'", [python, "-c", "import chatkit_client; chatkit_client.ChatKit"])
    row("python -c 'import openai'", [python, "-c", "import openai"])
    help_ms = row("chatkit --help", [_CHATKIT, "--help"], expect="Usage: chatkit")
    proc, origin = _start_dev_server()
    try:
        send_ms = row(
            "chatkit send hello (local server)",
            [_CHATKIT, "--server-url", f"{origin}/chatkit", "send", "hello"],
            expect="You said: hello",
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {
        "title": "chatkit command: start-up and one turn (median of fresh processes)",
        "table": rows,
        "chatkit --help goal ms": GOAL_HELP_MS,
        "chatkit --help within goal": help_ms < GOAL_HELP_MS,
        "chatkit send ms": send_ms,
    }


if __name__ == "__main__":
    from bench.__main__ import render

    print(render("cli", main(smoke="--smoke" in sys.argv)))
