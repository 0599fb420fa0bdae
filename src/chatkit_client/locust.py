"""Locust users that hold ChatKit conversations: load from many machines with Locust's master/worker mode.

Needs the `load` extra (`pip install 'chatkit-client[load]'`). Write a locustfile whose users subclass
`ChatKitUser`; their tasks talk through `self.chat`. Each turn is reported to Locust as a request of type
`chatkit` named `turn` (its response time: the whole turn, tool rounds included; its size: the answer's text
in bytes), and its time to first text delta as a request named `first text delta`, so Locust's tables and
charts show both. A failed turn is a failure named by its kind (`status 503`, `stream error: rate_limited`,
`interrupted stream`, `timeout`, ...), and the conversation starts a new thread.

```python
from locust import between, task
from chatkit_client.locust import ChatKitUser

class Customer(ChatKitUser):
    wait_time = between(1, 3)

    @task
    def conversation(self) -> None:
        self.chat.new_thread()
        for text in ("Hi", "What can you do?", "Thanks"):
            if self.chat.send(text) is None:
                return
```

`locust -f locustfile.py --host http://127.0.0.1:8000/chatkit` (the host is the server's ChatKit URL). Locust
runs users as gevent greenlets, so they use the synchronous `ChatKit` client (gevent makes its sockets
cooperative); never import this module in a program that does not want gevent's monkey-patching.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import gevent
import httpx2
from locust import User, events
from locust.runners import MasterRunner, WorkerRunner

from ._sync.chat import Chat
from ._sync.client import ChatKit
from .load._metrics import error_kind
from .types import AssistantMessageContentPartTextDelta, ThreadItemUpdatedEvent

if TYPE_CHECKING:
    from ._core.reply import Reply

__all__ = ["REQUEST_TYPE", "ChatKitUser", "LocustChat", "TurnFailure"]

REQUEST_TYPE = "chatkit"
TURN = "turn"
FIRST_DELTA = "first text delta"


class TurnFailure(Exception):
    """What Locust records for a failed turn: its message is the kind (`status 503`, `timeout`, ...)."""


class LocustChat:
    """A conversation whose every turn is reported to Locust; `send` returns the Reply, or None on failure.

    >>> reply = self.chat.send("Hello")  # doctest: +SKIP
    """

    def __init__(self, user: ChatKitUser, chat: Chat) -> None:
        self._user = user
        self._chat = chat

    @property
    def thread_id(self) -> str | None:
        return self._chat.thread_id

    @property
    def raw(self) -> Chat:
        """The underlying `Chat`, for calls that are not measured (threads, items, feedback, ...)."""
        return self._chat

    def new_thread(self) -> None:
        """The next message starts a new thread."""
        self._chat.new_thread()

    def send(self, text: str, *, name: str = TURN, **options: Any) -> Reply | None:
        """Send `text` (options as `Chat.stream`), answer client tool calls, report the turn to Locust."""
        user = self._user
        fire = user.environment.events.request.fire
        chat = self._chat
        perf = time.perf_counter
        started = perf()
        start_time = time.time()
        first_delta: float | None = None
        reply: Reply | None = None
        failure: BaseException | None = None
        try:
            stream = chat.stream(text, **options)
            for _ in range(user.max_tool_rounds + 1):
                with stream:
                    for event in stream:
                        if (
                            first_delta is None
                            and type(event) is ThreadItemUpdatedEvent
                            and type(event.update) is AssistantMessageContentPartTextDelta
                        ):
                            first_delta = perf() - started
                    reply = stream.get_final_reply()
                call = reply.pending_client_tool_call
                if call is None:
                    break
                stream = chat.stream_tool_output(user.tool_answer(call.name, dict(call.arguments)))
        except Exception as err:  # every failure is a measurement, named by its kind
            failure = TurnFailure(error_kind(err))
            chat.new_thread()
        elapsed_ms = (perf() - started) * 1000
        fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=elapsed_ms,
            response_length=len(reply.text.encode()) if reply is not None and failure is None else 0,
            exception=failure,
            context=user.context(),
            start_time=start_time,
            url=None,
            response=None,
        )
        if first_delta is not None and failure is None:
            fire(
                request_type=REQUEST_TYPE,
                name=FIRST_DELTA,
                response_time=first_delta * 1000,
                response_length=0,
                exception=None,
                context=user.context(),
                start_time=start_time,
                url=None,
                response=None,
            )
        return None if failure is not None else reply


_ssl_context: list[ssl.SSLContext] = []


def _http_client(timeout: float) -> httpx2.Client:
    """A connection pool of the user's own, sharing the process's one TLS context.

    Building a TLS context loads the CA store (0.1-0.2 s of CPU); once per user, spawning hundreds of users
    would stall a worker for a minute.
    """
    if not _ssl_context:
        _ssl_context.append(httpx2.create_ssl_context())
    return httpx2.Client(verify=_ssl_context[0], timeout=timeout)


class ChatKitUser(User):
    """A Locust user with a ChatKit conversation, `self.chat`; subclass it and add `@task`s.

    The target is Locust's host (`--host`, the server's ChatKit URL) for a self-hosted server. For OpenAI's
    hosted API set `workflow` (and OPENAI_API_KEY in the environment): each user gets a session for the
    user id `load-<n>`. Class attributes: `headers` (self-hosted), `turn_timeout` (seconds),
    the method `tool_answer(name, arguments)` for client tool calls (default: `{}`), `max_tool_rounds`.

    >>> class Customer(ChatKitUser):  # doctest: +SKIP
    ...     @task
    ...     def hello(self) -> None:
    ...         self.chat.send("Hello")
    """

    abstract = True
    headers: ClassVar[Mapping[str, str]] = {}
    workflow: ClassVar[str | None] = None
    turn_timeout: ClassVar[float] = 60.0
    max_tool_rounds: ClassVar[int] = 10
    _count: ClassVar[list[int]] = [0]

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        # No retries: a load test reports failures instead of hiding them.
        self._http = _http_client(self.turn_timeout)
        if self.workflow:
            self.client = ChatKit(
                api_key=os.environ.get("OPENAI_API_KEY"),
                timeout=self.turn_timeout,
                max_retries=0,
                http_client=self._http,
            )
            ChatKitUser._count[0] += 1
            chat = self.client.chat(user=f"load-{ChatKitUser._count[0]}", workflow=self.workflow)
        else:
            if not self.host:
                raise ValueError("ChatKitUser needs --host (the ChatKit server URL) or a `workflow` for hosted")
            self.client = ChatKit(
                server_url=self.host,
                headers=dict(self.headers) or None,
                timeout=self.turn_timeout,
                max_retries=0,
                http_client=self._http,
            )
            chat = self.client.chat()
        self.chat = LocustChat(self, chat)

    def tool_answer(self, name: str, arguments: Mapping[str, Any]) -> object:
        """The answer to a client tool call (default `{}`); override to answer like your front end."""
        return {}

    def on_stop(self) -> None:
        self.client.close()
        self._http.close()


_STOP = "chatkit_finish_turns"
_STOPPED = "chatkit_turns_finished"


def _finish_turns_before_quitting(environment: Any, **_kwargs: Any) -> None:
    """Distributed runs: the master waits for the workers' turns in flight before it quits.

    A headless master quitting at `--run-time` gives the workers half a second for their last report, so
    turns finishing later (up to `--stop-timeout`) would be served by the server but missing from Locust's
    totals. Here the master first asks every worker to stop its users (each finishes its task, within
    `--stop-timeout`) and waits for their answers; the final reports then come at once.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def finish(environment: Any, msg: Any, **_kwargs: Any) -> None:
            runner.stop()
            runner.send_message(_STOPPED)

        runner.register_message(_STOP, finish, concurrent=True)
    elif isinstance(runner, MasterRunner):
        finished: set[str] = set()

        def on_finished(environment: Any, msg: Any, **_kwargs: Any) -> None:
            finished.add(msg.node_id)

        def before_stopping(environment: Any, **_kwargs: Any) -> None:
            workers = {client.id for client in runner.clients.all}
            if not workers:
                return
            finished.clear()
            runner.send_message(_STOP)
            with gevent.Timeout((environment.stop_timeout or 0) + 10, False):
                while not workers <= finished:
                    gevent.sleep(0.05)

        runner.register_message(_STOPPED, on_finished)
        environment.events.test_stopping.add_listener(before_stopping)


events.init.add_listener(_finish_turns_before_quitting)  # type: ignore[no-untyped-call]


def messages_from(path: str) -> Sequence[str]:
    """Messages from a file, one per line (blank lines skipped): a helper for locustfiles."""
    with open(path, encoding="utf-8") as file:
        return [line.strip() for line in file if line.strip()]
