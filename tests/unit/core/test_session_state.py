"""SessionState driven by a fake clock: when a session is renewed, the server's clock learned from `Date` or
from a session born expired, and the single-flight protocol the shells follow around the session lock."""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chatkit_client._core.session import DEFAULT_SESSION_LIFETIME, RENEW_MARGIN_SECONDS, SessionState
from chatkit_client.types import ChatSession

T0 = 1_800_000_000.0
PARAMS: dict[str, Any] = {"user": "u", "workflow": "wf_1"}


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session(expires_at: float, secret: str = "ek_1") -> ChatSession:
    return ChatSession(id="cksess_" + secret, client_secret=secret, expires_at=int(expires_at))


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def hosted(clock: Clock, **params: Any) -> SessionState:
    return SessionState(params={**PARAMS, **params}, clock=clock)


# -- when to renew ----------------------------------------------------------------------------------------


def test_a_chat_with_params_needs_a_session_until_one_is_installed() -> None:
    clock = Clock()
    state = hosted(clock)
    assert state.can_renew and state.needs_session() and state.session is None
    state.install(session(T0 + 600))
    assert not state.needs_session() and state.secret() == "ek_1" and state.renewals == 0


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [
        (600, RENEW_MARGIN_SECONDS),  # a tenth is 60 s: the 30 s margin is smaller
        (300, 30.0),  # a tenth is exactly 30 s
        (120, 12.0),  # short sessions renew in their last tenth
        (10, 1.0),
    ],
)
def test_renewal_starts_when_less_than_the_margin_remains(lifetime: int, margin: float) -> None:
    clock = Clock()
    state = hosted(clock, expires_after={"anchor": "created_at", "seconds": lifetime})
    state.install(session(T0 + lifetime), date_header=http_date(T0))
    clock.now = T0 + lifetime - margin  # exactly the margin left: not yet
    assert not state.needs_session()
    clock.now += 0.5
    assert state.needs_session()
    clock.now = T0 + lifetime + 3600  # long expired
    assert state.needs_session()


def test_the_margin_uses_the_lifetime_seen_at_install_not_the_one_asked_for() -> None:
    clock = Clock()
    state = hosted(clock)  # asked for nothing: ten minutes by default
    clock.now = T0 + 10
    state.install(session(T0 + 110))  # but this one lives 100 s: its tenth (10 s) is the margin
    clock.now = T0 + 99
    assert not state.needs_session()
    clock.now = T0 + 100.5
    assert state.needs_session()


def test_a_fixed_client_secret_is_used_as_given_and_never_renewed() -> None:
    clock = Clock()
    state = SessionState(client_secret="ek_fixed", clock=clock)
    assert not state.can_renew and not state.needs_session() and state.secret() == "ek_fixed"
    clock.now += 10 * DEFAULT_SESSION_LIFETIME
    assert not state.needs_session() and state.secret() == "ek_fixed"
    # A 401 on it calls for no renewal: there is nothing to renew it with.
    assert not state.is_current("ek_fixed")


def test_a_given_session_without_params_is_used_until_it_fails() -> None:
    clock = Clock()
    state = SessionState(session=session(T0 + 5, "ek_given"), clock=clock)
    clock.now += 3600
    assert not state.needs_session() and state.secret() == "ek_given" and state.is_current("ek_given")


def test_is_current_follows_renewals() -> None:
    clock = Clock()
    state = hosted(clock)
    assert not state.is_current("ek_1")
    state.install(session(T0 + 600, "ek_1"))
    assert state.is_current("ek_1")
    clock.now += 590
    state.install(session(clock.now + 600, "ek_2"))
    assert state.renewals == 1 and state.secret() == "ek_2"
    # A 401 on the old secret arrives after another caller renewed: no second renewal.
    assert not state.is_current("ek_1") and state.is_current("ek_2")
    assert state.obtained_at == clock.now


# -- the server's clock ---------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [4.0, -4.0, 5.0, -5.0])
def test_a_few_seconds_of_difference_is_noise(skew: float) -> None:
    clock = Clock(T0 + skew)
    state = hosted(clock)
    state.install(session(T0 + 600), date_header=http_date(T0))
    assert state.clock_offset == 0.0


@pytest.mark.parametrize("skew", [6.0, -6.0, 3600.0, -7200.0])
def test_a_larger_difference_is_learned_from_the_date_header(skew: float) -> None:
    clock = Clock(T0 + skew)
    state = hosted(clock)
    state.install(session(T0 + 600), date_header=http_date(T0))
    assert state.clock_offset == pytest.approx(-skew)
    clock.now = T0 + skew + 569  # 31 s left on the server's clock
    assert not state.needs_session()
    clock.now += 2  # 29 s left
    assert state.needs_session()


def test_a_clock_behind_the_server_renews_on_time_too() -> None:
    # Our clock is 20 minutes slow: without the offset, the session would look valid long after it expired.
    clock = Clock(T0 - 1200)
    state = hosted(clock)
    state.install(session(T0 + 600), date_header=http_date(T0))
    clock.now = T0 - 1200 + 575
    assert state.needs_session()


