"""The session flow (`_core.session`) driven by hand, step by step, on a fake clock: no sockets, no lock, no shell.

Each test plays the driver: it reads the step a flow yields, sends back an outcome or throws a failure in, and
checks what the flow asks for next. Concurrency is played out by interleaving two flows on one `SessionState`.
"""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_client import AuthenticationError, RateLimitError
from chatkit_client._core.session import (
    CreateSession,
    Locked,
    Send,
    SessionFlow,
    SessionState,
    authenticated,
    ensure_session,
)
from chatkit_client.types import ChatSession

PARAMS = {"user": "user_1", "workflow": "wf_1"}
START = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def session(secret: str, expires_at: float) -> ChatSession:
    return ChatSession(id=f"cksess_{secret}", client_secret=secret, expires_at=int(expires_at))


def unauthorized() -> AuthenticationError:
    return AuthenticationError("invalid client secret", status_code=401)


def returned(flow: SessionFlow[Any], outcome: object = None) -> Any:
    """Send `outcome` in and expect the flow to finish; its return value."""
    with pytest.raises(StopIteration) as done:
        flow.send(outcome)
    return done.value.value


def locked(step: object) -> Locked:
    assert isinstance(step, Locked), step
    return step


def create_in(step: object, new: ChatSession, date_header: str | None = None) -> None:
    """Play the lock holder: the locked flow asks to create a session, and gets `new`."""
    inner = locked(step).flow
    assert next(inner) == CreateSession(PARAMS)
    returned(inner, (new, date_header))


def test_a_self_hosted_request_is_sent_once_without_a_secret_and_returns_its_result() -> None:
    flow = authenticated(None)
    assert next(flow) == Send(None)
    assert returned(flow, {"data": []}) == {"data": []}


def test_a_401_from_a_self_hosted_server_is_raised_as_is() -> None:
    flow = authenticated(None)
    assert next(flow) == Send(None)
    failure = unauthorized()
    with pytest.raises(AuthenticationError) as raised:
        flow.throw(failure)
    assert raised.value is failure


def test_the_first_request_creates_a_session_under_the_lock_then_sends_with_its_secret() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    flow = authenticated(state)
    step = locked(next(flow))
    assert step.ticket == 0
    create_in(step, session("ek_1", START + 600))
    assert flow.send(None) == Send("ek_1")
    assert returned(flow, "answer") == "answer"
    assert state.session is not None and state.session.client_secret == "ek_1"


def test_a_valid_session_is_used_without_any_step_before_the_send() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    flow = authenticated(state)
    assert next(flow) == Send("ek_1")


def test_the_fake_clock_decides_when_ensure_session_renews() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    clock.now = START + 560  # 40 s left: more than the renewal margin
    assert returned(ensure_session(state)) is state.session
    clock.now = START + 580  # 20 s left: renew before the next request
    flow = ensure_session(state)
    create_in(next(flow), session("ek_2", START + 1180))
    renewed = returned(flow)
    assert renewed.client_secret == "ek_2" and state.renewals == 1


def test_a_401_on_a_session_this_chat_can_renew_renews_once_and_sends_again() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    flow = authenticated(state)
    assert next(flow) == Send("ek_1")
    create_in(flow.throw(unauthorized()), session("ek_2", START + 600))
    assert flow.send(None) == Send("ek_2")
    assert returned(flow, "answer") == "answer"


def test_a_second_401_after_the_renewal_is_raised() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    flow = authenticated(state)
    assert next(flow) == Send("ek_1")
    create_in(flow.throw(unauthorized()), session("ek_2", START + 600))
    assert flow.send(None) == Send("ek_2")
    second = unauthorized()
    with pytest.raises(AuthenticationError) as raised:
        flow.throw(second)
    assert raised.value is second


def test_a_401_on_a_bare_client_secret_is_raised_without_a_renewal() -> None:
    state = SessionState(client_secret="ek_given")
    flow = authenticated(state)
    assert next(flow) == Send("ek_given")
    with pytest.raises(AuthenticationError):
        flow.throw(unauthorized())


def test_other_errors_are_never_a_reason_to_renew() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    flow = authenticated(state)
    assert next(flow) == Send("ek_1")
    with pytest.raises(RateLimitError):
        flow.throw(RateLimitError("slow down", status_code=429))
    assert state.session is not None and state.session.client_secret == "ek_1"


def test_a_401_on_a_secret_another_caller_already_replaced_sends_again_without_creating() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    flow = authenticated(state)
    assert next(flow) == Send("ek_1")
    state.install(session("ek_2", START + 600))  # another caller renewed while ours was in flight
    inner = locked(flow.throw(unauthorized())).flow
    returned(inner)  # the lock holder finds nothing to do: the failed secret is no longer current
    assert flow.send(None) == Send("ek_2")


def test_callers_that_waited_for_a_failed_attempt_share_its_failure_instead_of_retrying() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    first, second = authenticated(state), authenticated(state)
    first_lock, second_lock = locked(next(first)), locked(next(second))  # both took ticket 0, then waited
    assert first_lock.ticket == second_lock.ticket == 0
    inner = first_lock.flow
    assert next(inner) == CreateSession(PARAMS)
    failure = RateLimitError("sessions are rate limited", status_code=429)
    with pytest.raises(RateLimitError):
        inner.throw(failure)
    with pytest.raises(RateLimitError):
        first.throw(failure)
    # The second caller gets the lock next: it asks for no session of its own and raises the same failure.
    with pytest.raises(RateLimitError) as shared:
        next(second_lock.flow)
    assert shared.value is failure
    assert state.attempts == 1


def test_a_caller_that_waited_for_a_successful_attempt_uses_its_session() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    first, second = authenticated(state), authenticated(state)
    first_lock, second_lock = locked(next(first)), locked(next(second))
    create_in(first_lock, session("ek_1", START + 600))
    returned(second_lock.flow)  # no CreateSession: the session it waited for is there
    assert first.send(None) == Send("ek_1")
    assert second.send(None) == Send("ek_1")


def test_a_caller_arriving_after_a_failed_attempt_tries_again() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.attempt_failed(RateLimitError("sessions are rate limited", status_code=429))
    flow = authenticated(state)
    step = locked(next(flow))
    assert step.ticket == 1
    create_in(step, session("ek_1", START + 600))
    assert flow.send(None) == Send("ek_1")


def test_a_failed_renewal_after_a_401_raises_the_renewal_failure() -> None:
    clock = FakeClock()
    state = SessionState(params=PARAMS, clock=clock)
    state.install(session("ek_1", START + 600))
    flow = authenticated(state)
    assert next(flow) == Send("ek_1")
    inner = locked(flow.throw(unauthorized())).flow
    assert next(inner) == CreateSession(PARAMS)
    failure = RateLimitError("sessions are rate limited", status_code=429)
    with pytest.raises(RateLimitError):
        inner.throw(failure)
    with pytest.raises(RateLimitError) as raised:
        flow.throw(failure)
    assert raised.value is failure
    assert state.failure is failure
