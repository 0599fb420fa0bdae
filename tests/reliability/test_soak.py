"""Soak: 1,000 sequential turns on one Chat against the local server leak neither memory nor descriptors.

RSS is read from /proc/self/statm after a warm-up (imports, first connections, caches), so what is
measured is growth per turn; descriptors are counted in /proc/self/fd once the client is closed.
"""

from __future__ import annotations

import gc
import os
import resource
import time

import pytest

from chatkit_client import ChatKit
from chatkit_client.testing import serve_local_server

TURNS = 1000
WARM_UP = 50
MAX_GROWTH = 10 * 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled_fds(target: int) -> int:
    """The descriptor count once the in-process server has seen the client hang up (it closes its side later)."""
    deadline = time.monotonic() + 5
    count = open_fds()
    while count > target and time.monotonic() < deadline:
        time.sleep(0.05)
        count = open_fds()
    return count


@pytest.mark.slow
def test_a_thousand_turns_on_one_chat_leak_nothing() -> None:
    with serve_local_server() as server:
        fds_before = open_fds()
        client = ChatKit(server_url=server.url, timeout=30)
        chat = client.chat()
        for index in range(WARM_UP):
            assert chat.send(f"warm {index}").text == f"You said: warm {index}"
        thread = chat.thread_id
        gc.collect()
        rss_start = rss_bytes()
        for index in range(TURNS):
            reply = chat.send(f"turn {index}")
            assert reply.text == f"You said: turn {index}"
            assert reply.thread_id == thread
        gc.collect()
        growth = rss_bytes() - rss_start
        client.close()
        fds_after = settled_fds(fds_before)
    # The server's store keeps every item of the thread, so part of the growth is the server's, not ours.
    assert growth < MAX_GROWTH, f"RSS grew by {growth / 1048576:.1f} MB over {TURNS} turns"
    assert fds_after == fds_before
