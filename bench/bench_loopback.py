"""Benchmark 2: a 20,000-delta turn over loopback, `Chat.stream` against a bare httpx2 + `EventSource` loop.

The local ChatKit server (its scripted agent's `long N`) runs in a child process, so its CPU does not share
the GIL with the client measured. Both rows send the same `threads.create` request to the same server on a
warm connection and read the whole stream; the bare loop `json.loads` every event (a user of the bare loop
needs the JSON too) and joins the text deltas itself; the project row gets typed events and a finished Reply.
Each row's reply text is checked against the script's before any number counts.

Reported: median throughput in events per second over the whole turn, median time from sending the request
to the first event in hand, and the client process's CPU time per turn (the server is another process, so
this is the client's own cost; on loopback the server, not the client, sets the pace).
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from typing import Any

import httpx2

from bench._servers import dev_server
from chatkit_client import ChatKit

FULL_DELTAS = 20_000
SMOKE_DELTAS = 200


def expected_text(n: int) -> str:
    """What the agent's `long N` script says: the deltas `"w0 "`, `"w1 "`, ... joined."""
    return "".join(f"w{i} " for i in range(n))


def _body(text: str) -> dict[str, Any]:
    user_input = {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}
    return {"type": "threads.create", "params": {"input": user_input}}


def run_project(client: ChatKit, n: int) -> tuple[float, float, float, int, str]:
    """(seconds to the first event, seconds in all, events, reply text) for one turn through `Chat.stream`."""
    chat = client.chat()
    gc.collect()
    cpu = time.process_time()
    started = time.perf_counter()
    first = 0.0
    events = 0
    with chat.stream(f"long {n}") as stream:
        for _ in stream:
            if not events:
                first = time.perf_counter() - started
            events += 1
        reply = stream.get_final_reply()
    total = time.perf_counter() - started
    return first, total, time.process_time() - cpu, events, reply.text


def run_bare(http: httpx2.Client, url: str, n: int) -> tuple[float, float, float, int, str]:
    """The same turn read with httpx2's `EventSource` and `json.loads`, text deltas joined by hand."""
    body = _body(f"long {n}")
    gc.collect()
    cpu = time.process_time()
    started = time.perf_counter()
    first = 0.0
    events = 0
    parts: list[str] = []
    with http.stream("POST", url, json=body, headers={"accept": "text/event-stream"}) as response:
        response.raise_for_status()
        for sse in httpx2.EventSource(response):
            event = json.loads(sse.data)
            if not events:
                first = time.perf_counter() - started
            events += 1
            update = event.get("update")
            if update and update.get("type") == "assistant_message.content_part.text_delta":
                parts.append(update["delta"])
    total = time.perf_counter() - started
    return first, total, time.process_time() - cpu, events, "".join(parts)


def run(n: int = FULL_DELTAS, *, runs: int = 7) -> dict[str, Any]:
    want = expected_text(n)
    samples: dict[str, list[tuple[float, float, float, int]]] = {"project": [], "bare": []}
    with dev_server() as server, ChatKit(server_url=server.server_url, timeout=120) as client:
        with httpx2.Client(timeout=120) as http:
            # One short turn each first, so both rows time a warm connection and warm imports.
            run_project(client, 3)
            run_bare(http, server.server_url, 3)
            for _ in range(runs):
                # Interleaved, so that a slow moment of the machine hits both rows alike.
                for name in ("project", "bare"):
                    if name == "project":
                        first, total, cpu, events, text = run_project(client, n)
                    else:
                        first, total, cpu, events, text = run_bare(http, server.server_url, n)
                    if text != want:
                        raise AssertionError(f"{name}: reply of {len(text)} chars, {len(want)} expected")
                    samples[name].append((first, total, cpu, events))

    def med(name: str, index: int) -> float:
        return statistics.median(s[index] for s in samples[name])

    events = samples["project"][0][3]
    throughput = {name: statistics.median(s[3] / s[1] for s in samples[name]) for name in samples}
    first_ms = {name: med(name, 0) * 1000 for name in samples}
    ratio = throughput["project"] / throughput["bare"]
    first_gap = first_ms["project"] - first_ms["bare"]
    table = [
        {
            "client": "project: Chat.stream (typed events + Reply)",
            "turn ms": med("project", 1) * 1000,
            "events/s": throughput["project"],
            "first event ms": first_ms["project"],
            "client CPU ms": med("project", 2) * 1000,
        },
        {
            "client": "bare: httpx2 + EventSource + json.loads",
            "turn ms": med("bare", 1) * 1000,
            "events/s": throughput["bare"],
            "first event ms": first_ms["bare"],
            "client CPU ms": med("bare", 2) * 1000,
        },
    ]
    return {
        "title": f"Loopback: one turn of {n:,} deltas ({events:,} events) from the local server, median of {runs}",
        "table": table,
        "throughput ratio project/bare (goal ≥ 0.8)": f"{ratio:.2f} {'met' if ratio >= 0.8 else 'NOT met'}",
        "first event gap ms (goal ≤ 5)": f"{first_gap:.2f} {'met' if first_gap <= 5 else 'NOT met'}",
        "deltas": n,
        "events": events,
        "runs": runs,
        "replies_correct": True,
        "throughput_ratio": ratio,
        "first_event_gap_ms": first_gap,
    }


def main(smoke: bool = False) -> dict[str, Any]:
    if smoke:
        return run(SMOKE_DELTAS, runs=1)
    return run()


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["loopback", *sys.argv[1:]]))
