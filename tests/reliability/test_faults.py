"""Every fault scenario of the issue against a server that breaks HTTP itself, for ChatKit and AsyncChatKit.

Each case asserts: the right result or a documented ChatKitError whose message says what went wrong; no hang
past the timeout; no resend once the server answered; the partial Reply keeps what arrived; no secret in
logs or error text. The cases and the checker live in `faults.py` (shared with `report.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from chatkit_client import StreamInterruptedError
from chatkit_client.types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent
from tests.helpers import close, make_client, resolve
from tests.reliability.faults import APP_TOKEN, CASES, PARTIAL_TEXT, TEXT, Case, run_case
from tests.reliability.misbehaving_server import MisbehavingServer


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_fault(case: Case, kind: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = await run_case(case, kind, server, lambda: caplog.text)
    assert outcome.problems == []
    assert not outcome.data_lost


@pytest.mark.anyio
async def test_streamed_events_before_a_break_are_delivered_then_the_error(
    kind: str, server: MisbehavingServer
) -> None:
    client = make_client(kind, server_url=server.url("close_in_event"), timeout=2, max_retries=1)
    chat = client.chat()
    deltas: list[str] = []
    stream = chat.stream(TEXT)
    with pytest.raises(StreamInterruptedError) as caught:
        if kind == "sync":
            for event in stream:
                if isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                    event.update, AssistantMessageContentPartTextDelta
                ):
                    deltas.append(event.update.delta)
        else:
            async for event in stream:
                if isinstance(event, ThreadItemUpdatedEvent) and isinstance(
                    event.update, AssistantMessageContentPartTextDelta
                ):
                    deltas.append(event.update.delta)
    await resolve(stream.close())
    await close(client)
    assert "".join(deltas) == PARTIAL_TEXT
    assert stream.reply.text == PARTIAL_TEXT
    assert caught.value.reply is not None and caught.value.reply.text == PARTIAL_TEXT
    # The chat learned the thread from the broken turn, so the next message continues it.
    assert chat.thread_id == "thr_rel"
    assert len(server.conversation_requests("close_in_event")) >= 1


@pytest.mark.anyio
async def test_a_send_after_a_broken_turn_continues_the_thread(kind: str, server: MisbehavingServer) -> None:
    client = make_client(kind, server_url=server.url("close_between_events"), timeout=2, max_retries=1)
    chat = client.chat()
    with pytest.raises(StreamInterruptedError):
        await resolve(chat.send(TEXT))
    server.reset_log()
    with pytest.raises(StreamInterruptedError):
        await resolve(chat.send("again"))
    await close(client)
    sent = server.conversation_requests("close_between_events")
    assert [req.json["type"] for req in sent] == ["threads.add_user_message"]
    assert sent[0].json["params"]["thread_id"] == "thr_rel"
    assert sent[0].headers.get("authorization") != f"Bearer {APP_TOKEN}"  # none was configured here
