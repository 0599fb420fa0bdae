"""Load a ChatKit server with Locust: each user holds conversations of a few turns.

Needs the `load` extra: `pip install 'chatkit-client[load]'`. Try it against the dev server:

    chatkit dev-server --port 8000 &

One machine, headless, 20 users for a minute:

    locust -f examples/locustfile.py --host http://127.0.0.1:8000/chatkit --headless -u 20 -r 5 -t 60s

Distributed: one master and as many workers as you like (here two, on this machine):

    locust -f examples/locustfile.py --host http://127.0.0.1:8000/chatkit --headless --master \\
        --master-bind-host 127.0.0.1 --expect-workers 2 -u 100 -r 20 -t 2m --csv run
    locust -f examples/locustfile.py --host http://127.0.0.1:8000/chatkit --worker --master-host 127.0.0.1 &
    locust -f examples/locustfile.py --host http://127.0.0.1:8000/chatkit --worker --master-host 127.0.0.1 &

Locust's tables show `chatkit turn` (whole turns, tool rounds included) and `chatkit first text delta`
(what users wait for); failed turns are failures named by their kind (`status 503`, `timeout`, ...).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from locust import between, task

from chatkit_client.locust import ChatKitUser

QUESTIONS = [
    "Hello! What can you do?",
    "Tell me about your opening hours.",
    'tool:get_weather {"city": "Paris"}',  # the dev server's agent calls a client tool for this one
    "long 200",  # and streams 200 text deltas for this one
]


class Customer(ChatKitUser):
    wait_time = between(0.5, 2)

    @task
    def conversation(self) -> None:
        self.chat.new_thread()
        for text in random.sample(QUESTIONS, k=3):
            if self.chat.send(text) is None:
                return  # the failure is recorded; the next conversation starts afresh

    def tool_answer(self, name: str, arguments: Mapping[str, Any]) -> object:
        # What your front end would answer; the default is {}.
        return {"forecast": "sunny", **arguments}
