"""`Histogram`: an HDR-style log-linear histogram of durations, in whole microseconds.

Values below 128 µs have a bucket each; above, every power of two is cut into 64 equal buckets, so a
percentile is within 1/64 (1.6 %) of the true sample whatever the range, in memory that grows with the
logarithm of the range, never with the number of samples. Counts, the sum, the minimum and the maximum are
exact, so the mean and the max are the samples' own. Histograms merge by adding counts: the way to combine
runs, seconds or workers without averaging averages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Histogram"]

_SUB = 64  # linear buckets per power of two above the exact range
_EXACT = 2 * _SUB  # values below this have a bucket each
_SUB_BITS = _SUB.bit_length()  # 7: the bit length of every value in [_SUB, _EXACT)


def bucket_index(value: int) -> int:
    """The bucket of a non-negative value."""
    if value < _EXACT:
        return value
    shift = value.bit_length() - _SUB_BITS
    return _EXACT + (shift - 1) * _SUB + ((value >> shift) - _SUB)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The smallest and the largest value of a bucket."""
    if index < _EXACT:
        return index, index
    shift = (index - _EXACT) // _SUB + 1
    low = ((index - _EXACT) % _SUB + _SUB) << shift
    return low, low + (1 << shift) - 1


class Histogram:
    """Durations recorded in microseconds; percentiles within 1.6 %, mean/min/max exact.

    >>> h = Histogram()
    >>> for ms in (1, 2, 3, 4, 100):
    ...     h.record_seconds(ms / 1000)
    >>> h.count, h.max_us, round(h.percentile(50) / 1000, 1)
    (5, 100000, 3.0)
    """

    __slots__ = ("buckets", "count", "max_us", "min_us", "total_us")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total_us = 0
        self.min_us = 0
        self.max_us = 0

    def record(self, value_us: int) -> None:
        """Add one sample (microseconds; negative values count as 0)."""
        if value_us < 0:
            value_us = 0
        index = value_us if value_us < _EXACT else bucket_index(value_us)
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        if not self.count or value_us < self.min_us:
            self.min_us = value_us
        if value_us > self.max_us:
            self.max_us = value_us
        self.count += 1
        self.total_us += value_us

    def record_seconds(self, seconds: float) -> None:
        """Add one sample given in seconds."""
        self.record(int(seconds * 1_000_000 + 0.5))

    def record_many(self, values_us: Sequence[int]) -> None:
        """Add many samples at once (microseconds, non-negative): the per-sample work runs in C where it can.

        The load engine records the gaps between text deltas this way, once per turn, so that timing every
        delta costs the turn a list append rather than a histogram update.
        """
        if not values_us:
            return
        exact = _EXACT
        indexes = [v if v < exact else bucket_index(v) for v in values_us]
        counts = Counter(indexes)
        buckets = self.buckets
        for index, n in counts.items():
            buckets[index] = buckets.get(index, 0) + n
        low = min(values_us)
        if not self.count or low < self.min_us:
            self.min_us = low
        self.max_us = max(self.max_us, max(values_us))
        self.count += len(values_us)
        self.total_us += sum(values_us)

    def merge(self, other: Histogram) -> None:
        """Add every sample of `other` to this histogram."""
        if not other.count:
            return
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.min_us = other.min_us if not self.count else min(self.min_us, other.min_us)
        self.max_us = max(self.max_us, other.max_us)
        self.count += other.count
        self.total_us += other.total_us

    @property
    def mean_us(self) -> float:
        return self.total_us / self.count if self.count else 0.0

    def percentile(self, p: float) -> float:
        """The value below or at which `p` percent of the samples fall (microseconds; 0 when empty).

        The bucket's midpoint, kept within the exact min and max, so p0 and p100 are the samples' own.
        """
        if not self.count:
            return 0.0
        if p <= 0:
            return float(self.min_us)
        if p >= 100:
            return float(self.max_us)
        rank = max(1, -(-self.count * p // 100))  # ceil: the nearest-rank definition
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                low, high = bucket_bounds(index)
                return float(min(max((low + high) / 2, self.min_us), self.max_us))
        return float(self.max_us)

    def summary_ms(self) -> dict[str, float]:
        """count, mean, p50, p90, p99 and max, in milliseconds (count as is)."""
        return {
            "count": self.count,
            "mean": self.mean_us / 1000,
            "p50": self.percentile(50) / 1000,
            "p90": self.percentile(90) / 1000,
            "p99": self.percentile(99) / 1000,
            "max": self.max_us / 1000,
        }

    def distribution(self) -> list[tuple[int, int, int]]:
        """(lowest µs, highest µs, count) of every non-empty bucket, lowest first."""
        return [(*bucket_bounds(index), self.buckets[index]) for index in sorted(self.buckets)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form that `from_dict` reads back exactly (buckets as `[index, count]` pairs)."""
        return {
            "unit": "us",
            "count": self.count,
            "total": self.total_us,
            "min": self.min_us,
            "max": self.max_us,
            "buckets": [[index, self.buckets[index]] for index in sorted(self.buckets)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        histogram = cls()
        histogram.buckets = {int(index): int(n) for index, n in data.get("buckets", [])}
        histogram.count = int(data.get("count", 0))
        histogram.total_us = int(data.get("total", 0))
        histogram.min_us = int(data.get("min", 0))
        histogram.max_us = int(data.get("max", 0))
        return histogram

    @classmethod
    def of(cls, values_us: Iterable[int]) -> Histogram:
        histogram = cls()
        for value in values_us:
            histogram.record(value)
        return histogram

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, p50={self.percentile(50):.0f}us, max={self.max_us}us)"
