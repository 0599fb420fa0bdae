"""The hosted session behind a Chat: which client secret to send, and when to renew it (on the server's clock).

Imports: stdlib, types, _exceptions.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._exceptions import AuthenticationError

if TYPE_CHECKING:
    from ..types import ChatSession

__all__ = ["CreateSession", "Locked", "Send", "SessionFlow", "SessionState", "authenticated", "ensure_session"]

# A renewal happens when less than this much of the session remains (or a tenth of its lifetime, if shorter).
RENEW_MARGIN_SECONDS = 30.0
# The hosted API's session lifetime when `expires_after` is not given (ten minutes).
DEFAULT_SESSION_LIFETIME = 600.0
# A `Date` header has whole seconds and servers drift a little: smaller differences are not skew.
_SKEW_NOISE_SECONDS = 5.0


class SessionState:
    """The hosted session behind a Chat: which secret to send and whether it is time to renew.

    With `params` the Chat creates sessions itself and renews them; with only a client secret the
    secret is used as given (nothing to renew it with).

    Expiry is judged on the server's clock: at `install` the offset between the server's clock and
    ours is learned from the answer's `Date` header (or, without one, from a session that our clock
    says expired before it was made), so a local clock that is minutes off does not renew every turn.

    Creation is single-flight: callers that waited for the session lock while an attempt ran share that
    attempt's outcome (`shared_failure`) instead of each running a full retry cycle of their own.

    ```python
    state = SessionState(params={"user": "u", "workflow": "wf"}, clock=lambda: 1_000.0)
    assert state.needs_session()
    ```
    """

    def __init__(
        self,
        *,
        params: Mapping[str, Any] | None = None,
        session: ChatSession | None = None,
        client_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.params = dict(params) if params is not None else None
        self.session = session
        self.fixed_secret = client_secret
        self.clock = clock
        self.obtained_at = clock()
        self.renewals = 0
        # The server's clock minus ours, learned when a session is installed.
        self.clock_offset = 0.0
        # Single flight: attempts finished so far, and the failure of the last one if it failed.
        self.attempts = 0
        self.failure: Exception | None = None

    @property
    def can_renew(self) -> bool:
        return self.params is not None

    def secret(self) -> str:
        if self.session is not None:
            return self.session.client_secret
        assert self.fixed_secret is not None
        return self.fixed_secret

    def needs_session(self) -> bool:
        """True when a session must be created (none yet) or renewed (about to expire) before the next request."""
        if not self.can_renew:
            return False
        if self.session is None:
            return True
        now = self.clock() + self.clock_offset
        remaining = self.session.expires_at - now
        lifetime = max(self.session.expires_at - (self.obtained_at + self.clock_offset), 0.0)
        return remaining < min(RENEW_MARGIN_SECONDS, lifetime / 10.0)

    def ticket(self) -> int:
        """Taken before waiting for the session lock; `shared_failure` compares against it."""
        return self.attempts

    def shared_failure(self, ticket: int) -> Exception | None:
        """The failure of an attempt that finished while the caller waited (to raise instead of retrying).

        Like a future's result, the same exception object goes to every caller that shared the attempt.
        """
        return self.failure if self.attempts > ticket else None

    def attempt_failed(self, err: Exception) -> None:
        self.attempts += 1
        self.failure = err

    def install(self, session: ChatSession, *, date_header: str | None = None) -> None:
        """Use `session` from now on; `date_header` is the `Date` of the answer that created it."""
        if self.session is not None:
            self.renewals += 1
        self.attempts += 1
        self.failure = None
        self.session = session
        self.obtained_at = self.clock()
        self.clock_offset = self._learn_offset(session, date_header)

    def _learn_offset(self, session: ChatSession, date_header: str | None) -> float:
        server_now = _parse_http_date(date_header)
        if session.expires_at <= (server_now if server_now is not None else self.obtained_at):
            # Expired the moment it was made by the clock we had: that clock is wrong (ours is ahead, or the
            # Date came from a proxy). The session's own times tell: assume the lifetime asked for.
            server_now = session.expires_at - self._requested_lifetime()
        if server_now is None:
            return 0.0
        offset = server_now - self.obtained_at
        return offset if abs(offset) > _SKEW_NOISE_SECONDS else 0.0

    def _requested_lifetime(self) -> float:
        expires_after = (self.params or {}).get("expires_after")
        seconds = expires_after.get("seconds") if isinstance(expires_after, Mapping) else None
        return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else DEFAULT_SESSION_LIFETIME

    def is_current(self, secret: str) -> bool:
        """Whether `secret` is still the one in use (so a 401 on it calls for a renewal)."""
        return self.session is not None and self.session.client_secret == secret


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None




# -- the flow: what a Chat does around each request, as steps its shell performs ------------------------------
#
# In the manner of httpx's `Auth.auth_flow`, the policy is a generator and the I/O is not: a flow yields a step,
# the shell's driver performs it (taking the lock, creating a session, sending the request) and sends the
# outcome back in, or throws the failure in. The same flow therefore serves the sync and the async Chat, and a
# test can drive it by hand.

_R = TypeVar("_R")


@dataclass(frozen=True)
class Send:
    """Send the request with `secret` (None: a self-hosted server); the driver sends back the result."""

    secret: str | None


@dataclass(frozen=True)
class CreateSession:
    """`POST /chatkit/sessions` with `params`; the driver sends back `(session, Date header)` (`read_session`)."""

    params: Mapping[str, Any]


@dataclass(frozen=True)
class Locked:
    """Run `flow` holding the Chat's session lock (one creator at a time); its result is sent back.

    `ticket` is `SessionState.ticket()` taken before waiting for the lock, so that a caller that waited
    while an attempt ran shares that attempt's failure instead of trying again.
    """

    ticket: int
    flow: SessionFlow[None]


Step: TypeAlias = Send | CreateSession | Locked
# A flow returning `_R`: it yields steps and is sent their outcomes (`Any`: each step kind has its own).
SessionFlow: TypeAlias = Generator[Step, Any, _R]


def _create_if(state: SessionState, ticket: int, needed: Callable[[], bool]) -> SessionFlow[None]:
    """Under the session lock: create a session if one is still `needed()`, unless an attempt that ran while we
    waited failed (its failure is raised here too: single flight)."""
    if not needed():
        return
    failure = state.shared_failure(ticket)
    if failure is not None:
        raise failure
    assert state.params is not None
    try:
        session, date_header = yield CreateSession(state.params)
    except Exception as err:
        state.attempt_failed(err)
        raise
    state.install(session, date_header=date_header)


def ensure_session(state: SessionState) -> SessionFlow[ChatSession | None]:
    """Create or renew the hosted session when needed (exactly one caller does it at a time); returns it."""
    if state.needs_session():
        ticket = state.ticket()
        yield Locked(ticket, _create_if(state, ticket, state.needs_session))
    return state.session


def _renew_after_401(state: SessionState, used_secret: str) -> SessionFlow[bool]:
    """Renew after `used_secret` got a 401, unless another caller already did; False when this Chat cannot."""
    if not state.can_renew:
        return False
    ticket = state.ticket()
    # Another caller may have renewed already: the secret that failed tells.
    yield Locked(ticket, _create_if(state, ticket, lambda: state.is_current(used_secret)))
    return True


def authenticated(state: SessionState | None) -> SessionFlow[Any]:
    """One request, authenticated: `Send` with the current client secret (None when self-hosted); after a 401
    on a session this Chat can renew, renew once and send again. Returns what the `Send` step returned.
    """
    for last_try in (False, True):
        secret = None
        if state is not None:
            yield from ensure_session(state)
            secret = state.secret()
        try:
            return (yield Send(secret))
        except AuthenticationError:
            if last_try or state is None or secret is None or not (yield from _renew_after_401(state, secret)):
                raise
    raise AssertionError("unreachable")
