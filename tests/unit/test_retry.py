"""The retry policy, table-driven, without sleeping."""

from __future__ import annotations

import pytest

from chatkit_client._core.retry import (
    BODY_NOTE,
    SENT_NOTE,
    Reach,
    is_retryable_status,
    parse_retry_after,
    retry_decision,
    retry_delay,
)

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
        ({"retry-after": "Tue, 14 Nov 2023 22:13:00 GMT"}, None),  # in the past: the backoff applies
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Mon, 01 Jan 9999999999999999999 00:00:00 GMT"}, None),  # a year too large for a date
        ({"retry-after-ms": "x", "retry-after": "4"}, 4.0),
        ({"retry-after": "-5"}, None),  # negative: the backoff applies
        ({"retry-after": "0"}, None),
        ({"retry-after-ms": "-30000"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
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


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "-30"},
        {"retry-after": "Tue, 14 Nov 2023 21:00:00 GMT"},  # an hour in the past
        {"retry-after-ms": "-1"},
    ],
)
def test_a_negative_or_past_retry_after_falls_back_to_the_backoff(headers: dict[str, str]) -> None:
    # Issue 13 item 21: these used to give retries with no pause at all.
    for attempt, expected in [(0, 0.5), (1, 1.0), (2, 2.0)]:
        delay = retry_delay(attempt, 5, status_code=503, headers=headers, random=lambda: 0.0, now=lambda: NOW)
        assert delay == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (503, {}, True),  # the server or a load balancer refused it
        (500, {}, False),
        (502, {}, False),  # a gateway forwarded it; the app may have acted on it
        (504, {}, False),
        (502, {"x-should-retry": "true"}, True),  # the server's own word
        (429, {"x-should-retry": "false"}, False),
    ],
)
def test_statuses_that_resend_a_request_that_is_not_idempotent(
    status: int, headers: dict[str, str], expected: bool
) -> None:
    assert is_retryable_status(status, headers, idempotent=False) is expected


@pytest.mark.parametrize(
    ("reach", "idempotent", "replayable", "delay", "note"),
    [
        ("unsent", False, False, 0.5, None),  # connect or pool failure: nothing left, nothing read
        ("incomplete", False, True, 0.5, None),  # write timeout: no server can act on half a request
        ("incomplete", False, False, None, BODY_NOTE),
        ("sent", False, True, None, SENT_NOTE),  # a read timeout after a message went out: never resent
        ("sent", True, True, 0.5, None),  # a protocol read or a hosted GET
        ("sent", True, False, None, BODY_NOTE),
        ("invalid", True, True, None, None),  # our request broke HTTP: sending it again cannot help
    ],
)
def test_connection_failures_by_how_far_the_request_got(
    reach: Reach, idempotent: bool, replayable: bool, delay: float | None, note: str | None
) -> None:
    decision = retry_decision(
        0, 2, reach=reach, idempotent=idempotent, replayable=replayable, random=lambda: 0.0, now=lambda: NOW
    )
    assert decision.delay == (pytest.approx(delay) if delay is not None else None)
    assert decision.note == note


def test_a_drained_body_is_not_resent_even_after_a_503() -> None:
    decision = retry_decision(0, 2, status_code=503, idempotent=False, replayable=False, random=lambda: 0.0)
    assert decision.delay is None and decision.note == BODY_NOTE


def test_a_502_to_a_message_says_why_it_was_not_resent() -> None:
    decision = retry_decision(0, 2, status_code=502, idempotent=False, random=lambda: 0.0)
    assert decision.delay is None and decision.note is not None and "may have acted on it" in decision.note


def test_no_retry_outlasts_the_total_timeout() -> None:
    assert retry_decision(0, 2, status_code=503, time_left=0.4, random=lambda: 0.0).delay is None
    assert retry_decision(0, 2, status_code=503, time_left=0.6, random=lambda: 0.0).delay == pytest.approx(0.5)
    assert (
        retry_decision(0, 2, status_code=503, headers={"retry-after": "3"}, time_left=2.0, random=lambda: 0.0).delay
        is None
    )
