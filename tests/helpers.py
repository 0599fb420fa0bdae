"""Helpers that let one test body drive both `ChatKit` and `AsyncChatKit`."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, Iterable
from typing import Any

from chatkit_client import AsyncChatKit, ChatKit


def make_client(kind: str, **kwargs: Any) -> ChatKit | AsyncChatKit:
    return ChatKit(**kwargs) if kind == "sync" else AsyncChatKit(**kwargs)


async def resolve(value: Any) -> Any:
    """The value itself, or what it resolves to when it is awaitable (an AsyncChatKit call)."""
    return await value if inspect.isawaitable(value) else value


async def collect(iterable: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
    if isinstance(iterable, AsyncIterable):
        return [item async for item in iterable]
    return list(iterable)


async def close(client: ChatKit | AsyncChatKit) -> None:
    await resolve(client.close())


async def drain(stream: Any) -> tuple[list[Any], BaseException | None]:
    """Every event a stream yields, and the exception that ended it (None for a clean end)."""
    events: list[Any] = []
    try:
        if hasattr(stream, "__aiter__"):
            async for event in stream:
                events.append(event)
        else:
            for event in stream:
                events.append(event)
    except Exception as exc:
        return events, exc
    finally:
        await resolve(stream.close())
    return events, None