def test_a_date_in_another_zone_is_read_as_the_same_instant() -> None:
    clock = Clock(T0 + 900)
    state = hosted(clock)
    paris = email.utils.format_datetime(datetime.fromtimestamp(T0, timezone(timedelta(hours=2))))
    assert paris.endswith("+0200")
    state.install(session(T0 + 600), date_header=paris)
    assert state.clock_offset == pytest.approx(-900)


@pytest.mark.parametrize("date", ["", "yesterday", "Mon, 99 Foo 2026 25:61:61 GMT", None])
def test_an_unusable_date_teaches_nothing_for_a_fresh_session(date: str | None) -> None:
    clock = Clock()
    state = hosted(clock)
    state.install(session(T0 + 600), date_header=date)
    assert state.clock_offset == 0.0 and not state.needs_session()


def test_a_session_born_expired_by_a_wrong_date_uses_the_lifetime_asked_for() -> None:
    # A proxy's Date an hour in the future makes the fresh session look expired on arrival; the lifetime
    # asked for (120 s) tells when the server made it.
    clock = Clock(T0)
    state = hosted(clock, expires_after={"anchor": "created_at", "seconds": 120})
    state.install(session(T0 + 120), date_header=http_date(T0 + 3600))
    assert state.clock_offset == 0.0 and not state.needs_session()
    clock.now = T0 + 107  # 13 s left, over the margin of a tenth (12 s)
    assert not state.needs_session()
    clock.now = T0 + 109
    assert state.needs_session()


@pytest.mark.parametrize("expires_after", [None, {"seconds": "120"}, {"seconds": 0}, "120", {"anchor": "created_at"}])
def test_without_a_usable_lifetime_a_session_born_expired_assumes_ten_minutes(expires_after: object) -> None:
    clock = Clock(T0 + 5400)  # 90 minutes ahead, no Date header
    state = SessionState(params={**PARAMS, "expires_after": expires_after}, clock=clock)
    state.install(session(T0 + DEFAULT_SESSION_LIFETIME))
    assert state.clock_offset == pytest.approx(-5400)
    assert not state.needs_session()


def test_each_install_learns_the_offset_afresh() -> None:
    clock = Clock(T0 + 3600)
    state = hosted(clock)
    state.install(session(T0 + 600), date_header=http_date(T0))
    assert state.clock_offset == pytest.approx(-3600)
    # Someone fixed our clock: the next session's Date says so, and the old offset is dropped.
    clock.now = T0 + 590
    state.install(session(T0 + 1190, "ek_2"), date_header=http_date(T0 + 590))
    assert state.clock_offset == 0.0 and not state.needs_session()


# -- single flight ---------------------------------------------------------------------------------------


class Shell:
    """The shells' `_ensure_session`/`_create_session` steps, without the lock or I/O: callers take a ticket
    before waiting, and each gets its turn with the lock in the order given."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.created = 0

    def create(self, ticket: int, outcome: ChatSession | Exception) -> None:
        failure = self.state.shared_failure(ticket)
        if failure is not None:
            raise failure
        if not self.state.needs_session():
            return  # another caller renewed while this one waited
        self.created += 1
        if isinstance(outcome, Exception):
            self.state.attempt_failed(outcome)
            raise outcome
        self.state.install(outcome)


def test_callers_waiting_on_a_failed_attempt_share_its_exact_error() -> None:
    clock = Clock()
    state = hosted(clock)
    shell = Shell(state)
    tickets = [state.ticket() for _ in range(3)]  # three callers need a session at once
    error = RuntimeError("503 from sessions.create")
    with pytest.raises(RuntimeError) as first:
        shell.create(tickets[0], error)
    shared = [state.shared_failure(ticket) for ticket in tickets[1:]]
    assert first.value is error and all(failure is error for failure in shared)
    assert shell.created == 1


def test_callers_waiting_on_a_successful_attempt_use_its_session() -> None:
    clock = Clock()
    state = hosted(clock)
    shell = Shell(state)
    tickets = [state.ticket() for _ in range(3)]
    shell.create(tickets[0], session(T0 + 600))
    for ticket in tickets[1:]:
        assert state.shared_failure(ticket) is None
        shell.create(ticket, RuntimeError("must not be called"))
    assert shell.created == 1 and state.secret() == "ek_1" and state.failure is None


def test_a_success_after_a_failure_clears_it_for_everyone() -> None:
    clock = Clock()
    state = hosted(clock)
    early = state.ticket()
    state.attempt_failed(RuntimeError("first"))
    late = state.ticket()  # arrived after the failure: tries on its own
    assert state.shared_failure(late) is None
    state.install(session(T0 + 600))
    # The early waiter's attempt was followed by a success: nothing to raise, and the session is there.
    assert state.shared_failure(early) is None and not state.needs_session()
    assert state.attempts == 2


def test_a_failure_after_a_success_reaches_only_those_who_waited_for_it() -> None:
    clock = Clock()
    state = hosted(clock)
    state.install(session(T0 + 600))
    clock.now += 590
    before = state.ticket()
    state.attempt_failed(ValueError("renewal failed"))
    after = state.ticket()
    assert isinstance(state.shared_failure(before), ValueError)
    assert state.shared_failure(after) is None
    # The old session stays installed (still usable for its last seconds) and a renewal is still due.
    assert state.secret() == "ek_1" and state.needs_session() and state.renewals == 0
