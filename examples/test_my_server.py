"""Testing your own ChatKit server with chatkit-client's pytest plugin.

The top half is the server under test, a small FastAPI + openai-chatkit app as you would write it
(normally it lives in your own package); the bottom half is its test suite. Installing
`chatkit-client[testing]` registers the plugin, so there is no glue: override `chatkit_app` once
and use the `chatkit_client` / `chatkit_async_client` fixtures. Nothing listens on a port.

    pytest examples/test_my_server.py
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from chatkit_client import AsyncChatKit, AuthenticationError, ChatKit
from chatkit_client.testing import InMemoryStore, RequestContext

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.server import ChatKitServer, StreamingResult
    from chatkit.types import (
        AssistantMessageContent,
        AssistantMessageItem,
        ThreadItemDoneEvent,
        ThreadMetadata,
        ThreadStreamEvent,
        UserMessageItem,
        UserMessageTextContent,
    )

# ------------------------------------------------------------------------- the server under test


class ShoutingServer(ChatKitServer[RequestContext]):
    """Answers every message in capitals, signed with the user the auth dependency found."""

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        assert input_user_message is not None
        text = "".join(p.text for p in input_user_message.content if isinstance(p, UserMessageTextContent))
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=f"{text.upper()} (for {context.headers['x-user']})")],
            )
        )


def create_app() -> FastAPI:
    store = InMemoryStore()  # your database in production
    server = ShoutingServer(store, store)
    app = FastAPI()

    def current_user(authorization: str | None = Header(default=None)) -> str:
        if authorization is None or not authorization.startswith("Bearer user-"):
            raise HTTPException(status_code=401, detail="sign in first")
        return authorization.removeprefix("Bearer ")

    @app.post("/chatkit")
    async def chatkit(request: Request, user: str = Depends(current_user)) -> Response:
        context = RequestContext(headers={"x-user": user}, origin=str(request.base_url).rstrip("/"))
        result = await server.process(await request.body(), context)
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    return app


# ------------------------------------------------------------------------------------ its tests


@pytest.fixture
def chatkit_app() -> Any:
    """Declared once: every chatkit_client / chatkit_async_client in this suite talks to this app."""
    return create_app()


@pytest.fixture
def chatkit_client_options() -> dict[str, Any]:
    return {"headers": {"Authorization": "Bearer user-ada"}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the in-process transport runs on asyncio


def test_answers_in_capitals(chatkit_client: ChatKit) -> None:
    chat = chatkit_client.chat()
    assert chat.send("hello").text == "HELLO (for user-ada)"
    assert chat.send("again").thread_id == chat.thread_id


def test_streams_the_answer(chatkit_client: ChatKit) -> None:
    with chatkit_client.chat().stream("stream me") as stream:
        types = [event.type for event in stream]
    assert types[0] == "thread.created"
    assert "thread.item.done" in types
    assert stream.reply.text == "STREAM ME (for user-ada)"


def test_threads_are_listed_and_renamed(chatkit_client: ChatKit) -> None:
    chat = chatkit_client.chat()
    chat.send("first")
    chat.rename("Shouting")
    assert [thread.title for thread in chat.threads()] == ["Shouting"]


def test_requests_without_a_token_are_refused(chatkit_app: Any) -> None:
    with ChatKit(app=chatkit_app) as anonymous, pytest.raises(AuthenticationError):
        anonymous.chat().send("hello")


@pytest.mark.anyio
async def test_the_async_client_too(chatkit_async_client: AsyncChatKit) -> None:
    reply = await chatkit_async_client.chat().send("async")
    assert reply.text == "ASYNC (for user-ada)"
