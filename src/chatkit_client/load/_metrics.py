"""What a load run measures, without I/O: per-turn samples, histograms, per-second buckets, errors by kind.

Every latency goes into a `Histogram` (whole run) and into the histogram of the second it started in, so the
report can show percentiles over the run and over time without keeping a list that grows with the load.
Raw per-turn samples are kept too, up to `max_samples`, for whoever wants to compare two runs exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    StreamDecodeError,
    StreamError,
    StreamInterruptedError,
)
from ._histogram import Histogram

__all__ = ["MAX_ERROR_KINDS", "Metrics", "SecondBucket", "TurnSample", "error_kind"]

MAX_ERROR_KINDS = 50
MAX_SAMPLES = 100_000
_KIND_CHARS = 40


def _clean(text: str) -> str:
    # Server text: keep it short and printable before it reaches a terminal or a JSON key.
    kept = "".join(c if c.isprintable() else "?" for c in text[:_KIND_CHARS])
    return kept or "?"


def error_kind(err: BaseException) -> str:
    """The name a failed turn is counted under: `status 503`, `stream error: rate_limited`, `timeout`, ...

    >>> error_kind(TimeoutError())
    'timeout'
    """
    if isinstance(err, TimeoutError | APITimeoutError):
        return "timeout"
    if isinstance(err, APIStatusError):
        return f"status {err.status_code}"
    if isinstance(err, StreamError):
        return f"stream error: {_clean(err.code or 'unknown')}"
    if isinstance(err, StreamInterruptedError):
        return "interrupted stream"
    if isinstance(err, StreamDecodeError):
        return "undecodable stream"
    if isinstance(err, APIConnectionError):
        return "connection error"
    return f"client error: {type(err).__name__}"


@dataclass(frozen=True)
class TurnSample:
    """One turn: when it started (seconds after the run's start; the scheduled start in the open model) and
    its timings in seconds (None when the turn never got that far)."""

    start: float
    turn: float
    first_event: float | None
    first_delta: float | None
    deltas: int
    error: str | None = None

    def to_list(self) -> list[Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return [round(self.start, 6), r(self.turn), r(self.first_event), r(self.first_delta), self.deltas, self.error]


SAMPLE_FIELDS = ("start_s", "turn_s", "first_event_s", "first_delta_s", "deltas", "error")


@dataclass
class SecondBucket:
    """Turns that started in one second of the run (bytes and deltas: those that arrived in it)."""

    turns: int = 0
    errors: int = 0
    deltas: int = 0
    bytes: int = 0
    first_delta: Histogram = field(default_factory=Histogram)
    turn: Histogram = field(default_factory=Histogram)

    def to_dict(self, second: int) -> dict[str, Any]:
        return {
            "second": second,
            "turns": self.turns,
            "errors": self.errors,
            "deltas": self.deltas,
            "bytes": self.bytes,
            "first_delta_ms": {k: v for k, v in self.first_delta.summary_ms().items() if k != "count"},
            "turn_ms": {k: v for k, v in self.turn.summary_ms().items() if k != "count"},
            "first_delta_histogram": self.first_delta.to_dict(),
            "turn_histogram": self.turn.to_dict(),
        }


class Metrics:
    """The running totals of one load run; the engine records into it, the report reads it.

    >>> m = Metrics()
    >>> m.record_turn(TurnSample(start=0.2, turn=0.05, first_event=0.01, first_delta=0.02, deltas=3))
    >>> m.turns, m.first_delta.count
    (1, 1)
    """

    def __init__(self, *, max_samples: int = MAX_SAMPLES) -> None:
        self.first_event = Histogram()
        self.first_delta = Histogram()
        self.delta_gap = Histogram()
        self.turn = Histogram()
        self.turns = 0
        self.failed = 0
        self.deltas = 0
        self.bytes = 0
        self.errors: Counter[str] = Counter()
        self.seconds: dict[int, SecondBucket] = {}
        self.samples: list[TurnSample] = []
        self.max_samples = max_samples
        self.samples_dropped = 0
        self.in_flight = 0

    def _second(self, at: float) -> SecondBucket:
        second = int(at) if at > 0 else 0
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = SecondBucket()
        return bucket

    def record_turn(self, sample: TurnSample) -> None:
        """A finished turn, successful or not; latencies count for successful turns only."""
        bucket = self._second(sample.start)
        bucket.turns += 1
        if sample.error is None:
            self.turns += 1
            self.turn.record_seconds(sample.turn)
            bucket.turn.record_seconds(sample.turn)
            if sample.first_event is not None:
                self.first_event.record_seconds(sample.first_event)
            if sample.first_delta is not None:
                self.first_delta.record_seconds(sample.first_delta)
                bucket.first_delta.record_seconds(sample.first_delta)
        else:
            self.failed += 1
            bucket.errors += 1
            kind = sample.error if sample.error in self.errors or len(self.errors) < MAX_ERROR_KINDS else "other"
            self.errors[kind] += 1
        if len(self.samples) < self.max_samples:
            self.samples.append(sample)
        else:
            self.samples_dropped += 1

    def record_gap(self, seconds: float) -> None:
        self.delta_gap.record_seconds(seconds)

    def record_delta_times(self, times: list[float]) -> None:
        """The arrival times (seconds, any origin) of one turn's text deltas: their gaps go to `delta_gap`."""
        if len(times) > 1:
            self.delta_gap.record_many([int((later - earlier) * 1_000_000 + 0.5) for earlier, later in pairwise(times)])

    def record_deltas(self, count: int, at: float) -> None:
        self.deltas += count
        self._second(at).deltas += count

    def record_bytes(self, count: int, at: float) -> None:
        self.bytes += count
        self._second(at).bytes += count
