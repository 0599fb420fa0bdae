"""The docstring examples of the public classes run, against the dev server (hosted emulator + local server).

Examples marked `+SKIP` need something a test cannot offer (a real workflow, top-level `await`); every other
example runs. `client` is a hosted `ChatKit` (OPENAI_API_KEY/OPENAI_BASE_URL point at the emulator), `chat` a
conversation with the local openai-chatkit server, and `http://localhost:8000` becomes the dev server's origin.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from chatkit_client import ChatKit
from chatkit_client.testing import serve_dev

MODULES = [
    "chatkit_client",
    "chatkit_client._sync.client",
    "chatkit_client._async.client",
    "chatkit_client._sync.chat",
    "chatkit_client._async.chat",
    "chatkit_client._sync.pagination",
    "chatkit_client._async.pagination",
    "chatkit_client._core.protocol",
    "chatkit_client._core.export",
    "chatkit_client._core.audio",
    "chatkit_client._core.files",
    "chatkit_client._sync.resources.threads",
    "chatkit_client._async.resources.threads",
    "chatkit_client._sync.resources.sessions",
    "chatkit_client._async.resources.sessions",
    "chatkit_client._sync.resources.files",
    "chatkit_client._async.resources.files",
]


def test_docstring_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran: dict[str, int] = {}
    with serve_dev() as dev:
        monkeypatch.setenv("OPENAI_API_KEY", dev.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", dev.base_url)
        with ChatKit() as client, ChatKit(server_url=dev.server_url) as server:
            for name in MODULES:
                module = importlib.import_module(name)
                globs = {**vars(module), "client": client, "chat": server.chat()}
                for test in finder.find(module, globs=globs):
                    for example in test.examples:
                        example.source = example.source.replace("http://localhost:8000", dev.origin)
                    result = runner.run(test)
                    ran[test.name] = result.attempted - sum(
                        1 for example in test.examples if example.options.get(doctest.SKIP)
                    )
    assert runner.failures == 0, "a docstring example failed (see the output above)"
    # The first things people call have examples that really run.
    for name in (
        "chatkit_client._sync.client.ChatKit",
        "chatkit_client._async.client.AsyncChatKit",
        "chatkit_client._sync.client.ChatKit.chat",
        "chatkit_client._sync.chat.Chat",
        "chatkit_client._sync.chat.Chat.send",
        "chatkit_client._sync.chat.Chat.stream",
        "chatkit_client._sync.chat.ChatStream",
    ):
        assert ran.get(name, 0) > 0, name
