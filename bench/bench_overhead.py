"""Benchmark 3: per-request overhead, `client.sessions.create` against openai's `beta.chatkit.sessions.create`.

Both clients call the same hosted emulator (in a child process, so its CPU does not share the GIL with the
client measured) on a warm connection, alternating call by call so a slow moment hits both alike. Every
session returned must carry a client secret and the workflow asked for. Reported: median and p90 latency
per call, and the client process's CPU time per call (the part of the latency the client library owns).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import openai

from bench._servers import dev_server
from chatkit_client import ChatKit

FULL_CALLS = 300
SMOKE_CALLS = 5
WORKFLOW = "wf_bench"


def run(calls: int = FULL_CALLS) -> dict[str, Any]:
    with dev_server() as server:
        ours = ChatKit(api_key=server.api_key, base_url=server.base_url, max_retries=0)
        peer = openai.OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)

        def call_ours() -> tuple[str, str]:
            session = ours.sessions.create(user="user_bench", workflow=WORKFLOW)
            return session.client_secret, session.workflow.id if session.workflow else ""

        def call_peer() -> tuple[str, str]:
            session = peer.beta.chatkit.sessions.create(user="user_bench", workflow={"id": WORKFLOW})
            return session.client_secret, session.workflow.id

        rows: dict[str, Callable[[], tuple[str, str]]] = {
            "project: ChatKit.sessions.create": call_ours,
            "openai: beta.chatkit.sessions.create": call_peer,
        }
        wall: dict[str, list[float]] = {name: [] for name in rows}
        cpu: dict[str, list[float]] = {name: [] for name in rows}
        try:
            for call in rows.values():  # warm the connection and the lazy imports of both
                call()
            for _ in range(calls):
                for name, call in rows.items():
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    secret, workflow = call()
                    wall[name].append((time.perf_counter() - started) * 1000)
                    cpu[name].append((time.process_time() - cpu_started) * 1000)
                    if not secret or workflow != WORKFLOW:
                        raise AssertionError(f"{name}: unexpected session (workflow {workflow!r})")
        finally:
            ours.close()
            peer.close()

    names = list(rows)
    median = {name: statistics.median(wall[name]) for name in names}
    table = [
        {
            "client": name,
            "median ms": median[name],
            "p90 ms": statistics.quantiles(wall[name], n=10)[-1] if len(wall[name]) > 1 else wall[name][0],
            "client CPU ms/call": statistics.median(cpu[name]),
            "×openai": median[name] / median[names[1]],
        }
        for name in names
    ]
    ratio = median[names[0]] / median[names[1]]
    return {
        "title": f"Per-request overhead: {calls} session creations each against the emulator, interleaved",
        "table": table,
        "median ratio project/openai (goal ≤ 1)": f"{ratio:.2f} {'met' if ratio <= 1 else 'NOT met'}",
        "calls": calls,
        "sessions_correct": True,
        "ratio": ratio,
    }


def main(smoke: bool = False) -> dict[str, Any]:
    return run(SMOKE_CALLS if smoke else FULL_CALLS)


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["overhead", *sys.argv[1:]]))
