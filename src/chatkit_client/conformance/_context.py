"""The state of one conformance run: what was sent, what came back, and the fixtures cases share.

Fixtures (the two-turn conversation, the threads for listing, the triggered messages) run once, on
first use, so `--case` runs only what the chosen cases need. A fixture that cannot be built raises
`Blocked` for every case that needs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._core.protocol import envelope, list_params, message_request, user_input
from ._model import Outcome
from ._probe import Exchange, Probe
from ._stream import ItemTrack, ParsedStream, item_kind, item_text, parse_stream, walk_items

__all__ = ["Blocked", "CaseOutcome", "Conversation", "RunContext", "StreamRecord", "fail", "skip", "warn"]

T = TypeVar("T")

FIRST_TEXT = "Hello from chatkit conformance"
SECOND_TEXT = "A second message in the same thread"
MAX_PAGES = 20


class CaseOutcome(Exception):
    """Raised by a check to end its case with an outcome other than PASS."""

    def __init__(self, outcome: Outcome, why: str, exchanges: Sequence[Exchange] = ()) -> None:
        super().__init__(why)
        self.outcome = outcome
        self.why = why
        self.exchanges = tuple(exchanges)


class Blocked(CaseOutcome):
    """Something the case needs (a thread, a listing) could not be obtained from the server."""

    def __init__(self, why: str, exchanges: Sequence[Exchange] = ()) -> None:
        super().__init__(Outcome.FAIL, f"could not run: {why}", exchanges)


def fail(why: str, *exchanges: Exchange) -> CaseOutcome:
    return CaseOutcome(Outcome.FAIL, why, exchanges)


def warn(why: str, *exchanges: Exchange) -> CaseOutcome:
    return CaseOutcome(Outcome.WARN, why, exchanges)


def skip(why: str) -> CaseOutcome:
    return CaseOutcome(Outcome.SKIP, why)


@dataclass
class StreamRecord:
    """One streaming request of the run and its answer, with what was known before it was sent."""

    label: str
    exchange: Exchange
    parsed: ParsedStream
    thread_id: str | None
    known_before: frozenset[str]
    sent_text: str | None
    new_thread: bool

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.parsed.events

    def tracks(self) -> dict[str, ItemTrack]:
        return walk_items(self.parsed.events)

    def has_error_event(self) -> bool:
        return any(event.get("type") == "error" for event in self.events)


@dataclass
class Conversation:
    """The run's main thread: two user messages, each answered by the agent."""

    thread_id: str
    first: StreamRecord
    second: StreamRecord


def thread_id_of(events: Sequence[dict[str, Any]]) -> str | None:
    """The thread a stream talks about: from `thread.created`/`thread.updated`, else from an item."""
    for event in events:
        thread = event.get("thread")
        if (
            event.get("type") in ("thread.created", "thread.updated")
            and isinstance(thread, dict)
            and isinstance(thread.get("id"), str)
        ):
            return str(thread["id"])
    for event in events:
        item = event.get("item")
        if isinstance(item, dict) and isinstance(item.get("thread_id"), str):
            return str(item["thread_id"])
    return None


def page_of(exchange: Exchange, what: str) -> tuple[list[dict[str, Any]], bool, str | None]:
    """(data, has_more, cursor) of a list answer, or raises `fail` naming what is wrong."""
    if exchange.status is None or not 200 <= exchange.status < 300:
        raise fail(f"{what} answered {exchange.describe_status()}: {exchange.excerpt()}", exchange)
    try:
        body = exchange.json()
    except ValueError:
        raise fail(f"{what} did not answer JSON: {exchange.excerpt()}", exchange) from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(entry, dict) and "id" in entry for entry in data):
        raise fail(f"{what} did not answer a page `{{data: [objects with an id], has_more}}`", exchange)
    has_more = body.get("has_more")
    if not isinstance(has_more, bool):
        raise fail(f"{what}: `has_more` is {has_more!r}, not true or false", exchange)
    cursor = body.get("after")
    if not isinstance(cursor, str):
        cursor = body.get("last_id") if isinstance(body.get("last_id"), str) else None
    if cursor is None and data:
        cursor = str(data[-1]["id"])
    return data, has_more, cursor


