"""Benchmark 7: does Reply assembly stay linear? 10,000 against 100,000 deltas.

The same hosted-shaped turn as `bench_decode` at two sizes. Two rows: assembly alone (events parsed
beforehand, then `ReplyBuilder.apply` for each and `reply().text`), and the whole typed path from 1 KiB
chunks of bytes (`SSEDecoder` -> `parse_event` -> `ReplyBuilder` -> `reply().text`). Ten times the deltas
should cost about ten times the time; the goal allows 12. Each run's reply text is checked first. The
prepared input is frozen out of the garbage collector's sight while the rows run (`gc.freeze`): else the
collector's passes over 100,000 parsed events, which no real turn holds, weigh on the large size.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

from bench.bench_decode import build_events, build_stream, chunked, decode_typed, expected_text
from chatkit_client._core.reply import ReplyBuilder
from chatkit_client.types import ThreadStreamEvent, parse_event

SIZES = (10_000, 100_000)
SMOKE_SIZES = (200, 2_000)
RATIO_GOAL = 12.0


def assemble(events: list[ThreadStreamEvent]) -> str:
    builder = ReplyBuilder()
    for event in events:
        builder.apply(event)
    return builder.reply().text


def _typed_text(chunks: list[bytes]) -> str:
    return decode_typed(chunks).text


def _timed(work: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = work(*args)
    return (time.perf_counter() - started) * 1000, result


def run(sizes: tuple[int, int] = SIZES, *, runs: int = 5) -> dict[str, Any]:
    small, large = sizes
    ms: dict[str, dict[int, float]] = {"assembly": {}, "typed path": {}}
    for n in sizes:
        want = expected_text(n)
        events = [parse_event(data) for data in build_events(n)]
        chunks = chunked(build_stream(n), 1024)
        samples: dict[str, list[float]] = {name: [] for name in ms}
        # The prepared input (100,000 parsed events at the large size) is the benchmark's, not the path's: out
        # of the collector's sight, so that its full passes over them do not land in the timed work.
        gc.collect()
        gc.freeze()
        for _ in range(runs):
            took, text = _timed(assemble, events)
            if text != want:
                raise AssertionError(f"assembly of {n} events: wrong reply text")
            samples["assembly"].append(took)
            took, reply = _timed(_typed_text, chunks)
            if reply != want:
                raise AssertionError(f"typed path over {n} events: wrong reply text")
            samples["typed path"].append(took)
        gc.unfreeze()
        del events, chunks
        for name in ms:
            ms[name][n] = statistics.median(samples[name])
    table = []
    for name in ms:
        ratio = ms[name][large] / ms[name][small]
        table.append(
            {
                "path": name,
                f"{small:,} ms": ms[name][small],
                f"{large:,} ms": ms[name][large],
                "ratio": ratio,
                f"goal ≤ {RATIO_GOAL:g}": "met" if ratio <= RATIO_GOAL else "NOT met",
            }
        )
    return {
        "title": f"Scaling: Reply for {small:,} against {large:,} events, median of {runs}",
        "table": table,
        "replies_correct": True,
        "ratios": {name: ms[name][large] / ms[name][small] for name in ms},
    }


def main(smoke: bool = False) -> dict[str, Any]:
    if smoke:
        return run(SMOKE_SIZES, runs=1)
    return run()


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["scaling", *sys.argv[1:]]))
