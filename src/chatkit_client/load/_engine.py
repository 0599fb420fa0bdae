"""The load engine: virtual conversations on one `AsyncChatKit`, measured turn by turn.

One event loop drives every conversation; the engine owns the client (no retries: a load tool reports
failures, it does not hide them), its connection pool (sized to the load) and a transport that counts the
bytes received. Everything is bounded: no turn starts after `duration`, a turn lasts at most
`turn_timeout`, at most `max_in_flight` turns run at once, and the run ends when the last turn has.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx2

from ..types import AssistantMessageContentPartTextDelta, ClientToolCallItem, ThreadItemUpdatedEvent
from ._metrics import Metrics, TurnSample, error_kind
from ._plan import LoadPlan, open_schedule, spawn_delays
from ._report import LoadReport

if TYPE_CHECKING:
    from .._async.chat import AsyncChat, AsyncChatStream
    from .._async.client import AsyncChatKit

__all__ = ["LoadTarget", "Progress", "run", "run_load"]

_TICK = 0.25


@dataclass(frozen=True)
class LoadTarget:
    """The backend under load: a self-hosted server (`server_url`, `headers`) or OpenAI's hosted API.

    Hosted: with `client_secret` every conversation shares that session; otherwise each virtual user gets
    its own session for the user id `f"{user}-{index}"` on `workflow` (an API key is needed).

    >>> LoadTarget(server_url="http://127.0.0.1:8000/chatkit").self_hosted
    True
    """

    server_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    workflow: str | None = None
    user: str = "load"
    client_secret: str | None = field(default=None, repr=False)

    @property
    def self_hosted(self) -> bool:
        return self.server_url is not None

    def client(self, http_client: httpx2.AsyncClient, timeout: float) -> AsyncChatKit:
        from .._async.client import AsyncChatKit

        if self.server_url is not None:
            return AsyncChatKit(
                server_url=self.server_url,
                headers=dict(self.headers) or None,
                http_client=http_client,
                timeout=timeout,
                max_retries=0,
            )
        return AsyncChatKit(
            api_key=self.api_key, base_url=self.base_url, http_client=http_client, timeout=timeout, max_retries=0
        )

    def chat(self, client: AsyncChatKit, index: int) -> AsyncChat:
        if self.server_url is not None:
            return client.chat()
        if self.client_secret:
            return client.chat(client_secret=self.client_secret)
        if not self.workflow:
            from .._exceptions import InvalidInputError

            raise InvalidInputError("workflow", "hosted load needs a workflow id (wf_...) or a client_secret")
        return client.chat(user=f"{self.user}-{index}", workflow=self.workflow)


@dataclass(frozen=True)
class Progress:
    """A snapshot for live views, taken every quarter second while the run goes on."""

    elapsed: float
    duration: float
    turns: int
    errors: int
    in_flight: int
    rate: float  # turns finished per second over the last few seconds
    first_delta_p50_ms: float
    first_delta_p99_ms: float


class _CountingStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._on_bytes(len(chunk))
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CountingTransport(httpx2.AsyncBaseTransport):
    """Counts the body bytes received (after any content decoding is undone: what came over the wire)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        response.stream = _CountingStream(stream, self._on_bytes)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Engine:
    def __init__(self, plan: LoadPlan, target: LoadTarget, on_progress: Callable[[Progress], None] | None) -> None:
        self.plan = plan
        self.target = target
        self.on_progress = on_progress
        self.metrics = Metrics()
        self.t0 = 0.0
        self.message_index = 0
        self.recent: deque[tuple[float, int]] = deque(maxlen=int(4 / _TICK) + 1)

    # -- clock -------------------------------------------------------------------------------------
    def now(self) -> float:
        return time.perf_counter() - self.t0

    def next_message(self) -> str:
        messages = self.plan.messages
        text = messages[self.message_index % len(messages)]
        self.message_index += 1
        return text

    def _on_bytes(self, count: int) -> None:
        self.metrics.record_bytes(count, self.now())

    # -- one turn ----------------------------------------------------------------------------------
    async def turn(self, chat: AsyncChat, text: str, start: float) -> bool:
        """Send one message (and answer its client tool calls); `start` is the turn's start on our clock."""
        metrics = self.metrics
        plan = self.plan
        first_event: float | None = None
        # Arrival times of the text deltas (perf_counter): appending is all a delta costs while it streams;
        # gaps are computed and recorded in bulk when the turn ends.
        delta_times: list[float] = []
        add_delta = delta_times.append
        delta_type = AssistantMessageContentPartTextDelta
        updated_type = ThreadItemUpdatedEvent
        perf = time.perf_counter
        t0 = self.t0
        error: str | None = None
        metrics.in_flight += 1
        try:
            async with asyncio.timeout(max(0.0, start + plan.turn_timeout - self.now())):
                stream: AsyncChatStream = chat.stream(text)
                for _ in range(plan.max_tool_rounds + 1):
                    tool_call_seen = False
                    async with stream:
                        async for event in stream:
                            if type(event) is updated_type:
                                if type(event.update) is delta_type:
                                    add_delta(perf())
                                    continue
                            elif type(getattr(event, "item", None)) is ClientToolCallItem:
                                tool_call_seen = True
                            if first_event is None:
                                first_event = perf()
                    if not tool_call_seen:
                        break  # the common case, without assembling a Reply to find out
                    call = stream.reply.pending_client_tool_call
                    if call is None:
                        break
                    stream = chat.stream_tool_output(plan.tool_answer(call.name, dict(call.arguments)))
        except Exception as err:  # every failure is a measurement, counted by its kind
            error = error_kind(err)
        finally:
            metrics.in_flight -= 1
        end = self.now()
        deltas = len(delta_times)
        first_delta = delta_times[0] - t0 if deltas else None
        if deltas:
            metrics.record_deltas(deltas, end)
            if error is None:
                metrics.record_delta_times(delta_times)
                if first_event is None or delta_times[0] < first_event:
                    first_event = delta_times[0]
        metrics.record_turn(
            TurnSample(
                start=start,
                turn=end - start,
                first_event=None if first_event is None else first_event - t0 - start,
                first_delta=None if first_delta is None else first_delta - start,
                deltas=deltas,
                error=error,
            )
        )
        return error is None

    # -- closed model ------------------------------------------------------------------------------
    async def user(self, client: AsyncChatKit, index: int, delay: float) -> None:
        plan = self.plan
        if delay:
            await asyncio.sleep(delay)
        while self.now() < plan.duration:
            chat = self.target.chat(client, index)
            for _ in range(plan.turns):
                if self.now() >= plan.duration:
                    return
                ok = await self.turn(chat, self.next_message(), self.now())
                if not ok:
                    break  # the thread may be unusable; the next conversation starts a new one
                if plan.think_time and self.now() + plan.think_time < plan.duration:
                    await asyncio.sleep(plan.think_time)

    async def closed(self, client: AsyncChatKit) -> None:
        assert self.plan.users is not None
        delays = spawn_delays(self.plan.users, self.plan.spawn_rate)
        async with asyncio.TaskGroup() as group:
            for index, delay in enumerate(delays):
                if delay >= self.plan.duration:
                    break
                group.create_task(self.user(client, index, delay))

    # -- open model --------------------------------------------------------------------------------
    async def open(self, client: AsyncChatKit) -> None:
        plan = self.plan
        assert plan.rate is not None
        start_of = open_schedule(plan.rate, plan.duration)
        ready: deque[tuple[AsyncChat, int]] = deque()  # conversations waiting for their next turn
        slots = asyncio.Semaphore(plan.max_in_flight)
        users = 0

        async def conversation_turn(chat: AsyncChat, done: int, start: float) -> None:
            try:
                ok = await self.turn(chat, self.next_message(), start)
            finally:
                slots.release()
            if ok and done + 1 < plan.turns:
                if plan.think_time:
                    await asyncio.sleep(plan.think_time)
                ready.append((chat, done + 1))

        async with asyncio.TaskGroup() as group:
            index = 0
            while (start := start_of(index)) is not None:
                wait = start - self.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                # Behind schedule (a full pool, a busy loop): the turn still counts from its scheduled start.
                await slots.acquire()
                if ready:
                    chat, done = ready.popleft()
                else:
                    chat, done = self.target.chat(client, users), 0
                    users += 1
                group.create_task(conversation_turn(chat, done, start))
                index += 1

    # -- progress ----------------------------------------------------------------------------------
    def progress(self) -> Progress:
        m = self.metrics
        elapsed = self.now()
        finished = m.turns + m.failed
        self.recent.append((elapsed, finished))
        first_t, first_n = self.recent[0]
        rate = (finished - first_n) / (elapsed - first_t) if elapsed > first_t else 0.0
        return Progress(
            elapsed=elapsed,
            duration=self.plan.duration,
            turns=m.turns,
            errors=m.failed,
            in_flight=m.in_flight,
            rate=rate,
            first_delta_p50_ms=m.first_delta.percentile(50) / 1000,
            first_delta_p99_ms=m.first_delta.percentile(99) / 1000,
        )

    async def ticker(self) -> None:
        assert self.on_progress is not None
        while True:
            await asyncio.sleep(_TICK)
            self.on_progress(self.progress())

    async def run(self) -> LoadReport:
        plan = self.plan
        in_flight = plan.users if plan.users is not None else plan.max_in_flight
        limits = httpx2.Limits(max_connections=in_flight + 10, max_keepalive_connections=in_flight + 10)
        inner = httpx2.AsyncHTTPTransport(limits=limits)
        timeout = httpx2.Timeout(plan.turn_timeout)
        started_at = time.time()
        async with (
            httpx2.AsyncClient(transport=_CountingTransport(inner, self._on_bytes), timeout=timeout) as http,
            self.target.client(http, plan.turn_timeout) as client,
        ):
            self.t0 = time.perf_counter()
            ticker = asyncio.create_task(self.ticker()) if self.on_progress is not None else None
            try:
                if plan.users is not None:
                    await self.closed(client)
                else:
                    await self.open(client)
            finally:
                if ticker is not None:
                    ticker.cancel()
            elapsed = self.now()
        if self.on_progress is not None:
            self.on_progress(self.progress())
        return LoadReport.build(plan.describe(), self.metrics, elapsed=elapsed, started_at=started_at, origin=self.t0)


async def run_load(
    plan: LoadPlan, target: LoadTarget, *, on_progress: Callable[[Progress], None] | None = None
) -> LoadReport:
    """Run `plan` against `target` and return the report; ends by itself (duration, then in-flight turns).

    >>> plan = LoadPlan(duration=10, users=20, turns=3)
    >>> report = await run_load(plan, LoadTarget(server_url="http://127.0.0.1:8000/chatkit"))  # doctest: +SKIP
    >>> report.summary()["first_delta_ms"]["p99"]  # doctest: +SKIP
    """
    return await _Engine(plan, target, on_progress).run()


def run(plan: LoadPlan, target: LoadTarget, *, on_progress: Callable[[Progress], None] | None = None) -> LoadReport:
    """`run_load` from synchronous code (starts and ends its own event loop)."""
    return asyncio.run(run_load(plan, target, on_progress=on_progress))
