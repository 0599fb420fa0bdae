"""Start-up: the sync client loads neither asyncio nor the async shell, and model schemas wait for first use."""

from __future__ import annotations

import json
import subprocess
import sys

ASYNC_ONLY = ("asyncio", "chatkit_client._async.chat", "chatkit_client._asgi_transport", "concurrent.futures")


def loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {list(names)!r} if m in sys.modules]))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_the_sync_client_does_not_import_asyncio_or_the_async_shell() -> None:
    code = "import chatkit_client\nfrom chatkit_client import ChatKit\nChatKit(server_url='http://127.0.0.1:9/chatkit').chat()"
    assert loaded_after(code, ASYNC_ONLY) == []


def test_the_async_client_still_gets_its_shell() -> None:
    code = (
        "from chatkit_client import AsyncChatKit\n"
        "AsyncChatKit(server_url='http://127.0.0.1:9/chatkit').chat()"
    )
    assert loaded_after(code, ASYNC_ONLY[:2]) == list(ASYNC_ONLY[:2])


def test_model_schemas_are_built_on_first_use() -> None:
    code = (
        "from chatkit_client import ChatKit\n"
        "from chatkit_client.types import ChatSession, ThreadItemUpdatedEvent, parse_event\n"
        "before = (ChatSession.__pydantic_complete__, ThreadItemUpdatedEvent.__pydantic_complete__)\n"
        "parse_event('{\"type\":\"thread.item.updated\",\"item_id\":\"m\",\"update\":{\"type\":\"x\"}}')\n"
        "assert before == (False, False), before\n"
        "assert ThreadItemUpdatedEvent.__pydantic_complete__ and not ChatSession.__pydantic_complete__\n"
    )
    assert loaded_after(code, ()) == []


def test_importing_and_building_a_client_loads_no_pydantic() -> None:
    # Issue 9's start-up goal: models load when a chat, a resource or a type is first used, not at import.
    code = (
        "from chatkit_client import AsyncChatKit, ChatKit\n"
        "ChatKit(api_key='sk-test').close()\n"
        "AsyncChatKit(server_url='http://127.0.0.1:9/chatkit')\n"
    )
    assert loaded_after(code, ("pydantic", "pydantic_core", "chatkit_client.types._items")) == []


def test_a_resource_loads_its_models_when_first_used() -> None:
    code = "from chatkit_client import ChatKit\nChatKit(api_key='sk-test').threads\n"
    assert loaded_after(code, ("pydantic",)) == ["pydantic"]
