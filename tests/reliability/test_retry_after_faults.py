"""Issue 13 item 21: a `Retry-After` that is negative or in the past falls back to the backoff.

The server answers the first message with 429 and such a header, then answers normally. Before the fix the
client retried at once (a delay of 0); now the retry waits the backoff of a first retry, 0.5 s less up to
25 % jitter. The delay is read from the client's retry log line (what it decided), not timed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from chatkit_client._constants import INITIAL_RETRY_DELAY
from tests.helpers import close, make_client, resolve
from tests.reliability.misbehaving_server import (
    RATE_LIMIT_BODY,
    Conn,
    MisbehavingServer,
    Request,
    answer_normally,
    first_attempt,
    scenario,
)

TEXT = "hi there"
HEADERS = {
    "ra_negative": {"Retry-After": "-30"},
    "ra_past_date": {"Retry-After": formatdate(time.time() - 3600, usegmt=True)},
    "ra_ms_negative": {"retry-after-ms": "-1"},
}


def _register(name: str) -> None:
    @scenario(name)
    async def _handler(conn: Conn, req: Request, server: MisbehavingServer) -> None:
        if first_attempt(server, req):
            await conn.respond("429 Too Many Requests", RATE_LIMIT_BODY, extra=HEADERS[name])
        else:
            await answer_normally(conn, req)


for _name in HEADERS:
    _register(_name)


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(HEADERS))
async def test_a_negative_or_past_retry_after_waits_the_backoff(
    kind: str, name: str, server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chatkit_client")
    server.reset_log()
    client = make_client(kind, server_url=server.url(name), timeout=5, max_retries=1)
    reply = await resolve(client.chat().send(TEXT))
    await close(client)
    assert reply.text == f"You said: {TEXT}"
    assert len(server.conversation_requests(name)) == 2
    delays = [float(d) for d in re.findall(r"Retrying POST \S+ in ([0-9.]+) s", caplog.text)]
    assert len(delays) == 1, caplog.text
    assert INITIAL_RETRY_DELAY * 0.75 <= delays[0] <= INITIAL_RETRY_DELAY
