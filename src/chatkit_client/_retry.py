"""When to retry a request and how long to wait: pure functions, no sleeping, no I/O.

The transport asks `retry_delay()` after each failed attempt; `None` means "raise now".
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping

from ._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY

__all__ = ["RETRYABLE_STATUSES", "is_retryable_status", "parse_retry_after", "retry_delay"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status_code: int, headers: Mapping[str, str] | None = None) -> bool:
    """Whether a status code is worth another attempt; `x-should-retry` from the server wins."""
    if headers is not None:
        forced = _header(headers, "x-should-retry")
        if forced == "true":
            return True
        if forced == "false":
            return False
    return status_code in RETRYABLE_STATUSES or status_code >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or an HTTP date)."""
    value = _header(headers, "retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(parsed.timestamp() - now(), 0.0)


def retry_delay(
    attempt: int,
    max_retries: int,
    *,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    random: Callable[[], float],
    now: Callable[[], float] = time.time,
) -> float | None:
    """The wait before retry number `attempt + 1`, or `None` when the failure must be raised.

    `attempt` counts the retries already made (0 after the first failure). `status_code` is `None`
    for connection errors and timeouts, which are always retryable. Backoff is exponential from
    0.5 s up to 8 s with up to 25 % jitter below; a server's Retry-After is honoured up to 60 s,
    and a longer one stops the retries rather than stalling the caller.
    """
    if attempt >= max_retries:
        return None
    if status_code is not None and not is_retryable_status(status_code, headers):
        return None
    if headers is not None:
        asked = parse_retry_after(headers, now=now)
        if asked is not None:
            return asked if asked <= MAX_RETRY_AFTER else None
    backoff = min(INITIAL_RETRY_DELAY * (2.0**attempt), MAX_RETRY_DELAY)
    return backoff * (1.0 - 0.25 * random())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; httpx2's Headers are not.
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate.strip().lower() if name == "x-should-retry" else candidate.strip()
        return None
    return value.strip().lower() if name == "x-should-retry" else value.strip()
