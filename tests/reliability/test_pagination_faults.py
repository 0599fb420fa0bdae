"""Issue 13, item 15: a list walk always ends, whatever the server says about its pages.

A server that repeats a cursor, cycles between cursors, claims more pages without a cursor, or spells
`has_more` as a string once made `chat.threads()` and `client.threads.list()` loop forever. Each case runs
against a raw-socket server, with the sync and the async client, over the protocol (self-hosted `threads.list`)
and the hosted admin API (`GET /v1/chatkit/threads`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chatkit_client import APIResponseValidationError
from tests.helpers import close, make_client
from tests.reliability.misbehaving_server import Conn, MisbehavingServer, Request, scenario

# A walk that has not ended after this many threads is looping: the test stops it instead of hanging.
BOUND = 200


def _thread(thread_id: str) -> dict[str, Any]:
    return {
        "id": thread_id,
        "object": "chatkit.thread",
        "created_at": 1_700_000_000,
        "status": {"type": "active"},
        "title": None,
        "user": "user_rel",
    }


async def _page(conn: Conn, req: Request, page: dict[str, Any]) -> None:
    """Answer a protocol `threads.list` or a REST thread list with `page` in the shape each one uses."""
    cursor = page.pop("cursor", None)
    if req.method == "GET":
        body = {"object": "list", **page, "first_id": None, "last_id": cursor}
    else:
        body = {**page, "after": cursor}
    await conn.respond("200 OK", json.dumps(body).encode())


def _nth(server: MisbehavingServer, req: Request) -> int:
    return len(server.requests(req.scenario))


@scenario("pages_repeat_cursor")
async def _pages_repeat_cursor(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    n = _nth(server, req)
    await _page(conn, req, {"data": [_thread(f"thr_{n}")], "has_more": True, "cursor": "cur_same"})


@scenario("pages_cycle")
async def _pages_cycle(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    n = _nth(server, req)
    await _page(conn, req, {"data": [_thread(f"thr_{n}")], "has_more": True, "cursor": "cur_a" if n % 2 else "cur_b"})


@scenario("pages_has_more_string_false")
async def _pages_has_more_string_false(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    n = _nth(server, req)
    await _page(conn, req, {"data": [_thread(f"thr_{n}")], "has_more": "false", "cursor": f"cur_{n}"})


@scenario("pages_has_more_string_true")
async def _pages_has_more_string_true(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    n = _nth(server, req)
    await _page(conn, req, {"data": [_thread(f"thr_{n}")], "has_more": "true" if n < 3 else "false", "cursor": f"c{n}"})


@scenario("pages_has_more_garbage")
async def _pages_has_more_garbage(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await _page(conn, req, {"data": [_thread("thr_1")], "has_more": "sometimes", "cursor": "cur_1"})


@scenario("pages_more_without_cursor")
async def _pages_more_without_cursor(conn: Conn, req: Request, server: MisbehavingServer) -> None:
    await _page(conn, req, {"data": [], "has_more": True})


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


def _client(kind: str, server: MisbehavingServer, name: str, api: str) -> Any:
    if api == "protocol":
        return make_client(kind, server_url=server.url(name), timeout=5, max_retries=0)
    return make_client(kind, api_key="sk-test", base_url=server.url(name) + "/v1", timeout=5, max_retries=0)


async def _walk(client: Any, kind: str, api: str) -> tuple[list[str], BaseException | None]:
    """The thread ids a full walk yields (at most BOUND), and the error that ended it, if any."""
    seen: list[str] = []
    try:
        # Sync list methods fetch the first page at once; async ones when iterated.
        listing = client.chat().threads() if api == "protocol" else client.threads.list(user="user_rel")
        if kind == "sync":
            for thread in listing:
                seen.append(thread.id)
                if len(seen) >= BOUND:
                    break
        else:
            # The async list methods return an AsyncPaginator: `async for` straight over the call.
            async for thread in listing:
                seen.append(thread.id)
                if len(seen) >= BOUND:
                    break
    except Exception as err:
        return seen, err
    return seen, None


APIS = ["protocol", "admin_api"]


@pytest.mark.anyio
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("name", ["pages_repeat_cursor", "pages_cycle"])
async def test_a_cursor_sent_again_stops_the_walk_with_an_error(
    kind: str, api: str, name: str, server: MisbehavingServer
) -> None:
    server.reset_log()
    client = _client(kind, server, name, api)
    seen, err = await _walk(client, kind, api)
    await close(client)
    assert isinstance(err, APIResponseValidationError), err
    assert "a second time" in str(err) and "cursor" in str(err)
    # Every page up to the repeat was delivered, and no page was fetched twice more than needed.
    requests = len(server.requests(name))
    assert len(seen) == requests
    assert requests == (2 if name == "pages_repeat_cursor" else 3)


@pytest.mark.anyio
@pytest.mark.parametrize("api", APIS)
async def test_has_more_spelled_as_a_string_is_read_as_meant(kind: str, api: str, server: MisbehavingServer) -> None:
    server.reset_log()
    client = _client(kind, server, "pages_has_more_string_false", api)
    seen, err = await _walk(client, kind, api)
    assert err is None
    assert seen == ["thr_1"]  # "false" is false: one page, not an endless walk

    client2 = _client(kind, server, "pages_has_more_string_true", api)
    seen, err = await _walk(client2, kind, api)
    await close(client)
    await close(client2)
    assert err is None
    assert seen == ["thr_1", "thr_2", "thr_3"]


@pytest.mark.anyio
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("name", "expected"),
    [("pages_has_more_garbage", "has_more"), ("pages_more_without_cursor", "no cursor")],
)
async def test_a_page_that_cannot_say_where_the_walk_goes_raises(
    kind: str, api: str, name: str, expected: str, server: MisbehavingServer
) -> None:
    server.reset_log()
    client = _client(kind, server, name, api)
    seen, err = await _walk(client, kind, api)
    await close(client)
    assert isinstance(err, APIResponseValidationError), err
    assert expected in str(err)
    assert seen == []
    assert len(server.requests(name)) == 1


@pytest.mark.anyio
async def test_next_page_by_hand_refuses_a_page_that_points_at_itself(kind: str, server: MisbehavingServer) -> None:
    server.reset_log()
    client = _client(kind, server, "pages_repeat_cursor", "protocol")
    try:
        first = client.chat().threads()
        if kind == "async":
            first = await first
        second = await _maybe_await(first.next_page())  # after "cur_same": still says "cur_same"
        with pytest.raises(APIResponseValidationError, match="a second time"):
            await _maybe_await(second.next_page())
    finally:
        await close(client)
    assert len(server.requests("pages_repeat_cursor")) == 2


async def _maybe_await(value: Any) -> Any:
    return await value if hasattr(value, "__await__") else value
