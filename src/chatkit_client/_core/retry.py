"""When to send a failed request again and how long to wait: pure functions, no sleeping, no I/O.

The transport asks `retry_decision()` after each failed attempt; a decision without a delay means
"raise now", and its `note` says why a retry was withheld, for the error message.

What is sent again, and why (the project's rule: a request the server may have acted on is never
sent again by us):

- A request that certainly never reached the server is retried, whatever it is: connection
  refused or failed, a connect or pool timeout (`reach="unsent"`), and a write timeout, which
  leaves the request incomplete so that no server can have acted on it (`reach="incomplete"`).
- **Idempotent** requests (`RequestSpec.idempotent`) are also retried after the request went out:
  read timeouts, a connection closed or reset before the answer, and the statuses 408, 409, 429
  and 5xx. These are the protocol reads `threads.get_by_id`, `threads.list` and `items.list`, and
  every hosted REST call made with the API key: GETs; DELETE (deleting twice leaves the same state,
  though a retry after a lost answer may then report 404); `sessions.cancel` (cancelling twice is
  a no-op); and `sessions.create`, as openai-python retries POSTs: a second session is an unused
  client secret that expires by itself, and renewing a session must survive a proxy's hiccup.
- **Everything else** (every other request to a ChatKit server: messages, retries, actions,
  `sync_custom_action`, tool outputs, structured input, feedback, deletes, renames,
  `attachments.create`, and every upload) is sent again only when the server said it did not
  process it: 408, 409, 429 or 503 (the answer of an overloaded server, a rate limiter or a load
  balancer with no healthy backend), or `x-should-retry: true`. After a read timeout, a connection
  closed once the request was out, or a 500, 502 or 504, it is never resent: a 502 or 504 comes
  from a gateway that forwarded the request and then lost or waited for the app, which may have
  acted on it. (A proxy that answers 503 after forwarding would be resent; such proxies are rare,
  and `max_retries=0` rules out even that.)
- A request body that cannot be rewound (a pipe, a socket, a non-seekable file object) is never
  sent again once reading it began: that is after anything but a connect or pool failure.
  Seekable bodies are rewound to where they started before each attempt.
- A server's `x-should-retry: false` always wins; `Retry-After`/`retry-after-ms` is honoured up to
  60 s (longer: raise at once); a negative or past `Retry-After` falls back to the backoff.

Imports: stdlib, _constants.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY

__all__ = [
    "BODY_NOTE",
    "IDEMPOTENT_PROTOCOL_REQUESTS",
    "NOT_PROCESSED_STATUSES",
    "RETRYABLE_STATUSES",
    "SENT_NOTE",
    "Reach",
    "Retries",
    "RetryDecision",
    "is_retryable_status",
    "parse_retry_after",
    "retry_decision",
    "retry_delay",
]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Answers that say the request was refused, not processed: safe to resend whatever the request was.
NOT_PROCESSED_STATUSES = frozenset({408, 409, 429, 503})
# ChatKit protocol requests that only read: sending one twice changes nothing.
IDEMPOTENT_PROTOCOL_REQUESTS = frozenset({"threads.get_by_id", "threads.list", "items.list"})

Reach: TypeAlias = Literal["unsent", "incomplete", "sent", "invalid"]
"""How far a failed attempt got: never left ("unsent"), cut off while being written ("incomplete"),
went out or may have ("sent"), or could not be sent as HTTP at all ("invalid": never retried)."""

SENT_NOTE = "The request had been sent, so it was not sent again; send it again if no answer arrives."
BODY_NOTE = "Its body could not be rewound (a stream that was already read), so the request was not sent again."


@dataclass(frozen=True)
class RetryDecision:
    """`delay` before the next attempt, or None to raise; `note` explains a retry the policy withheld."""

    delay: float | None
    note: str | None = None


def is_retryable_status(status_code: int, headers: Mapping[str, str] | None = None, *, idempotent: bool = True) -> bool:
    """Whether a status code is worth another attempt; `x-should-retry` from the server wins."""
    if headers is not None:
        forced = _header(headers, "x-should-retry")
        if forced == "true":
            return True
        if forced == "false":
            return False
    if not idempotent:
        return status_code in NOT_PROCESSED_STATUSES
    return status_code in RETRYABLE_STATUSES or status_code >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or an HTTP date).

    None when there is no usable value: absent, unparsable, zero, negative or in the past (the
    backoff applies then, so a broken header never turns retries into a tight loop).
    """
    value = _header(headers, "retry-after-ms")
    if value is not None:
        try:
            return _positive(float(value) / 1000.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return _positive(float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year like 9999999999999999999 overflows
        return None
    return _positive(parsed.timestamp() - now())


def retry_decision(
    attempt: int,
    max_retries: int,
    *,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    idempotent: bool = True,
    reach: Reach = "sent",
    replayable: bool = True,
    time_left: float | None = None,
    random: Callable[[], float],
    now: Callable[[], float] = time.time,
) -> RetryDecision:
    """Whether and when to send a failed request again (see the module docstring for the rules).

    `attempt` counts the retries already made (0 after the first failure). `status_code` is the
    answer's status, or None for a connection error or timeout, whose `reach` says how far the
    request got. `replayable` is False for a body that cannot be rewound. `time_left` is what
    remains of the request's `total_timeout` (None: no total); a wait that would outlast it raises.
    """
    if attempt >= max_retries:
        return RetryDecision(None)
    if status_code is not None:
        reach = "sent"  # an answer: the whole request went out
        if not is_retryable_status(status_code, headers, idempotent=idempotent):
            if not idempotent and is_retryable_status(status_code, headers):
                return RetryDecision(
                    None, f"The server may have acted on it before answering {status_code}, so it was not sent again."
                )
            return RetryDecision(None)
    elif reach == "invalid":
        return RetryDecision(None)
    elif reach == "sent" and not idempotent:
        return RetryDecision(None, SENT_NOTE)
    if reach != "unsent" and not replayable:
        return RetryDecision(None, BODY_NOTE)
    delay: float | None = None
    if headers is not None:
        asked = parse_retry_after(headers, now=now)
        if asked is not None:
            if asked > MAX_RETRY_AFTER:
                return RetryDecision(None)
            delay = asked
    if delay is None:
        backoff = min(INITIAL_RETRY_DELAY * (2.0**attempt), MAX_RETRY_DELAY)
        delay = backoff * (1.0 - 0.25 * random())
    if time_left is not None and delay >= time_left:
        return RetryDecision(None)
    return RetryDecision(delay)


@dataclass
class Retries:
    """The retries of one request: how many were made, and whether to make another after a failed attempt.

    Bookkeeping only, no waiting: the transport's one retry loop reports each failure here and waits the
    decision's delay before the next attempt, or raises (with the decision's note) when there is none.

    >>> retries = Retries(2, idempotent=True, replayable=True, random=lambda: 0.0)
    >>> retries.after_failure(status_code=503).delay, retries.made
    (0.5, 1)
    >>> retries.after_failure(status_code=400).delay, retries.made
    (None, 1)
    """

    max_retries: int
    idempotent: bool
    replayable: bool
    random: Callable[[], float]
    made: int = 0

    def after_failure(
        self,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        reach: Reach = "sent",
        time_left: float | None = None,
    ) -> RetryDecision:
        """`retry_decision` for the attempt that just failed; a decision with a delay counts as one more retry."""
        decision = retry_decision(
            self.made,
            self.max_retries,
            status_code=status_code,
            headers=headers,
            idempotent=self.idempotent,
            reach=reach,
            replayable=self.replayable,
            time_left=time_left,
            random=self.random,
        )
        if decision.delay is not None:
            self.made += 1
        return decision


def retry_delay(
    attempt: int,
    max_retries: int,
    *,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    random: Callable[[], float],
    now: Callable[[], float] = time.time,
) -> float | None:
    """The wait before retry number `attempt + 1` of an idempotent request, or None when it must raise.

    Backoff is exponential from 0.5 s up to 8 s with up to 25 % jitter below; a server's Retry-After
    is honoured up to 60 s, and a longer one stops the retries rather than stalling the caller.
    """
    return retry_decision(attempt, max_retries, status_code=status_code, headers=headers, random=random, now=now).delay


def _positive(seconds: float) -> float | None:
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; httpx2's Headers are not.
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate.strip().lower() if name == "x-should-retry" else candidate.strip()
        return None
    return value.strip().lower() if name == "x-should-retry" else value.strip()
