"""`LoadReport`: the numbers of a finished run, as JSON (`to_dict`) and as text (`render_text`).

The JSON is raw enough to compare two runs: the whole-run histograms (bucket counts), one bucket per
second (turns, errors, deltas, bytes, and the histograms of the turns that started in it) and the
per-turn samples (up to `Metrics.max_samples`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from ._histogram import Histogram, bucket_bounds
from ._metrics import SAMPLE_FIELDS, Metrics, SecondBucket

__all__ = ["LATENCIES", "LoadReport", "sparkline"]

# (JSON key, label, metrics attribute)
LATENCIES = (
    ("first_event_ms", "time to first event", "first_event"),
    ("first_delta_ms", "time to first text delta", "first_delta"),
    ("delta_gap_ms", "gap between text deltas", "delta_gap"),
    ("turn_ms", "turn (end to end)", "turn"),
)
_BLOCKS = " ▁▂▃▄▅▆▇█"
REPORT_VERSION = 1


def sparkline(values: list[float], top: float | None = None) -> str:
    """One block character per value, scaled to `top` (default: the largest value).

    >>> sparkline([0, 1, 2, 4])
    ' ▂▄█'
    """
    peak = top if top is not None else max(values, default=0.0)
    if peak <= 0:
        return " " * len(values)
    last = len(_BLOCKS) - 1
    return "".join(_BLOCKS[min(last, max(0, round(v / peak * last)))] for v in values)


@dataclass
class LoadReport:
    """A finished load run. `summary()` has the headline numbers; `to_dict()` everything.

    >>> report.summary()["turns_per_s"]  # doctest: +SKIP
    412.5
    """

    plan: dict[str, Any]
    metrics: Metrics
    elapsed: float
    started_at: float
    # `time.perf_counter()` at the run's start: sample starts are relative to it. On Linux that clock is
    # CLOCK_MONOTONIC, shared by every process of the machine, so a local server's timestamps compare.
    origin: float = 0.0

    @classmethod
    def build(
        cls, plan: dict[str, Any], metrics: Metrics, *, elapsed: float, started_at: float, origin: float = 0.0
    ) -> LoadReport:
        return cls(plan=plan, metrics=metrics, elapsed=elapsed, started_at=started_at, origin=origin)

    # -- numbers ---------------------------------------------------------------------------------
    def latency(self, attribute: str) -> Histogram:
        histogram: Histogram = getattr(self.metrics, attribute)
        return histogram

    def summary(self) -> dict[str, Any]:
        m = self.metrics
        seconds = self.elapsed if self.elapsed > 0 else 1.0
        out: dict[str, Any] = {
            "turns": m.turns,
            "failed_turns": m.failed,
            "elapsed_s": round(self.elapsed, 3),
            "turns_per_s": m.turns / seconds,
            "deltas_per_s": m.deltas / seconds,
            "bytes_per_s": m.bytes / seconds,
            "deltas": m.deltas,
            "bytes": m.bytes,
            "errors": dict(m.errors.most_common()),
        }
        for key, _label, attribute in LATENCIES:
            out[key] = self.latency(attribute).summary_ms()
        return out

    def per_second(self) -> list[dict[str, Any]]:
        last = max(self.metrics.seconds, default=-1)
        empty = SecondBucket()
        return [self.metrics.seconds.get(second, empty).to_dict(second) for second in range(last + 1)]

    def to_dict(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "version": REPORT_VERSION,
            "started_at": _dt.datetime.fromtimestamp(self.started_at, _dt.UTC).isoformat(),
            "elapsed_s": self.elapsed,
            "perf_counter_origin": self.origin,
            "plan": self.plan,
            "summary": self.summary(),
            "histograms": {key: self.latency(attribute).to_dict() for key, _label, attribute in LATENCIES},
            "seconds": self.per_second(),
            "sample_fields": list(SAMPLE_FIELDS),
            "samples": [sample.to_list() for sample in m.samples],
            "samples_dropped": m.samples_dropped,
        }

    # -- text ------------------------------------------------------------------------------------
    def render_text(self, width: int = 60) -> str:
        """The table, the chart of time to first delta over time, and its distribution, as plain text."""
        return "\n\n".join([self.table_text(), self.timeline_text(width), self.distribution_text(width)])

    def table_text(self) -> str:
        s = self.summary()
        rows: list[list[str]] = [["metric", "p50", "p90", "p99", "max", "mean", "count"]]
        for key, label, _attribute in LATENCIES:
            d = s[key]
            numbers = [f"{d[k]:.2f}" for k in ("p50", "p90", "p99", "max", "mean")]
            rows.append([f"{label} (ms)", *numbers, str(d["count"])])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        model = self.plan.get("model")
        load = f"{self.plan.get('users')} users" if model == "closed" else f"{self.plan.get('rate')} turns/s scheduled"
        lines += [
            "",
            f"{model} model, {load}, {s['elapsed_s']:.1f} s: {s['turns']} turns ok, {s['failed_turns']} failed",
            f"throughput: {s['turns_per_s']:.1f} turns/s, {s['deltas_per_s']:.0f} deltas/s, "
            f"{_human_bytes(s['bytes_per_s'])}/s",
        ]
        if s["errors"]:
            lines.append("errors: " + ", ".join(f"{kind} ×{n}" for kind, n in s["errors"].items()))
        else:
            lines.append("errors: none")
        return "\n".join(lines)

    def timeline_text(self, width: int = 60) -> str:
        """Time to first delta over the run: p50 and p99 per time slice, and turns started per second."""
        seconds = self.per_second()
        if not seconds:
            return "time to first delta over time: no turns"
        per = max(1, -(-len(seconds) // width))
        p50: list[float] = []
        p99: list[float] = []
        rate: list[float] = []
        for i in range(0, len(seconds), per):
            merged = Histogram()
            turns = 0
            for j in range(i, min(i + per, len(seconds))):
                bucket = self.metrics.seconds.get(j)
                if bucket is not None:
                    merged.merge(bucket.first_delta)
                    turns += bucket.turns
            p50.append(merged.percentile(50) / 1000)
            p99.append(merged.percentile(99) / 1000)
            rate.append(turns / per)
        top = max(p99, default=0.0)
        slice_label = f"{per} s per column" if per > 1 else "1 s per column"
        return "\n".join(
            [
                f"time to first delta over time ({slice_label}; scale 0 to {top:.1f} ms):",
                f"  p99 |{sparkline(p99, top)}|",
                f"  p50 |{sparkline(p50, top)}|",
                f"turns started per second (0 to {max(rate, default=0):.0f}):",
                f"      |{sparkline(rate)}|",
            ]
        )

    def distribution_text(self, width: int = 60) -> str:
        """Time to first delta: how many turns fell in each range (ranges doubling in size)."""
        histogram = self.metrics.first_delta
        if not histogram.count:
            return "distribution of time to first delta: no samples"
        ranges: dict[int, int] = {}
        for index, count in histogram.buckets.items():
            low, _high = bucket_bounds(index)
            ranges[max(0, low.bit_length() - 1)] = ranges.get(max(0, low.bit_length() - 1), 0) + count
        peak = max(ranges.values())
        lines = ["distribution of time to first delta:"]
        bar = max(10, width - 30)
        for power in range(min(ranges), max(ranges) + 1):
            count = ranges.get(power, 0)
            low_ms, high_ms = (1 << power) / 1000 if power else 0.0, (1 << (power + 1)) / 1000
            filled = round(count / peak * bar)
            lines.append(f"  {low_ms:9.3f}-{high_ms:<9.3f} ms {'█' * filled}{' ' * (bar - filled)} {count}")
        return "\n".join(lines)


def _human_bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{value:.0f} B"
        value /= 1024
    return f"{value:.1f} GiB"
