"""Start-up (issue 9): the core modules a client imports, and `chatkit_client.types` itself, load pydantic only
when a model is first needed; names still resolve, and a turn still works once they do."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What the shells import at start-up from the core (and the types package): none of it may pull pydantic in.
PYDANTIC_FREE = (
    "chatkit_client.types",
    "chatkit_client._core.chat",
    "chatkit_client._core.session",
    "chatkit_client._core.export",
    "chatkit_client._core.sse",
    "chatkit_client._core.files",
    "chatkit_client._core.protocol",
    "chatkit_client._core.requests",
    "chatkit_client._core.hosted_requests",
    "chatkit_client._core.audio",
)


def loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {list(names)!r} if m in sys.modules]))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", PYDANTIC_FREE)
def test_importing_a_core_module_does_not_load_pydantic(module: str) -> None:
    assert loaded_after(f"import {module}", ("pydantic", "pydantic_core")) == []


def test_a_name_of_the_types_package_loads_its_module_on_first_use() -> None:
    code = (
        "import chatkit_client.types as types\n"
        "assert 'pydantic' not in sys.modules\n"
        "from chatkit_client.types import Thread\n"
        "assert Thread is types.Thread and 'Thread' in dir(types)\n"
    )
    assert loaded_after(code, ("pydantic", "chatkit_client.types._threads", "chatkit_client.types._events")) == [
        "pydantic",
        "chatkit_client.types._threads",
    ]


def test_every_exported_type_resolves() -> None:
    import chatkit_client.types as types

    missing = [name for name in types.__all__ if getattr(types, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        types.Nope  # noqa: B018


def test_a_turn_driver_loads_the_models_it_needs() -> None:
    code = (
        "from chatkit_client._core.chat import ChatState, TurnDriver\n"
        "assert 'pydantic' not in sys.modules\n"
        "driver = TurnDriver(ChatState())\n"
        "driver.begin_round('text/event-stream')\n"
        "data = b'data: {\"type\":\"thread.item.updated\",\"item_id\":\"m\",\"update\":{\"type\":'\n"
        "data += b'\"assistant_message.content_part.text_delta\",\"content_index\":0,\"delta\":\"hi\"}}\\n\\n'\n"
        "driver.apply_quietly(driver.payloads(data))\n"
        "assert driver.reply().text == 'hi'\n"
    )
    assert loaded_after(code, ("pydantic",)) == ["pydantic"]
