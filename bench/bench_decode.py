"""How fast is our SSE decoder on a hosted-shaped turn, next to the decoders we could have used instead?

One deterministic stream of 20,000 events (almost all `thread.item.updated` text deltas, shaped as in
docs/protocol.md §3.2-3.4) is fed in 1 KiB and in 16-byte chunks to each decoder, and every
payload goes through `json.loads`, so each row does the same work as the next. Rows:

- project, decoder only: `chatkit_client._core.sse.SSEDecoder.feed`, on the chunks directly;
- ours via httpx2 Response: the same, fed by `httpx2.Response.iter_bytes()` as the client will run it;
- openai SSEDecoder: `openai._streaming.SSEDecoder().iter_bytes(chunks)`, as openai's `Stream` drives it;
- httpx2 EventSource: `httpx2.EventSource` over an `httpx2.Response` whose body is the chunks in memory
  (so it includes `Response.iter_text()`, which EventSource cannot do without);
- httpx2 _SSEParser: httpx2's internal parser alone, fed str chunks from an incremental UTF-8 decoder;
- floor: split the bytes on blank lines, nothing else (not a correct SSE decoder; the lower bound);
- project, typed: the client's whole path, bytes -> `SSEDecoder` -> `parse_event` (pydantic models) ->
  `ReplyBuilder.apply` -> `reply()`, timed on its own (it does more than `json.loads`, which is the point).

Before timing, every row must return exactly the payloads the stream was built from, and the typed path
must finish a Reply whose text is the concatenation of the stream's deltas.

To add a row (for example the typed path, events -> pydantic models -> Reply), add a function with the
`Driver` signature to `DRIVERS`, or pass it to `run(extra_drivers=...)`; `build_stream()`, `chunked()` and
`expected_payloads()` give the same input.
"""

from __future__ import annotations

import codecs
import gc
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx2
from httpx2._sse import _SSEParser
from openai._streaming import SSEDecoder as OpenAISSEDecoder

from chatkit_client._core.reply import Reply, ReplyBuilder
from chatkit_client._core.sse import SSEDecoder
from chatkit_client.types import parse_event

Load = Callable[[Any], Any]
Driver = Callable[[list[bytes], Load], list[Any]]
"""Decode the chunks of one stream and return `load(data)` for each event, in order."""

FULL_EVENTS = 20_000
SMOKE_EVENTS = 500
CHUNK_SIZES = (1024, 16)

# Words of a French and English answer; a few carry accents, emoji and JSON escapes, as real deltas do.
_TEXT = (
    "the assistant can help with your order and the delivery date bonjour merci à très "
    "bientôt voilà déjà préféré naïve café – “quoted” 😀 🚀 résumé step\\nby\\nstep "
    'tab\there "JSON" value: 42, 3.14 {braces} [list] https://example.com/a?b=c&d=e'
)
_WORDS = _TEXT.split(" ")


def _hex_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice("0123456789abcdef") for _ in range(48))


