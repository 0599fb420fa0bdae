"""The offline test kit: an emulator of OpenAI's hosted ChatKit API and a local ChatKit server.

Needs the `testing` extra: `pip install 'chatkit-client[testing]'`.

>>> from chatkit_client import ChatKit
>>> from chatkit_client.testing import serve_emulator, serve_local_server
>>> with serve_local_server() as server:  # doctest: +SKIP
...     print(ChatKit(server_url=server.url).chat().send("Hello").text)
You said: Hello
>>> with serve_emulator() as hosted:  # doctest: +SKIP
...     client = ChatKit(api_key=hosted.api_key, base_url=hosted.base_url)
...     print(client.chat(user="user_1", workflow="wf_demo").send("Hi").text)
You said: Hi
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError(
        "chatkit_client.testing needs the 'testing' extra: pip install 'chatkit-client[testing]'"
    ) from err

from typing import TYPE_CHECKING as _TYPE_CHECKING

from chatkit_client._lazy import lazy_getattr as _lazy_getattr

from ._emulator import HostedEmulator, RunningEmulator, serve_emulator
from ._emulator_model import RecordedRequest, Turn
from ._serve import serve_app

if _TYPE_CHECKING:
    from ._dev import create_dev_app, serve_dev
    from ._memory_store import InMemoryStore
    from ._server import LocalChatKitServer, RequestContext, RunningLocalServer, create_local_app, serve_local_server

# The local server stands on openai-chatkit, whose import pulls in openai-agents (over a second);
# emulator-only test suites should not pay for it.
_LAZY = {
    "create_dev_app": "._dev",
    "serve_dev": "._dev",
    "InMemoryStore": "._memory_store",
    "LocalChatKitServer": "._server",
    "RequestContext": "._server",
    "RunningLocalServer": "._server",
    "create_local_app": "._server",
    "serve_local_server": "._server",
}


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "HostedEmulator",
    "InMemoryStore",
    "LocalChatKitServer",
    "RecordedRequest",
    "RequestContext",
    "RunningEmulator",
    "RunningLocalServer",
    "Turn",
    "create_dev_app",
    "create_local_app",
    "serve_app",
    "serve_dev",
    "serve_emulator",
    "serve_local_server",
]
