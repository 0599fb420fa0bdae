"""The in-process transports on their own, with plain httpx2 clients and small raw ASGI apps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from chatkit_client._asgi_transport import ClientDisconnected, StreamingASGITransport, SyncInProcessTransport

ORIGIN = "http://testserver"


def async_client(app: Any, **kwargs: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=StreamingASGITransport(app, **kwargs), base_url=ORIGIN, timeout=10)


def sync_client(app: Any, **kwargs: Any) -> httpx2.Client:
    return httpx2.Client(
        transport=SyncInProcessTransport(StreamingASGITransport(app, **kwargs)), base_url=ORIGIN, timeout=10
    )


async def start(send: Any, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})


@pytest.mark.anyio
async def test_a_slow_reader_holds_the_app_back() -> None:
    sent = 0

    async def chatty(scope: Any, receive: Any, send: Any) -> None:
        nonlocal sent
        await start(send)
        for _ in range(500):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            sent += 1
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async with async_client(chatty) as client, client.stream("GET", "/") as response:
        chunks = response.aiter_raw()
        await anext(chunks)
        for _ in range(50):
            await asyncio.sleep(0)
        held_back_at = sent
        rest = b"".join([chunk async for chunk in chunks])
    # A window of 16 chunks (plus the one being handed over), never the whole answer in memory.
    assert held_back_at <= 18
    assert len(rest) == 499 and sent == 500


@pytest.mark.anyio
async def test_after_the_reader_leaves_receive_says_disconnect_and_send_raises() -> None:
    seen: list[str] = []

    async def listener(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the (empty) request body
        await start(send)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        seen.append((await receive())["type"])
        try:
            await send({"type": "http.response.body", "body": b"more", "more_body": True})
        except ClientDisconnected:
            seen.append("send raised")

    async with async_client(listener) as client:
        async with client.stream("GET", "/") as response:
            assert await anext(response.aiter_raw()) == b"first"
    # The app got one loop turn before it was cancelled: enough to see the disconnect, not to go on.
    assert seen == ["http.disconnect"] or seen == ["http.disconnect", "send raised"]


@pytest.mark.anyio
async def test_an_app_that_returns_without_answering() -> None:
    async def mute(scope: Any, receive: Any, send: Any) -> None:
        return None

    async with async_client(mute) as client:
        with pytest.raises(RuntimeError, match="without sending a response"):
            await client.get("/")
    async with async_client(mute, raise_app_exceptions=False) as client:
        assert (await client.get("/")).status_code == 500


@pytest.mark.anyio
async def test_an_app_that_stops_mid_body_breaks_the_body_after_what_it_sent() -> None:
    async def half(scope: Any, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise ValueError("lost the database")

    received = b""
    async with async_client(half) as client, client.stream("GET", "/") as response:
        with pytest.raises(httpx2.ReadError) as error:
            async for chunk in response.aiter_raw():
                received += chunk
    assert received == b"half"
    assert isinstance(error.value.__cause__, ValueError)


def test_the_sync_bridge_keeps_what_arrived_before_the_failure_too() -> None:
    async def half(scope: Any, receive: Any, send: Any) -> None:
        await start(send)
        for piece in (b"a", b"b", b"c"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        raise ValueError("lost the database")

    received = b""
    with sync_client(half) as client, client.stream("GET", "/") as response:
        with pytest.raises(httpx2.ReadError):
            for chunk in response.iter_raw():
                received += chunk
    assert received == b"abc"


def test_a_sync_request_body_reaches_the_app_in_chunks() -> None:
    async def echo(scope: Any, receive: Any, send: Any) -> None:
        sizes = []
        while True:
            message = await receive()
            sizes.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await start(send)
        await send({"type": "http.response.body", "body": json.dumps(sizes).encode()})

    def generated() -> Iterator[bytes]:
        yield b"a" * 10
        yield b"b" * 20

    with sync_client(echo) as client:
        sizes = client.post("/", content=generated()).json()
        head = client.head("/")
    assert sizes == [10, 20]
    assert head.status_code == 200 and head.content == b""


@pytest.mark.anyio
async def test_lifespan_state_is_copied_into_each_request() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["greeting"] = "hello"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        state = scope["state"]
        seen = dict(state)
        state["leak"] = True  # must not reach the next request
        await start(send)
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})

    async with async_client(app, lifespan=True) as client:
        first = (await client.get("/")).json()
        second = (await client.get("/")).json()
    assert first == second == {"greeting": "hello"}


def test_a_failed_shutdown_is_reported_at_close() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.failed", "message": "could not flush"})
            return
        await start(send)
        await send({"type": "http.response.body", "body": b"ok"})

    client = sync_client(app, lifespan=True)
    assert client.get("/").content == b"ok"
    with pytest.raises(RuntimeError, match="could not flush"):
        client.close()
