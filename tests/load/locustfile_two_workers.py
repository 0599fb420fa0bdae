"""The locustfile of tests/load/test_locust.py: conversations of two turns, and one `worker` entry per worker.

Each worker process reports itself once (request type `worker`, named by its runner's client id), so the
master's CSV shows which workers reported.
"""

from __future__ import annotations

from typing import Any

from locust import constant, events, task
from locust.runners import WorkerRunner

from chatkit_client.locust import ChatKitUser

_reported: list[bool] = []


class Talker(ChatKitUser):
    wait_time = constant(0.05)

    def on_start(self) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner) and not _reported:
            _reported.append(True)
            events.request.fire(
                request_type="worker", name=runner.client_id, response_time=0, response_length=0, exception=None
            )

    @task
    def conversation(self) -> None:
        self.chat.new_thread()
        for text in ("hello from locust", 'tool:lookup {"q": 1}'):
            if self.chat.send(text) is None:
                return

    def tool_answer(self, name: str, arguments: Any) -> object:
        return {"tool": name, **arguments}
