"""Benchmark: is `chatkit load` the bottleneck? Turns per second it drives against the replay server.

The replay server (`bench._replay`, a child process writing a pre-encoded turn as fast as the socket takes
it) is far cheaper per event than any client, so the client process sets the pace. In one client process
(one core: one event loop), for the same time and the same number of concurrent conversations, three ways
of making the same requests (`threads.create` with one message, the whole stream read) are timed:

- `chatkit load`: the load engine (`chatkit_client.load.run_load`, closed model), which times every event
  and records histograms;
- AsyncChatKit alone: the same client with nobody measuring (`chat.stream`, every event iterated), to
  separate the engine's own cost from the client's;
- bare httpx2: `httpx2.AsyncClient.stream` + `EventSource` + `json.loads` on every event, text deltas
  joined by hand (the floor a hand-written load script would reach).

Reported, median of interleaved runs: turns per wall second, and turns per second of the client process's
CPU time (what one fully used core drives; steadier on a shared machine), and the ratio engine / bare
httpx2, whose goal is at least 0.8. Every reply is checked (the engine's delta count, the others' text).
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from typing import Any

from bench._replay import expected_text, replay_server
from bench._servers import run_child

GOAL = 0.8
FULL_DELTAS = (20, 200)
SMOKE_DELTAS = (5,)
FULL_USERS = 32
SMOKE_USERS = 4


def _body(text: str) -> dict[str, Any]:
    user_input = {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}
    return {"type": "threads.create", "params": {"input": user_input}}


async def _engine(url: str, users: int, seconds: float, deltas: int) -> tuple[int, bool]:
    from chatkit_client.load import LoadPlan, LoadTarget, run_load

    report = await run_load(LoadPlan(duration=seconds, users=users, messages=["hello"]), LoadTarget(server_url=url))
    m = report.metrics
    return m.turns, m.failed == 0 and m.turns > 0 and m.deltas == m.turns * deltas


async def _client_alone(url: str, users: int, seconds: float, deltas: int) -> tuple[int, bool]:
    from chatkit_client import AsyncChatKit

    want = expected_text(deltas)
    done = 0
    correct = True
    async with AsyncChatKit(server_url=url, max_retries=0) as client:
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal done, correct
            while time.perf_counter() < deadline:
                async with client.chat().stream("hello") as stream:
                    async for _ in stream:
                        pass
                correct = correct and stream.reply.text == want
                done += 1

        await asyncio.gather(*(user() for _ in range(users)))
    return done, correct


async def _bare(url: str, users: int, seconds: float, deltas: int) -> tuple[int, bool]:
    import httpx2

    want = expected_text(deltas)
    body = _body("hello")
    done = 0
    correct = True
    limits = httpx2.Limits(max_connections=users + 10, max_keepalive_connections=users + 10)
    async with httpx2.AsyncClient(timeout=60, limits=limits) as http:
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal done, correct
            while time.perf_counter() < deadline:
                parts: list[str] = []
                async with http.stream("POST", url, json=body, headers={"accept": "text/event-stream"}) as response:
                    response.raise_for_status()
                    async for sse in httpx2.EventSource(response):
                        event = json.loads(sse.data)
                        update = event.get("update")
                        if update and update.get("type") == "assistant_message.content_part.text_delta":
                            parts.append(update["delta"])
                correct = correct and "".join(parts) == want
                done += 1

        await asyncio.gather(*(user() for _ in range(users)))
    return done, correct


VARIANTS = {"engine": _engine, "client": _client_alone, "bare": _bare}


def client_child(url: str, users: int, seconds: float, deltas: int, runs: int) -> dict[str, Any]:
    """Runs in a fresh interpreter: every variant `runs` times, interleaved.

    Per run: turns per wall second, and turns per second of this process's CPU time (the server is another
    process): on a shared machine the second is the steadier measure of what one core can drive.
    """

    async def main() -> dict[str, Any]:
        wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
        cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
        correct = True
        for variant in VARIANTS.values():  # warm imports and connections outside the timing
            await variant(url, 2, 0.05, deltas)
        for _ in range(runs):
            for name, variant in VARIANTS.items():
                gc.collect()
                cpu_started = time.process_time()
                started = time.perf_counter()
                turns, ok = await variant(url, users, seconds, deltas)
                wall[name].append(turns / (time.perf_counter() - started))
                cpu[name].append(turns / max(time.process_time() - cpu_started, 1e-9))
                correct = correct and ok
        return {"wall": wall, "cpu": cpu, "correct": correct}

    return asyncio.run(main())


def run(
    deltas: tuple[int, ...] = FULL_DELTAS, users: int = FULL_USERS, seconds: float = 3.0, runs: int = 5
) -> dict[str, Any]:
    table: list[dict[str, Any]] = []
    ratios: dict[str, float] = {}
    with replay_server() as server:
        for n in deltas:
            got = run_child(
                "bench_load", "client_child", url=server.url(n), users=users, seconds=seconds, deltas=n, runs=runs
            )
            if not got["correct"]:
                raise AssertionError(f"a reply of the {n}-delta runs was wrong")
            for measure, label in (("wall", "turns/s"), ("cpu", "turns per CPU s")):
                rate = {name: statistics.median(values) for name, values in got[measure].items()}
                ratio = rate["engine"] / rate["bare"]
                ratios[f"{n} {measure}"] = ratio
                table.append(
                    {
                        "deltas": n,
                        "measure": label,
                        "chatkit load": rate["engine"],
                        "AsyncChatKit alone": rate["client"],
                        "bare httpx2": rate["bare"],
                        "load / bare": ratio,
                        "load / client alone": rate["engine"] / rate["client"],
                        f"goal ≥ {GOAL}": "met" if ratio >= GOAL else "NOT met",
                    }
                )
    return {
        "title": (
            f"Load engine overhead: turns/s on one client process, {users} concurrent conversations, "
            f"{seconds:g} s per run, median of {runs}, against the replay server"
        ),
        "table": table,
        "replies_correct": True,
        "ratios": ratios,
        "users": users,
    }


def main(smoke: bool = False) -> dict[str, Any]:
    if smoke:
        return run(SMOKE_DELTAS, SMOKE_USERS, seconds=0.3, runs=1)
    return run()


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["load", *sys.argv[1:]]))
