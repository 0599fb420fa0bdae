"""The public surface: `__all__` is sorted and importable, and the sync and async shells match."""

from __future__ import annotations

import inspect

import pytest

import chatkit_client
from chatkit_client import (
    AsyncChat,
    AsyncChatKit,
    AsyncChatStream,
    AsyncPage,
    Chat,
    ChatKit,
    ChatStream,
    SyncPage,
)
from chatkit_client.resources import AsyncFiles, AsyncSessions, AsyncThreads, Files, Sessions, Threads


def test_all_is_sorted_and_exactly_what_is_importable() -> None:
    names = chatkit_client.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(chatkit_client, name), name
    public = {name for name in vars(chatkit_client) if not name.startswith("_") and name not in {"types", "resources"}}
    # Submodules imported as a side effect are not part of the flat surface.
    public -= {name for name in public if inspect.ismodule(getattr(chatkit_client, name))}
    assert public <= set(names)


def test_types_all_is_sorted_and_importable() -> None:
    from chatkit_client import types

    assert types.__all__ == sorted(types.__all__)
    for name in types.__all__:
        assert hasattr(types, name), name


PAIRS = [
    (ChatKit, AsyncChatKit),
    (Chat, AsyncChat),
    (ChatStream, AsyncChatStream),
    (SyncPage, AsyncPage),
    (Sessions, AsyncSessions),
    (Threads, AsyncThreads),
    (Files, AsyncFiles),
]


def _public(cls: type) -> dict[str, object]:
    return {name: member for name, member in inspect.getmembers(cls) if not name.startswith("_")}


@pytest.mark.parametrize(("sync", "async_"), PAIRS, ids=[pair[0].__name__ for pair in PAIRS])
def test_sync_and_async_shells_have_the_same_names_and_parameters(sync: type, async_: type) -> None:
    sync_members, async_members = _public(sync), _public(async_)
    assert set(sync_members) == set(async_members)
    for name, member in sync_members.items():
        other = async_members[name]
        if callable(member) and not isinstance(member, type):
            assert _params(member) == _params(other), name


def _params(function: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values() if p.name != "self"]


def test_async_shell_awaits_what_the_sync_shell_does_io_in() -> None:
    for name in ("send", "retry", "custom_action", "add_tool_output", "get_thread", "rename"):
        assert inspect.iscoroutinefunction(getattr(AsyncChat, name)), name
        assert not inspect.iscoroutinefunction(getattr(Chat, name)), name
    # List methods return an AsyncPaginator: awaitable (first page) and async-iterable (every item).
    for name in ("stream", "stream_retry", "client_tool", "new_thread", "threads", "items"):
        assert not inspect.iscoroutinefunction(getattr(AsyncChat, name)), name
    assert inspect.iscoroutinefunction(AsyncChatKit.send_message)
    assert inspect.iscoroutinefunction(AsyncSessions.create)