class RunContext:
    """Sends the run's requests, records every stream, and builds the shared fixtures once."""

    def __init__(self, probe: Probe, *, messages: Sequence[str] = ()) -> None:
        self.probe = probe
        self.messages = list(messages)
        self.streams: list[StreamRecord] = []
        self.known: dict[str, set[str]] = {}
        self.run_id = uuid.uuid4().hex[:8]
        self._fixtures: dict[str, Any] = {}

    # -- sending ------------------------------------------------------------------------------
    def call(self, request: dict[str, Any] | bytes) -> Exchange:
        return self.probe.post(request)

    def call_json(self, request: dict[str, Any], what: str) -> tuple[Any, Exchange]:
        """A non-streaming request that must answer 2xx JSON; raises `fail` otherwise."""
        exchange = self.call(request)
        if exchange.status is None or not 200 <= exchange.status < 300:
            raise fail(f"{what} answered {exchange.describe_status()}: {exchange.excerpt()}", exchange)
        try:
            return exchange.json(), exchange
        except ValueError:
            raise fail(f"{what} answered {exchange.status} but not JSON: {exchange.excerpt()}", exchange) from None

    def stream(
        self, label: str, request: dict[str, Any], *, thread_id: str | None = None, sent_text: str | None = None
    ) -> StreamRecord:
        """Send a streaming request, read its whole answer and remember the items it names."""
        known = frozenset(self.known.get(thread_id, set())) if thread_id else frozenset()
        exchange = self.probe.post(request, streaming=True)
        parsed = parse_stream(exchange.content)
        found = thread_id or thread_id_of(parsed.events)
        record = StreamRecord(
            label=label,
            exchange=exchange,
            parsed=parsed,
            thread_id=found,
            known_before=known,
            sent_text=sent_text,
            new_thread=thread_id is None,
        )
        self.streams.append(record)
        if found:
            self.known.setdefault(found, set()).update(record.tracks())
        return record

    def new_thread(self, text: str, label: str) -> StreamRecord:
        """`threads.create` with `text`; raises `Blocked` when no thread id can be read from the answer."""
        record = self.stream(label, message_request(user_input(text), None), sent_text=text)
        if record.thread_id is None:
            raise Blocked(
                f"{label} answered {record.exchange.describe_status()} with no thread id in its events",
                [record.exchange],
            )
        return record

    def add_message(self, thread_id: str, text: str, label: str) -> StreamRecord:
        return self.stream(label, message_request(user_input(text), thread_id), thread_id=thread_id, sent_text=text)

    def items(self, thread_id: str, *, order: str = "asc", limit: int = 100) -> tuple[list[dict[str, Any]], Exchange]:
        """One `items.list` page; raises `fail` on a bad answer."""
        exchange = self.call(
            envelope("items.list", list_params(limit=limit, order=order, after=None, thread_id=thread_id))
        )
        data, _, _ = page_of(exchange, f"items.list (order {order})")
        self.known.setdefault(thread_id, set()).update(str(entry["id"]) for entry in data)
        return data, exchange

    # -- fixtures -----------------------------------------------------------------------------
    def once(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._fixtures:
            try:
                self._fixtures[name] = build()
            except CaseOutcome as outcome:
                blocked = outcome if isinstance(outcome, Blocked) else Blocked(outcome.why, outcome.exchanges)
                self._fixtures[name] = blocked
        value = self._fixtures[name]
        if isinstance(value, Blocked):
            raise value
        return value  # type: ignore[no-any-return]

    def conversation(self) -> Conversation:
        """A new thread with two user messages (`threads.create`, then `threads.add_user_message`)."""

        def build() -> Conversation:
            first = self.new_thread(FIRST_TEXT, "threads.create")
            assert first.thread_id is not None
            second = self.add_message(first.thread_id, SECOND_TEXT, "threads.add_user_message")
            return Conversation(thread_id=first.thread_id, first=first, second=second)

        return self.once("conversation", build)

    def listing_threads(self) -> list[str]:
        """Three thread ids, oldest first: the conversation's and two more made for the listing cases."""

        def build() -> list[str]:
            ids = [self.conversation().thread_id]
            for number in (2, 3):
                text = f"Thread {number} of conformance run {self.run_id}"
                record = self.new_thread(text, f"threads.create #{number}")
                assert record.thread_id is not None
                ids.append(record.thread_id)
            return ids

        return self.once("listing", build)

    def triggered(self) -> list[StreamRecord]:
        """The `--message` texts, each sent in a new thread, to make the agent produce tool calls, widgets..."""

        def build() -> list[StreamRecord]:
            records = []
            for index, text in enumerate(self.messages, start=1):
                try:
                    records.append(self.new_thread(text, f"threads.create (--message {index})"))
                except Blocked:
                    continue  # recorded in self.streams; the stream cases report it
            return records

        return self.once("triggered", build)

    def all_streams(self) -> list[StreamRecord]:
        """Every stream of the run, after making sure the conversation and the triggered messages ran."""
        self.conversation()
        self.triggered()
        return list(self.streams)

    def find_item(self, predicate: Callable[[dict[str, Any]], bool]) -> tuple[StreamRecord, dict[str, Any]] | None:
        """The first item of the run's streams (latest state) that matches `predicate`, with its stream."""
        for record in self.all_streams():
            if record.thread_id is None:
                continue
            for track in record.tracks().values():
                if not track.removed and predicate(track.item):
                    return record, track.item
        return None

    def user_message_id(self, record: StreamRecord) -> str | None:
        """The id of the user message `record` sent: from its stream, else from the thread's items."""
        for track in record.tracks().values():
            item = track.item
            if item_kind(item) == "user_message" and record.sent_text and record.sent_text in item_text(item):
                return str(item["id"])
        if record.thread_id is None:
            return None
        try:
            data, _ = self.items(record.thread_id)
        except CaseOutcome:
            return None
        for item in data:
            if item_kind(item) == "user_message" and record.sent_text and record.sent_text in item_text(item):
                return str(item["id"])
        return None
