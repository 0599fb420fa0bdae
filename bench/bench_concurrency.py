"""Benchmark 4: 500 concurrent streamed turns from one `AsyncChatKit` against the local server.

The local ChatKit server runs in a child process; the client runs in another fresh child, so its peak RSS
(`VmHWM`, see `bench._servers.peak_rss_mb`) belongs to this benchmark alone. Every turn is a new thread
streamed with `AsyncChat.stream`, and every reply must be exactly what the scripted agent says
(`You said: <text>`), with no error raised. Reported: wall time, turns per second, peak RSS, and RSS before
the turns (the interpreter with the client imported).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench._servers import current_rss_mb, dev_server, peak_rss_mb, run_child

FULL_TURNS = 500
SMOKE_TURNS = 20
RSS_GOAL_MB = 300


def client_child(server_url: str, turns: int) -> dict[str, Any]:
    """Runs in the measured child process: `turns` concurrent streamed turns; counts and timings."""
    from chatkit_client import AsyncChatKit

    async def turn(client: AsyncChatKit, i: int) -> tuple[bool, int]:
        text = f"turn {i} of the concurrency benchmark"
        events = 0
        async with client.chat().stream(text) as stream:
            async for _ in stream:
                events += 1
            reply = await stream.get_final_reply()
        return reply.text == f"You said: {text}" and not reply.errors, events

    async def main() -> dict[str, Any]:
        async with AsyncChatKit(server_url=server_url, timeout=300, max_retries=0) as client:
            await turn(client, -1)  # imports, connection and first-call work outside the timing
            before = current_rss_mb()
            started = time.perf_counter()
            results = await asyncio.gather(*(turn(client, i) for i in range(turns)), return_exceptions=True)
            wall = time.perf_counter() - started
        errors = [r for r in results if isinstance(r, BaseException)]
        correct = sum(1 for r in results if not isinstance(r, BaseException) and r[0])
        events = sum(r[1] for r in results if not isinstance(r, BaseException))
        return {
            "wall_s": wall,
            "correct": correct,
            "errors": len(errors),
            "first_error": repr(errors[0]) if errors else "",
            "events": events,
            "rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb(),
        }

    return asyncio.run(main())


def run(turns: int = FULL_TURNS) -> dict[str, Any]:
    with dev_server() as server:
        got = run_child("bench_concurrency", "client_child", server_url=server.server_url, turns=turns)
    if got["errors"] or got["correct"] != turns:
        raise AssertionError(
            f"{got['correct']} of {turns} replies correct, {got['errors']} errors; first: {got['first_error']}"
        )
    met = got["peak_rss_mb"] < RSS_GOAL_MB
    table = [
        {
            "client": "project: AsyncChatKit, one process",
            "turns": turns,
            "correct": got["correct"],
            "errors": got["errors"],
            "events": got["events"],
            "wall s": got["wall_s"],
            "turns/s": turns / got["wall_s"],
            "RSS before MB": got["rss_before_mb"],
            "peak RSS MB": got["peak_rss_mb"],
            f"goal < {RSS_GOAL_MB} MB": "met" if met else "NOT met",
        }
    ]
    return {
        "title": f"Concurrency: {turns} concurrent streamed turns against the local server",
        "table": table,
        "turns": turns,
        "replies_correct": True,
        "errors": got["errors"],
        "wall_s": got["wall_s"],
        "peak_rss_mb": got["peak_rss_mb"],
    }


def main(smoke: bool = False) -> dict[str, Any]:
    return run(SMOKE_TURNS if smoke else FULL_TURNS)


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["concurrency", *sys.argv[1:]]))