def _dump(event: dict[str, Any]) -> str:
    # chatkit-python serializes with pydantic's model_dump_json: compact, non-ASCII left as is.
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def build_events(n: int = FULL_EVENTS, *, seed: int = 2026) -> list[str]:
    """The JSON of each of the `n` events of one hosted-shaped turn, deterministic for a seed."""
    if n < 12:
        raise ValueError("a turn needs at least 12 events")
    rng = random.Random(seed)
    thread_id = _hex_id(rng, "cthr_")
    user_id, workflow_id, message_id = (_hex_id(rng, "cti_") for _ in range(3))
    stamp = "2026-01-23T16:15:25.515839"
    thread = {
        "id": thread_id,
        "created_at": stamp,
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": [], "has_more": False},
    }
    user_message = {
        "id": user_id,
        "thread_id": thread_id,
        "created_at": stamp,
        "type": "user_message",
        "content": [{"type": "input_text", "text": "Où en est ma commande ? Where is my order?"}],
        "attachments": [],
        "quoted_text": "",
        "inference_options": {},
    }
    workflow: dict[str, Any] = {
        "id": workflow_id,
        "thread_id": thread_id,
        "created_at": stamp,
        "type": "workflow",
        "workflow": {"type": "reasoning", "tasks": [], "expanded": False},
        "response_items": [],
    }
    message = {
        "id": message_id,
        "thread_id": thread_id,
        "created_at": stamp,
        "type": "assistant_message",
        "content": [],
    }
    empty_part = {"type": "output_text", "text": "", "annotations": []}

    n_deltas = n - 11  # 8 opening events, the title, and the 2 closing ones
    deltas = [("" if i == 0 else " ") + rng.choice(_WORDS) for i in range(n_deltas)]
    text = "".join(deltas)
    full_part = {"type": "output_text", "text": text, "annotations": []}

    events: list[dict[str, Any]] = [
        {"type": "thread.created", "thread": thread},
        {"type": "thread.item.done", "item": user_message},
        {"type": "progress_update", "icon": "search", "text": "Looking up your order…"},
        {"type": "progress_update", "text": "Checking the delivery status"},
        {"type": "thread.item.added", "item": workflow},
        {
            "type": "thread.item.done",
            "item": {**workflow, "workflow": {**workflow["workflow"], "summary": {"duration": 4}}},
        },
        {"type": "thread.item.added", "item": message},
        {
            "type": "thread.item.updated",
            "item_id": message_id,
            "update": {
                "type": "assistant_message.content_part.added",
                "content_index": 0,
                "content": empty_part,
            },
        },
    ]
    for delta in deltas:
        update = {"type": "assistant_message.content_part.text_delta", "content_index": 0, "delta": delta}
        events.append({"type": "thread.item.updated", "item_id": message_id, "update": update})
    # The automatic title arrives mid-stream (docs/protocol.md §3.3).
    events.insert(8 + n_deltas // 3, {"type": "thread.updated", "thread": {**thread, "title": "Suivi de commande"}})
    events.append(
        {
            "type": "thread.item.updated",
            "item_id": message_id,
            "update": {
                "type": "assistant_message.content_part.done",
                "content_index": 0,
                "content": full_part,
            },
        }
    )
    events.append({"type": "thread.item.done", "item": {**message, "content": [full_part]}})
    assert len(events) == n
    return [_dump(event) for event in events]


def build_stream(n: int = FULL_EVENTS, *, seed: int = 2026) -> bytes:
    """The recorded-style SSE body of `n` events: `data: <json>\\n\\n` each, as the hosted API frames them."""
    return "".join(f"data: {payload}\n\n" for payload in build_events(n, seed=seed)).encode()


def expected_payloads(n: int = FULL_EVENTS, *, seed: int = 2026) -> list[str]:
    """The `data` of each event of `build_stream(n, seed=seed)`."""
    return build_events(n, seed=seed)


def chunked(data: bytes, size: int) -> list[bytes]:
    """The stream cut into chunks of `size` bytes, as a socket might deliver it."""
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- the rows ------------------------------------------------------------------------------------------


def decode_ours(chunks: list[bytes], load: Load) -> list[Any]:
    decoder = SSEDecoder()
    out = []
    for chunk in chunks:
        for data in decoder.feed(chunk):
            out.append(load(data))
    for data in decoder.flush():
        out.append(load(data))
    return out


def _response(chunks: list[bytes]) -> httpx2.Response:
    return httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=iter(chunks),
        request=httpx2.Request("POST", "https://api.openai.com/v1/chatkit/conversation"),
    )


def decode_ours_via_response(chunks: list[bytes], load: Load) -> list[Any]:
    decoder = SSEDecoder()
    out = []
    for chunk in _response(chunks).iter_bytes():
        for data in decoder.feed(chunk):
            out.append(load(data))
    for data in decoder.flush():
        out.append(load(data))
    return out


def decode_openai(chunks: list[bytes], load: Load) -> list[Any]:
    return [load(sse.data) for sse in OpenAISSEDecoder().iter_bytes(iter(chunks))]


def decode_httpx2_event_source(chunks: list[bytes], load: Load) -> list[Any]:
    return [load(sse.data) for sse in httpx2.EventSource(_response(chunks))]


def decode_httpx2_parser(chunks: list[bytes], load: Load) -> list[Any]:
    parser = _SSEParser()
    text = codecs.getincrementaldecoder("utf-8")()
    out = []
    for chunk in chunks:
        for sse in parser.decode(text.decode(chunk)):
            out.append(load(sse.data))
    for sse in parser.flush():
        out.append(load(sse.data))
    return out


def decode_floor(chunks: list[bytes], load: Load) -> list[Any]:
    # Pieces are joined once a blank line arrives, so that big events do not make the floor quadratic.
    out = []
    pieces: list[bytes] = []
    for chunk in chunks:
        if b"\n\n" not in chunk and not (pieces and chunk[:1] == b"\n" and pieces[-1][-1:] == b"\n"):
            pieces.append(chunk)
            continue
        *events, rest = (b"".join(pieces) + chunk).split(b"\n\n")
        pieces = [rest] if rest else []
        for event in events:
            out.append(load(event[6:]))
    return out


DECODER_ONLY = "project, decoder only (SSEDecoder)"

DRIVERS: dict[str, Driver] = {
    DECODER_ONLY: decode_ours,
    "ours via httpx2 Response": decode_ours_via_response,
    "openai SSEDecoder": decode_openai,
    "httpx2 EventSource": decode_httpx2_event_source,
    "httpx2 _SSEParser (internal)": decode_httpx2_parser,
    "floor: split on blank lines": decode_floor,
}


def decode_typed(chunks: list[bytes]) -> Reply:
    """The project's full path from bytes to a finished Reply, as `Chat.stream` runs it per chunk."""
    decoder = SSEDecoder()
    builder = ReplyBuilder()
    apply = builder.apply
    for chunk in chunks:
        for data in decoder.feed(chunk):
            apply(parse_event(data))
    for data in decoder.flush():
        apply(parse_event(data))
    return builder.reply()


