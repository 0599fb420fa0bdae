"""The load histogram: percentiles within its stated precision of the exact ones, exact counts, lossless merge."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatkit_client.load import Histogram
from chatkit_client.load._histogram import bucket_bounds, bucket_index

PRECISION = 1 / 64


def exact_percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * p / 100))
    return ordered[rank - 1]


@given(st.integers(min_value=0, max_value=10**12))
def test_every_value_falls_inside_its_bucket(value: int) -> None:
    low, high = bucket_bounds(bucket_index(value))
    assert low <= value <= high
    assert high - low <= max(0, low * PRECISION)


def test_bucket_indexes_are_contiguous_and_increasing() -> None:
    previous_high = -1
    for index in range(2000):
        low, high = bucket_bounds(index)
        assert low == previous_high + 1
        assert bucket_index(low) == index and bucket_index(high) == index
        previous_high = high


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_within_precision_of_the_raw_samples(seed: int) -> None:
    rng = random.Random(seed)
    # Latency-like: mostly milliseconds, a long tail to seconds.
    values = [int(rng.lognormvariate(9, 1.2)) for _ in range(5000)]
    histogram = Histogram.of(values)
    for p in (1, 50, 90, 99, 99.9):
        want = exact_percentile(values, p)
        assert abs(histogram.percentile(p) - want) <= want * PRECISION + 1, p
    assert histogram.count == len(values)
    assert histogram.min_us == min(values) and histogram.max_us == max(values)
    assert histogram.mean_us == pytest.approx(sum(values) / len(values))
    assert histogram.percentile(100) == max(values) and histogram.percentile(0) == min(values)


def test_merging_equals_recording_everything_in_one() -> None:
    rng = random.Random(7)
    first = [rng.randrange(0, 10**7) for _ in range(1000)]
    second = [rng.randrange(0, 10**4) for _ in range(300)]
    merged = Histogram.of(first)
    merged.merge(Histogram.of(second))
    whole = Histogram.of(first + second)
    assert merged.to_dict() == whole.to_dict()
    empty = Histogram()
    empty.merge(Histogram.of(second))
    assert empty.to_dict() == Histogram.of(second).to_dict()


def test_json_round_trip_is_exact() -> None:
    histogram = Histogram.of([5, 500, 50_000, 5_000_000])
    again = Histogram.from_dict(json.loads(json.dumps(histogram.to_dict())))
    assert again.to_dict() == histogram.to_dict()
    assert again.percentile(50) == histogram.percentile(50)


def test_an_empty_histogram_reports_zeros() -> None:
    summary = Histogram().summary_ms()
    assert summary == {"count": 0, "mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}


def test_seconds_are_recorded_as_microseconds_and_negatives_as_zero() -> None:
    histogram = Histogram()
    histogram.record_seconds(0.0125)
    histogram.record(-3)
    assert histogram.max_us == 12_500 and histogram.min_us == 0


@given(st.lists(st.integers(min_value=0, max_value=10**9), max_size=200))
def test_recording_many_at_once_equals_recording_one_by_one(values: list[int]) -> None:
    at_once = Histogram()
    at_once.record_many(values)
    assert at_once.to_dict() == Histogram.of(values).to_dict()
