"""chatkit-client's pytest plugin: fixtures for the test suite of a ChatKit server.

Registered through the `pytest11` entry point, so installing chatkit-client is enough. Loading it
imports only pytest: every fixture imports what it needs when a test first asks for it, and a
fixture that needs the `testing` extra fails that test with a one-line hint when it is missing.

Declare your server once, in `conftest.py`, by overriding one fixture:

    @pytest.fixture
    def chatkit_app():
        return my_fastapi_app          # served in-process at /chatkit, lifespan on

    # or
    @pytest.fixture
    def chatkit_server():
        return MyChatKitServer(store)  # driven through server.process(body, chatkit_context)

Fixtures:

- `chatkit_app`: your ASGI app (default None).
- `chatkit_server`: your openai-chatkit `ChatKitServer` (default None).
- `chatkit_context`: the context `chatkit_server` receives (default `{}`).
- `chatkit_client_options`: more `ChatKit` keyword arguments, e.g. `{"headers": {...}, "server_url":
  "/api/chatkit"}` (default `{}`; `lifespan=True` is added for an app unless given).
- `chatkit_client`: a `ChatKit` bound to the app or server, closed after the test.
- `chatkit_async_client`: an `AsyncChatKit` bound to it; an async fixture, so mark the test
  `@pytest.mark.anyio` (or use pytest-asyncio in auto mode).
- `chatkit_local_server`: the test kit's openai-chatkit server on a loopback port (`.url`, `.store`).
- `chatkit_emulator`: the emulator of OpenAI's hosted ChatKit API on a loopback port (`.base_url`,
  `.api_key`, `.emulator`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from chatkit_client import AsyncChatKit, ChatKit
    from chatkit_client.testing import RunningEmulator, RunningLocalServer

_EXTRA_HINT = "the {fixture} fixture needs chatkit-client's testing extra: pip install 'chatkit-client[testing]'"


def _missing_extra(fixture: str) -> NoReturn:
    pytest.fail(_EXTRA_HINT.format(fixture=fixture), pytrace=False)


@pytest.fixture
def chatkit_app() -> Any:
    """Your ASGI app: override this fixture (or `chatkit_server`) to bind `chatkit_client` to it."""
    return None


@pytest.fixture
def chatkit_server() -> Any:
    """Your openai-chatkit `ChatKitServer`: override this fixture (or `chatkit_app`)."""
    return None


@pytest.fixture
def chatkit_context() -> Any:
    """The request context `chatkit_server` receives in every method."""
    return {}


@pytest.fixture
def chatkit_client_options() -> dict[str, Any]:
    """More keyword arguments for the client fixtures (headers, server_url, timeout, lifespan, ...)."""
    return {}


def _client_kwargs(app: Any, server: Any, context: Any, options: dict[str, Any]) -> dict[str, Any]:
    if app is None and server is None:
        pytest.fail(
            "chatkit_client needs your server: override the chatkit_app fixture (an ASGI app) "
            "or chatkit_server (a ChatKitServer) in conftest.py",
            pytrace=False,
        )
    if app is not None and server is not None:
        pytest.fail("override chatkit_app or chatkit_server, not both", pytrace=False)
    if app is not None:
        return {"lifespan": True, **options, "app": app}
    return {**options, "server": server, "context": context}


@pytest.fixture
def chatkit_client(
    chatkit_app: Any, chatkit_server: Any, chatkit_context: Any, chatkit_client_options: dict[str, Any]
) -> Iterator[ChatKit]:
    """A `ChatKit` talking to your app or server in-process; closed (lifespan shutdown) after the test."""
    from chatkit_client import ChatKit

    client = ChatKit(**_client_kwargs(chatkit_app, chatkit_server, chatkit_context, chatkit_client_options))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def chatkit_async_client(
    chatkit_app: Any, chatkit_server: Any, chatkit_context: Any, chatkit_client_options: dict[str, Any]
) -> AsyncIterator[AsyncChatKit]:
    """An `AsyncChatKit` talking to your app or server in-process, in the test's event loop."""
    from chatkit_client import AsyncChatKit

    client = AsyncChatKit(**_client_kwargs(chatkit_app, chatkit_server, chatkit_context, chatkit_client_options))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def chatkit_local_server() -> Iterator[RunningLocalServer]:
    """The test kit's openai-chatkit server (scripted agent, in-memory store) on a loopback port."""
    try:
        from chatkit_client.testing import serve_local_server
    except ImportError:
        _missing_extra("chatkit_local_server")
    with serve_local_server() as running:
        yield running


@pytest.fixture
def chatkit_emulator() -> Iterator[RunningEmulator]:
    """The emulator of OpenAI's hosted ChatKit API on a loopback port."""
    try:
        from chatkit_client.testing import serve_emulator
    except ImportError:
        _missing_extra("chatkit_emulator")
    with serve_emulator() as running:
        yield running