def expected_text(n: int = FULL_EVENTS, *, seed: int = 2026) -> str:
    """The assistant text of `build_stream(n, seed=seed)`: the `text` of its final `thread.item.done`."""
    final = json.loads(build_events(n, seed=seed)[-1])
    return str(final["item"]["content"][0]["text"])


def check_typed(chunks: list[bytes], text: str) -> None:
    reply = decode_typed(chunks)
    if reply.text != text:
        raise AssertionError(f"typed path: reply text of {len(reply.text)} chars, {len(text)} expected")


def _as_text(data: str | bytes) -> str:
    return data.decode() if isinstance(data, bytes) else data


def check(drivers: dict[str, Driver], chunks: list[bytes], expected: list[str]) -> None:
    """Every row must return exactly the payloads the stream was built from."""
    for name, driver in drivers.items():
        got = driver(chunks, _as_text)
        if got != expected:
            first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
            raise AssertionError(f"{name}: {len(got)} payloads, {len(expected)} expected, first difference at {first}")


def _time_once(driver: Driver, chunks: list[bytes]) -> float:
    gc.collect()
    started = time.perf_counter()
    driver(chunks, json.loads)
    return (time.perf_counter() - started) * 1000


def _time_typed(chunks: list[bytes]) -> float:
    gc.collect()
    started = time.perf_counter()
    reply = decode_typed(chunks)
    _ = reply.text  # the text is joined lazily; a user reads it, so the row pays for it
    return (time.perf_counter() - started) * 1000


TYPED = "project, typed (SSEDecoder -> parse_event -> Reply)"
OPENAI = "openai SSEDecoder"
FLOOR = "floor: split on blank lines"


def run(
    n_events: int = FULL_EVENTS,
    *,
    runs: int = 7,
    chunk_sizes: tuple[int, ...] = CHUNK_SIZES,
    extra_drivers: dict[str, Driver] | None = None,
) -> dict[str, Any]:
    """Check, then time every driver; the medians in ms are under `"ms"` as {driver: {chunk size: ms}}."""
    drivers = {**DRIVERS, **(extra_drivers or {})}
    stream = build_stream(n_events)
    expected = expected_payloads(n_events)
    text = expected_text(n_events)
    names = [TYPED, *drivers]
    medians: dict[str, dict[int, float]] = {name: {} for name in names}
    for size in chunk_sizes:
        chunks = chunked(stream, size)
        check(drivers, chunks, expected)
        check_typed(chunks, text)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(runs):
            # Interleaved, so that a slow moment of the machine hits every row alike.
            samples[TYPED].append(_time_typed(chunks))
            for name, driver in drivers.items():
                samples[name].append(_time_once(driver, chunks))
        for name in names:
            medians[name][size] = statistics.median(samples[name])

    table = []
    for name in names:
        row: dict[str, Any] = {"decoder": name}
        for size in chunk_sizes:
            label = _size_label(size)
            row[f"{label} ms"] = medians[name][size]
            row[f"{label} ×typed"] = medians[name][size] / medians[TYPED][size]
        table.append(row)
    goals = []
    for size in chunk_sizes:
        label = _size_label(size)
        vs_openai = medians[TYPED][size] / medians[OPENAI][size]
        vs_floor = medians[TYPED][size] / medians[FLOOR][size]
        goals.append(
            {
                "chunks": label,
                "typed ms": medians[TYPED][size],
                "openai+json ms": medians[OPENAI][size],
                "typed/openai": vs_openai,
                "goal ≤1": "met" if vs_openai <= 1 else "NOT met",
                "floor ms": medians[FLOOR][size],
                "typed/floor": vs_floor,
                "goal ≤2": "met" if vs_floor <= 2 else "NOT met",
            }
        )
    notes = {
        f"{g['chunks']}: typed / openai+json (goal ≤ 1)": f"{g['typed/openai']:.2f} {g['goal ≤1']}" for g in goals
    } | {f"{g['chunks']}: typed / floor (goal ≤ 2)": f"{g['typed/floor']:.2f} {g['goal ≤2']}" for g in goals}
    return {
        **notes,
        "title": f"SSE decode + json.loads: {n_events:,} events, {len(stream):,} bytes, median of {runs}",
        "table": table,
        "events": n_events,
        "stream_bytes": len(stream),
        "runs": runs,
        "payloads_identical": True,
        "typed_reply_correct": True,
        "goals": goals,
        "ms": {name: {str(size): ms for size, ms in by_size.items()} for name, by_size in medians.items()},
    }


def _size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def main(smoke: bool = False) -> dict[str, Any]:
    if smoke:
        return run(SMOKE_EVENTS, runs=2)
    return run()


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["decode", *sys.argv[1:]]))
