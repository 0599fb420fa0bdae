"""`Retries`, the bookkeeping behind the transports' one retry loop: fed failures, without sockets or sleeping."""

from __future__ import annotations

from chatkit_client._core.retry import BODY_NOTE, SENT_NOTE, Retries


def test_each_granted_retry_is_counted_until_max_retries_is_spent() -> None:
    retries = Retries(2, idempotent=True, replayable=True, random=lambda: 0.0)
    first = retries.after_failure(status_code=503)
    second = retries.after_failure(reach="unsent")
    third = retries.after_failure(status_code=503)
    assert (first.delay, second.delay, third.delay) == (0.5, 1.0, None)
    assert retries.made == 2


def test_a_refused_retry_is_not_counted_and_says_why() -> None:
    retries = Retries(3, idempotent=False, replayable=True, random=lambda: 0.0)
    assert retries.after_failure(reach="sent").note == SENT_NOTE
    assert retries.after_failure(status_code=500).delay is None
    assert retries.made == 0
    assert retries.after_failure(status_code=503).delay == 0.5
    assert retries.made == 1


def test_a_body_that_cannot_be_rewound_is_only_resent_when_it_never_left() -> None:
    retries = Retries(2, idempotent=True, replayable=False, random=lambda: 0.0)
    assert retries.after_failure(reach="incomplete").note == BODY_NOTE
    assert retries.after_failure(reach="unsent").delay == 0.5


def test_a_wait_past_the_total_timeout_ends_the_retries() -> None:
    retries = Retries(2, idempotent=True, replayable=True, random=lambda: 0.0)
    assert retries.after_failure(status_code=503, time_left=0.4).delay is None
    assert retries.after_failure(status_code=503, time_left=0.6).delay == 0.5
    assert retries.made == 1


def test_a_server_asked_wait_is_honoured() -> None:
    retries = Retries(1, idempotent=True, replayable=True, random=lambda: 0.0)
    assert retries.after_failure(status_code=429, headers={"retry-after-ms": "250"}).delay == 0.25
