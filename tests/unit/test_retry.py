"""The retry policy, table-driven, without sleeping."""

from __future__ import annotations

import pytest

from chatkit_client._retry import is_retryable_status, parse_retry_after, retry_delay

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (400, {}, False),
        (401, {}, False),
        (404, {}, False),
        (408, {}, True),
        (409, {}, True),
        (422, {}, False),
        (429, {}, True),
        (500, {}, True),
        (503, {}, True),
        (599, {}, True),
        (400, {"x-should-retry": "true"}, True),
        (503, {"x-should-retry": "false"}, False),
        (503, {"X-Should-Retry": "FALSE"}, False),
    ],
)
def test_retryable_statuses(status: int, headers: dict[str, str], expected: bool) -> None:
    assert is_retryable_status(status, headers) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"}, 10.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:00 GMT"}, 0.0),  # in the past: no wait
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x", "retry-after": "4"}, 4.0),
        ({"retry-after": "-5"}, 0.0),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    result = parse_retry_after(headers, now=lambda: NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize(
    ("attempt", "random", "expected"),
    [
        (0, 0.0, 0.5),
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (3, 0.0, 4.0),
        (4, 0.0, 8.0),
        (5, 0.0, 8.0),  # capped
        (0, 1.0, 0.375),  # jitter takes off at most a quarter
        (4, 0.5, 7.0),
    ],
)
def test_backoff_doubles_from_half_a_second_to_eight(attempt: int, random: float, expected: float) -> None:
    assert retry_delay(attempt, 10, random=lambda: random) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("attempt", "max_retries", "status", "headers", "expected"),
    [
        (2, 2, 503, {}, None),  # out of retries
        (0, 0, None, {}, None),  # retries disabled
        (0, 2, None, {}, 0.5),  # connection error: retried
        (0, 2, 400, {}, None),  # not retryable
        (0, 2, 429, {"retry-after": "7"}, 7.0),  # server's wait wins over backoff
        (0, 2, 429, {"retry-after": "60"}, 60.0),  # at the cap: honoured
        (0, 2, 429, {"retry-after": "61"}, None),  # past the cap: raise instead of stalling
        (0, 2, 503, {"retry-after-ms": "20"}, 0.02),
    ],
)
def test_retry_delay_decisions(
    attempt: int, max_retries: int, status: int | None, headers: dict[str, str], expected: float | None
) -> None:
    delay = retry_delay(attempt, max_retries, status_code=status, headers=headers, random=lambda: 0.0, now=lambda: NOW)
    if expected is None:
        assert delay is None
    else:
        assert delay == pytest.approx(expected)
