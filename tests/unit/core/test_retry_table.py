"""`retry_decision` over its whole table: how far the request got x the answer's status x idempotent x
replayable body, against the rules as the module docstring states them; then the server's own headers.

(tests/unit/test_retry.py holds the backoff curve, the Retry-After forms and single rows of the table.)
"""

from __future__ import annotations

import itertools

import pytest

from chatkit_client._core.retry import (
    BODY_NOTE,
    NOT_PROCESSED_STATUSES,
    SENT_NOTE,
    Reach,
    RetryDecision,
    parse_retry_after,
    retry_decision,
)

NOW = 1_700_000_000.0
REACHES: list[Reach] = ["unsent", "incomplete", "sent", "invalid"]
STATUSES = [None, 400, 401, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504, 599]
BACKOFF = 0.5  # the first retry's wait with no jitter


def rule(reach: Reach, status: int | None, idempotent: bool, replayable: bool) -> RetryDecision:
    """The policy in words, written independently of the code."""
    if status is not None:
        # An answer came: the whole request went out, whatever the transport saw.
        refused_unprocessed = status in (408, 409, 429, 503)
        worth_it = status in (408, 409, 429) or status >= 500
        if not (refused_unprocessed or (idempotent and worth_it)):
            if not idempotent and worth_it:
                return RetryDecision(None, f"The server may have acted on it before answering {status}, so it was "
                                           "not sent again.")
            return RetryDecision(None)
        return RetryDecision(BACKOFF) if replayable else RetryDecision(None, BODY_NOTE)
    if reach == "invalid":
        return RetryDecision(None)  # our request broke HTTP: sending it again cannot help
    if reach == "sent" and not idempotent:
        return RetryDecision(None, SENT_NOTE)  # the server may have acted on it
    if reach != "unsent" and not replayable:
        return RetryDecision(None, BODY_NOTE)  # its body was read and cannot be rewound
    return RetryDecision(BACKOFF)


TABLE = list(itertools.product(REACHES, STATUSES, [True, False], [True, False]))


def decide(reach: Reach, status: int | None, idempotent: bool, replayable: bool) -> RetryDecision:
    return retry_decision(
        0, 2, status_code=status, headers={}, idempotent=idempotent, reach=reach, replayable=replayable,
        random=lambda: 0.0, now=lambda: NOW,
    )


def test_the_whole_table() -> None:
    # One test for the 240 rows (cheap to run); a failure lists every row that differs.
    wrong = [
        (row, decide(*row), rule(*row)) for row in TABLE if decide(*row) != rule(*row)
    ]
    assert wrong == []
    assert len(TABLE) == 240


def test_a_message_is_resent_only_when_it_cannot_have_been_processed() -> None:
    resent = {
        (reach, status)
        for reach, status, idempotent, replayable in TABLE
        if not idempotent and replayable and decide(reach, status, idempotent, replayable).delay is not None
    }
    assert resent == {("unsent", None), ("incomplete", None)} | {
        (reach, status) for reach in REACHES for status in NOT_PROCESSED_STATUSES
    }


@pytest.mark.parametrize(("reach", "status"), [("unsent", None), ("sent", 503), ("incomplete", None)])
def test_no_attempt_past_max_retries(reach: Reach, status: int | None) -> None:
    for attempt, max_retries in ((2, 2), (3, 2), (0, 0)):
        decision = retry_decision(attempt, max_retries, status_code=status, reach=reach, random=lambda: 0.0)
        assert decision == RetryDecision(None)


# -- the server's headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("status", [400, 500, 502])
def test_x_should_retry_true_resends_anything_replayable(status: int, idempotent: bool) -> None:
    headers = {"X-Should-Retry": " True "}
    decision = retry_decision(0, 2, status_code=status, headers=headers, idempotent=idempotent, random=lambda: 0.0)
    assert decision == RetryDecision(BACKOFF)
    drained = retry_decision(
        0, 2, status_code=status, headers=headers, idempotent=idempotent, replayable=False, random=lambda: 0.0
    )
    assert drained == RetryDecision(None, BODY_NOTE)


@pytest.mark.parametrize("status", [408, 429, 503, 500])
def test_x_should_retry_false_always_wins_and_gives_no_note(status: int) -> None:
    for idempotent in (True, False):
        decision = retry_decision(
            0, 2, status_code=status, headers={"x-should-retry": "false"}, idempotent=idempotent, random=lambda: 0.0
        )
        assert decision == RetryDecision(None)


def test_a_retry_after_on_an_answer_not_retried_changes_nothing() -> None:
    decision = retry_decision(0, 2, status_code=400, headers={"retry-after": "1"}, random=lambda: 0.0)
    assert decision == RetryDecision(None)
    withheld = retry_decision(0, 2, status_code=502, headers={"retry-after": "1"}, idempotent=False,
                              random=lambda: 0.0)
    assert withheld.delay is None and withheld.note is not None and "502" in withheld.note


def test_retry_after_replaces_the_backoff_whatever_the_attempt() -> None:
    for attempt in range(4):
        decision = retry_decision(
            attempt, 5, status_code=429, headers={"Retry-After": "2"}, idempotent=False, random=lambda: 1.0
        )
        assert decision == RetryDecision(2.0)


def test_the_total_timeout_stops_a_retry_whose_wait_reaches_it() -> None:
    # A wait that would end exactly when the total runs out is refused too.
    assert retry_decision(0, 2, reach="unsent", time_left=0.5, random=lambda: 0.0) == RetryDecision(None)
    assert retry_decision(0, 2, reach="unsent", time_left=0.51, random=lambda: 0.0) == RetryDecision(0.5)
    # Jitter shortens the wait: 0.5 * (1 - 0.25) = 0.375 fits in 0.4.
    assert retry_decision(0, 2, reach="unsent", time_left=0.4, random=lambda: 1.0) == RetryDecision(0.375)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After-Ms": "1500"}, 1.5),  # a plain dict with the server's capitals
        ({"RETRY-AFTER": " 3 "}, 3.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:20 GMT"}, None),  # exactly now: no wait asked
        ({"retry-after": "Tue, 14 Nov 2023 22:13:21 GMT"}, 1.0),
        ({"retry-after": "Tue, 14 Nov 2023 23:13:20 +0100"}, None),  # the same instant in another zone
        ({"retry-after": "Tue, 14 Nov 2023 17:13:25 -0500"}, 5.0),
        ({"retry-after": ""}, None),
        ({"retry-after-ms": "", "retry-after": "2"}, 2.0),  # an unreadable ms value falls back
        ({"retry-after-ms": "1e3"}, 1.0),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    result = parse_retry_after(headers, now=lambda: NOW)
    assert result == (pytest.approx(expected) if expected is not None else None)
