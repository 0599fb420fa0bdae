"""The conformance cases: one function per rule, registered with its id, level and `docs/protocol.md` section.

Each check judges one rule and nothing else, so that a server breaking one rule fails one case. A check
passes by returning; it ends otherwise by raising `fail`, `warn` or `skip` (from `_context`) with the
exchanges that show the problem, which become the reproducers of the report.

Case ids are stable: a case may be retitled or move to another section, but its id stays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from .._core.protocol import (
    action_params,
    attachment_create_request,
    envelope,
    feedback_params,
    list_params,
    message_request,
    rename_request,
    retry_request,
    structured_input_request,
    tool_output_request,
    user_input,
)
from .._exceptions import StreamDecodeError
from ..types import parse_event
from ._context import RunContext, StreamRecord, fail, page_of, skip, warn
from ._model import Case, Level
from ._probe import Exchange
from ._stream import find_actions, item_kind, item_text, parse_stream

__all__ = ["CASES", "CHECKS", "STREAM_CASES"]

REQUIRED, RECOMMENDED = Level.REQUIRED, Level.RECOMMENDED
CASES: list[Case] = []
CHECKS: dict[str, Callable[[RunContext], None]] = {}
STREAM_CASES: set[str] = set()
"""Cases judged on every stream of the run; they run after the others, which add streams."""

_MAX_PROBLEMS = 3
MAX_LIST_PAGES = 20


def case(
    case_id: str, level: Level, section: str, title: str, *, trigger: str | None = None, streams: bool = False
) -> Callable[[Callable[[RunContext], None]], Callable[[RunContext], None]]:
    def register(check: Callable[[RunContext], None]) -> Callable[[RunContext], None]:
        CASES.append(Case(case_id, level, section, title, trigger))
        CHECKS[case_id] = check
        if streams:
            STREAM_CASES.add(case_id)
        return check

    return register


class _Problems:
    """Problems found over several streams; fails the case with the first few and their reproducers."""

    def __init__(self) -> None:
        self.found: list[tuple[str, Exchange]] = []

    def add(self, record: StreamRecord, text: str) -> None:
        self.found.append((f"{record.label}: {text}", record.exchange))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        shown = "; ".join(text for text, _ in self.found[:_MAX_PROBLEMS])
        more = len(self.found) - _MAX_PROBLEMS
        if more > 0:
            shown += f" (and {more} more)"
        exchanges: list[Exchange] = []
        for _, exchange in self.found:
            if exchange not in exchanges:
                exchanges.append(exchange)
        raise fail(shown, *exchanges[:2])


def _answered_streams(ctx: RunContext) -> Iterable[StreamRecord]:
    """The run's streams that answered 200 (the others are `stream.content-type`'s to report)."""
    return (record for record in ctx.all_streams() if record.exchange.status == 200)


# -- §3 streams ---------------------------------------------------------------------------------
@case("stream.content-type", REQUIRED, "3.1", "Streaming requests answer 200 `text/event-stream`", streams=True)
def _content_type(ctx: RunContext) -> None:
    problems = _Problems()
    for record in ctx.all_streams():
        exchange = record.exchange
        if exchange.status != 200 or exchange.media_type != "text/event-stream":
            problems.add(record, f"answered {exchange.describe_status()} {exchange.excerpt(80)}".rstrip())
    problems.raise_if_any()


@case("stream.framing", REQUIRED, "3.1", "Each event is `data: <one JSON object>` ended by a blank line", streams=True)
def _framing(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        for problem in record.parsed.framing_problems[:1]:
            problems.add(record, problem)
        if not record.exchange.content.strip():
            problems.add(record, "the stream has no events")
    problems.raise_if_any()


@case(
    "stream.events-valid",
    REQUIRED,
    "3.2",
    "Every event has a string `type`; known events have their fields",
    streams=True,
)
def _events_valid(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        for index, event in enumerate(record.events, start=1):
            try:
                parse_event(json.dumps(event))
            except StreamDecodeError as err:
                problems.add(record, f"event {index}: {err}")
                break
    problems.raise_if_any()


@case("stream.ends", REQUIRED, "3.1", "The stream ends cleanly when the turn is over", streams=True)
def _ends(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        if record.exchange.error is not None:
            problems.add(record, f"the body did not end cleanly ({record.exchange.error})")
    problems.raise_if_any()


@case(
    "stream.thread-created",
    REQUIRED,
    "3.3",
    "`threads.create` streams `thread.created` before any item",
    streams=True,
)
def _thread_created(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        if not record.new_thread:
            continue
        kinds = [str(event.get("type")) for event in record.events]
        first_item = next((i for i, kind in enumerate(kinds) if kind.startswith("thread.item.")), len(kinds))
        created = next((i for i, kind in enumerate(kinds) if kind == "thread.created"), None)
        if created is None:
            problems.add(record, "no `thread.created` event")
        elif created > first_item:
            problems.add(record, f"`thread.created` comes after `{kinds[first_item]}`")
        elif not isinstance((record.events[created].get("thread") or {}).get("id"), str):
            problems.add(record, "`thread.created` has no `thread.id`")
    problems.raise_if_any()


@case(
    "stream.user-message", REQUIRED, "3.3", "The user's message comes back as a done `user_message` item", streams=True
)
def _user_message(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        if record.sent_text is None:
            continue
        echoed = [
            track
            for track in record.tracks().values()
            if item_kind(track.item) == "user_message" and record.sent_text in item_text(track.item)
        ]
        if not echoed:
            problems.add(record, f"no `user_message` item with the text {record.sent_text!r}")
        elif not any(track.done for track in echoed):
            problems.add(record, "the `user_message` item is never `thread.item.done`")
    problems.raise_if_any()


@case(
    "stream.item-lifecycle",
    REQUIRED,
    "3.3",
    "Every item added is later done or removed in the same stream",
    streams=True,
)
def _item_lifecycle(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        if record.has_error_event():
            continue  # an error event ends the turn early; unfinished items are expected then
        for item_id, track in record.tracks().items():
            if track.added and not (track.done or track.removed):
                problems.add(record, f"item {item_id} ({item_kind(track.item)}) is added but never done or removed")
    problems.raise_if_any()


@case("stream.updates-known-item", REQUIRED, "3.4", "Updates and removals name an item the client knows", streams=True)
def _updates_known_item(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        known = set(record.known_before)
        for event in record.events:
            kind = event.get("type")
            item = event.get("item")
            if kind in ("thread.item.added", "thread.item.done", "thread.item.replaced") and isinstance(item, dict):
                known.add(str(item.get("id")))
            elif kind in ("thread.item.updated", "thread.item.removed"):
                item_id = event.get("item_id")
                if item_id not in known:
                    problems.add(record, f"`{kind}` names item {item_id!r}, which was never added")
                    break
    problems.raise_if_any()


@case("stream.content-index", REQUIRED, "3.4", "Content-part updates use indexes the message announced", streams=True)
def _content_index(ctx: RunContext) -> None:
    problems = _Problems()
    for record in _answered_streams(ctx):
        parts: dict[str, int] = {}
        for event in record.events:
            kind = event.get("type")
            item = event.get("item")
            if kind == "thread.item.added" and isinstance(item, dict) and item_kind(item) == "assistant_message":
                content = item.get("content")
                parts[str(item.get("id"))] = len(content) if isinstance(content, list) else 0
                continue
            update = event.get("update")
            if kind != "thread.item.updated" or not isinstance(update, dict):
                continue
            update_type = str(update.get("type", ""))
            item_id = str(event.get("item_id"))
            if not update_type.startswith("assistant_message.content_part.") or item_id not in parts:
                continue
            index = update.get("content_index")
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                problems.add(record, f"`{update_type}` has content_index {index!r}")
                break
            if update_type == "assistant_message.content_part.added":
                if index > parts[item_id]:
                    problems.add(record, f"part {index} of {item_id} is added before part {parts[item_id]}")
                    break
                parts[item_id] = max(parts[item_id], index + 1)
            elif index >= parts[item_id]:
                problems.add(record, f"`{update_type}` for part {index} of {item_id}, which was never added")
                break
    problems.raise_if_any()


# -- §4 threads and items -----------------------------------------------------------------------
def _thread_of(body: Any, exchange: Exchange, what: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise fail(f"{what} did not answer a thread object with an `id`: {exchange.excerpt()}", exchange)
    return body


@case("threads.get", REQUIRED, "4.1", "`threads.get_by_id` answers the thread")
def _threads_get(ctx: RunContext) -> None:
    conversation = ctx.conversation()
    body, exchange = ctx.call_json(
        envelope("threads.get_by_id", {"thread_id": conversation.thread_id}), "threads.get_by_id"
    )
    thread = _thread_of(body, exchange, "threads.get_by_id")
    if thread["id"] != conversation.thread_id:
        raise fail(f"asked for thread {conversation.thread_id}, got {thread['id']}", exchange)


def _list_threads(
    ctx: RunContext, *, order: str, limit: int, after: str | None = None
) -> tuple[list[dict[str, Any]], bool, str | None, Exchange]:
    exchange = ctx.call(envelope("threads.list", list_params(limit=limit, order=order, after=after)))
    data, has_more, cursor = page_of(exchange, f"threads.list (order {order}, limit {limit})")
    return data, has_more, cursor, exchange


@case("threads.list", REQUIRED, "4.2", "`threads.list` answers a page holding the new threads")
def _threads_list(ctx: RunContext) -> None:
    ids = ctx.listing_threads()
    data, _, _, exchange = _list_threads(ctx, order="desc", limit=100)
    listed = {str(entry["id"]) for entry in data}
    missing = [thread_id for thread_id in ids if thread_id not in listed]
    if missing:
        raise fail(f"the newest threads are missing from the first page: {', '.join(missing)}", exchange)


def _positions(ids: list[str], data: Iterable[dict[str, Any]]) -> list[int]:
    listed = [str(entry["id"]) for entry in data]
    return [listed.index(thread_id) for thread_id in ids if thread_id in listed]


@case("threads.list-order", REQUIRED, "4.2", "`threads.list` with `desc` is newest first, with `asc` oldest first")
def _threads_list_order(ctx: RunContext) -> None:
    ids = ctx.listing_threads()
    desc, _, _, desc_exchange = _list_threads(ctx, order="desc", limit=100)
    positions = _positions(ids, desc)
    if len(positions) == len(ids) and positions != sorted(positions, reverse=True):
        raise fail("with order desc, older threads come before newer ones", desc_exchange)
    after: str | None = None
    found: list[dict[str, Any]] = []
    for _ in range(MAX_LIST_PAGES):
        page, has_more, after, asc_exchange = _list_threads(ctx, order="asc", limit=100, after=after)
        found += page
        if not has_more or all(thread_id in {str(e["id"]) for e in found} for thread_id in ids):
            break
    positions = _positions(ids, found)
    if len(positions) == len(ids) and positions != sorted(positions):
        raise fail("with order asc, newer threads come before older ones", asc_exchange)


@case("threads.list-pagination", REQUIRED, "4.2", "`threads.list` pages with `limit` and the `after` cursor")
def _threads_list_pagination(ctx: RunContext) -> None:
    ctx.listing_threads()
    whole, _, _, whole_exchange = _list_threads(ctx, order="desc", limit=3)
    expected = [str(entry["id"]) for entry in whole]
    walked: list[str] = []
    after: str | None = None
    for page_number in range(1, 4):
        page, has_more, after, exchange = _list_threads(ctx, order="desc", limit=1, after=after)
        if len(page) > 1:
            raise fail(f"page {page_number} with limit 1 holds {len(page)} threads", exchange)
        walked += [str(entry["id"]) for entry in page]
        if page_number < 3 and not has_more:
            raise fail(f"page {page_number} with limit 1 says has_more false, though 3 threads exist", exchange)
        if len(set(walked)) != len(walked):
            raise fail(f"page {page_number} repeats a thread of an earlier page: `after` is ignored", exchange)
    if walked != expected:
        raise fail(f"walking limit-1 pages gives {walked}, one page of 3 gives {expected}", exchange, whole_exchange)


def _walk_items(ctx: RunContext, thread_id: str, *, limit: int) -> tuple[list[str], Exchange]:
    walked: list[str] = []
    after: str | None = None
    exchange: Exchange | None = None
    for page_number in range(1, MAX_LIST_PAGES + 1):
        params = list_params(limit=limit, order="asc", after=after, thread_id=thread_id)
        exchange = ctx.call(envelope("items.list", params))
        page, has_more, after = page_of(exchange, f"items.list (limit {limit}, page {page_number})")
        if len(page) > limit:
            raise fail(f"page {page_number} with limit {limit} holds {len(page)} items", exchange)
        ids = [str(entry["id"]) for entry in page]
        if set(ids) & set(walked):
            raise fail(f"page {page_number} repeats an item of an earlier page: `after` is ignored", exchange)
        walked += ids
        if not has_more:
            return walked, exchange
    assert exchange is not None
    raise fail(f"items.list still has_more after {MAX_LIST_PAGES} pages of {limit}", exchange)


@case("items.list", REQUIRED, "4.3", "`items.list` answers the thread's items, user messages included")
def _items_list(ctx: RunContext) -> None:
    conversation = ctx.conversation()
    data, exchange = ctx.items(conversation.thread_id)
    texts = [item_text(item) for item in data if item_kind(item) == "user_message"]
    for record in (conversation.first, conversation.second):
        assert record.sent_text is not None
        if not any(record.sent_text in text for text in texts):
            raise fail(f"no user_message item with the text {record.sent_text!r}", exchange)


@case("items.list-order", REQUIRED, "4.3", "`items.list` with `asc` is oldest first and `desc` its reverse")
def _items_list_order(ctx: RunContext) -> None:
    conversation = ctx.conversation()
    asc, asc_exchange = ctx.items(conversation.thread_id, order="asc")
    desc, desc_exchange = ctx.items(conversation.thread_id, order="desc")
    asc_ids = [str(item["id"]) for item in asc]
    if [str(item["id"]) for item in desc] != asc_ids[::-1]:
        raise fail("the `desc` page is not the `asc` page reversed", asc_exchange, desc_exchange)
    positions = []
    for record in (conversation.first, conversation.second):
        assert record.sent_text is not None
        positions += [
            index
            for index, item in enumerate(asc)
            if item_kind(item) == "user_message" and record.sent_text in item_text(item)
        ][:1]
    if len(positions) == 2 and positions[0] > positions[1]:
        raise fail("with order asc, the second user message comes before the first", asc_exchange)


@case("items.list-pagination", REQUIRED, "4.3", "`items.list` pages with `limit` and the `after` cursor")
def _items_list_pagination(ctx: RunContext) -> None:
    conversation = ctx.conversation()
    whole, whole_exchange = ctx.items(conversation.thread_id)
    walked, exchange = _walk_items(ctx, conversation.thread_id, limit=1)
    if set(walked) != {str(item["id"]) for item in whole}:
        raise fail(
            f"walking limit-1 pages finds {len(walked)} items, one page finds {len(whole)}", exchange, whole_exchange
        )


@case("threads.update", REQUIRED, "4.4", "`threads.update` sets the title, and `threads.get_by_id` then shows it")
def _threads_update(ctx: RunContext) -> None:
    conversation = ctx.conversation()
    title = f"Conformance {ctx.run_id}"
    body, exchange = ctx.call_json(rename_request(conversation.thread_id, title), "threads.update")
    thread = _thread_of(body, exchange, "threads.update")
    if thread.get("title") != title:
        raise fail(f"threads.update answered the title {thread.get('title')!r}, not {title!r}", exchange)
    body, got = ctx.call_json(envelope("threads.get_by_id", {"thread_id": conversation.thread_id}), "threads.get_by_id")
    shown = _thread_of(body, got, "threads.get_by_id").get("title")
    if shown != title:
        raise fail(f"after threads.update, threads.get_by_id shows the title {shown!r}, not {title!r}", exchange, got)


@case("threads.delete", REQUIRED, "4.5", "After `threads.delete`, the thread cannot be fetched or listed")
def _threads_delete(ctx: RunContext) -> None:
    record = ctx.new_thread(f"This thread will be deleted ({ctx.run_id})", "threads.create (to delete)")
    assert record.thread_id is not None
    _, deleted = ctx.call_json(envelope("threads.delete", {"thread_id": record.thread_id}), "threads.delete")
    got = ctx.call(envelope("threads.get_by_id", {"thread_id": record.thread_id}))
    if got.status is not None and 200 <= got.status < 300:
        raise fail(f"threads.get_by_id still answers {got.status} for the deleted thread", deleted, got)
    data, _, _, listed = _list_threads(ctx, order="desc", limit=100)
    if any(entry["id"] == record.thread_id for entry in data):
        raise fail("threads.list still shows the deleted thread", deleted, listed)


@case("items.feedback", REQUIRED, "4.6", "`items.feedback` on an answer's item is accepted")
def _items_feedback(ctx: RunContext) -> None:
    conversation = ctx.conversation()
    candidates = [
        item_id
        for item_id, track in conversation.first.tracks().items()
        if item_kind(track.item) not in ("user_message", "") and not track.removed
    ]
    if not candidates:
        data, _ = ctx.items(conversation.thread_id)
        candidates = [str(item["id"]) for item in data]
    if not candidates:
        raise skip("the thread has no items to rate")
    ctx.call_json(
        envelope("items.feedback", feedback_params(conversation.thread_id, candidates[:1], "positive")),
        "items.feedback",
    )


# -- §5 attachments -----------------------------------------------------------------------------
_UPLOAD_NAME = "conformance.txt"
_UPLOAD_BYTES = b"chatkit conformance upload\n"


def _attachment(ctx: RunContext) -> tuple[dict[str, Any], Exchange]:
    def build() -> tuple[dict[str, Any], Exchange]:
        request = attachment_create_request(_UPLOAD_NAME, len(_UPLOAD_BYTES), "text/plain")
        body, exchange = ctx.call_json(request, "attachments.create")
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise fail(f"attachments.create did not answer an attachment with an `id`: {exchange.excerpt()}", exchange)
        return body, exchange

    return ctx.once("attachment", build)


@case("attachments.create", RECOMMENDED, "5.1", "`attachments.create` answers an attachment with an id")
def _attachments_create(ctx: RunContext) -> None:
    _attachment(ctx)


@case("attachments.upload", RECOMMENDED, "5.1", "The upload its `upload_descriptor` names is accepted")
def _attachments_upload(ctx: RunContext) -> None:
    attachment, _ = _attachment(ctx)
    descriptor = attachment.get("upload_descriptor") or {}
    url = descriptor.get("url") if isinstance(descriptor, dict) else None
    if not isinstance(url, str):
        raise skip("the attachment has no upload_descriptor (the server takes direct uploads)")
    method = str(descriptor.get("method") or "POST")
    headers = descriptor.get("headers") if isinstance(descriptor.get("headers"), dict) else {}
    exchange = ctx.probe.upload(
        url, method, {str(k): str(v) for k, v in (headers or {}).items()}, _UPLOAD_NAME, _UPLOAD_BYTES, "text/plain"
    )
    if exchange.status is None or not 200 <= exchange.status < 300:
        raise fail(
            f"the upload to the descriptor's URL answered {exchange.describe_status()}: {exchange.excerpt()}", exchange
        )


@case("attachments.delete", RECOMMENDED, "5.2", "`attachments.delete` is accepted")
def _attachments_delete(ctx: RunContext) -> None:
    attachment, _ = _attachment(ctx)
    ctx.call_json(envelope("attachments.delete", {"attachment_id": attachment["id"]}), "attachments.delete")


# -- §6 turns that need the agent ---------------------------------------------------------------
def _follow_up_ok(record: StreamRecord, what: str) -> None:
    # Only the status: the content type and the body are the stream cases' to judge.
    if record.exchange.status != 200:
        raise fail(f"{what} answered {record.exchange.describe_status()}: {record.exchange.excerpt()}", record.exchange)


@case("threads.retry", RECOMMENDED, "6.4", "`threads.retry_after_item` answers again, replacing the old answer")
def _threads_retry(ctx: RunContext) -> None:
    record = ctx.new_thread(f"Please answer this twice ({ctx.run_id})", "threads.create (to retry)")
    assert record.thread_id is not None
    user_id = ctx.user_message_id(record)
    if user_id is None:
        raise fail("could not find the user message to retry from, in the stream or in items.list", record.exchange)
    old_answer = {
        item_id
        for item_id, track in record.tracks().items()
        if item_id != user_id and track.done and item_kind(track.item) != "user_message"
    }
    retried = ctx.stream(
        "threads.retry_after_item", retry_request(record.thread_id, user_id), thread_id=record.thread_id
    )
    _follow_up_ok(retried, "threads.retry_after_item")
    data, listed = ctx.items(record.thread_id)
    left = old_answer & {str(item["id"]) for item in data}
    if left:
        raise fail(
            f"after the retry, items of the old answer are still in the thread: {sorted(left)}",
            retried.exchange,
            listed,
        )


_TOOL_TRIGGER = "a --message that makes your agent call a client tool (the test kit's server: 'tool:get_weather {}')"


@case(
    "tool.output",
    REQUIRED,
    "6.1",
    "A client tool call is pending, and its output is accepted and stored",
    trigger=_TOOL_TRIGGER,
)
def _tool_output(ctx: RunContext) -> None:
    found = ctx.find_item(lambda item: item_kind(item) == "client_tool_call")
    if found is None:
        raise skip(f"the agent made no client tool call; pass {_TOOL_TRIGGER}")
    record, call = found
    assert record.thread_id is not None
    if call.get("status") != "pending" or not isinstance(call.get("call_id"), str) or not call.get("name"):
        raise fail(
            f"the client_tool_call item is not pending with a call_id and a name: {json.dumps(call)[:200]}",
            record.exchange,
        )
    result = {"conformance": ctx.run_id}
    answered = ctx.stream(
        "threads.add_client_tool_output", tool_output_request(record.thread_id, result), thread_id=record.thread_id
    )
    _follow_up_ok(answered, "threads.add_client_tool_output")
    data, listed = ctx.items(record.thread_id)
    stored = next((item for item in data if item.get("id") == call["id"]), None)
    if stored is None or stored.get("status") != "completed":
        shown = stored.get("status") if stored else "gone"
        raise fail(f"after the output, the tool call's status is {shown!r}, not 'completed'", answered.exchange, listed)


_ASK_TRIGGER = "a --message that makes your agent ask a structured question (the test kit's server: 'ask')"


@case(
    "structured-input.answer",
    REQUIRED,
    "6.3",
    "A pending structured input is answered and replaced",
    trigger=_ASK_TRIGGER,
)
def _structured_input(ctx: RunContext) -> None:
    found = ctx.find_item(
        lambda item: item_kind(item) == "structured_input" and item.get("status", "pending") == "pending"
    )
    if found is None:
        raise skip(f"the agent asked no structured question; pass {_ASK_TRIGGER}")
    record, item = found
    assert record.thread_id is not None
    answers: dict[str, list[str]] = {}
    for question in item.get("inputs") or []:
        if not isinstance(question, dict) or not isinstance(question.get("id"), str):
            continue
        options = [o.get("value") for o in question.get("options") or [] if isinstance(o, dict)]
        values = [str(options[0])] if options and options[0] is not None else ["conformance"]
        answers[question["id"]] = values
    request = structured_input_request(record.thread_id, str(item["id"]), answers)
    answered = ctx.stream("threads.add_structured_input", request, thread_id=record.thread_id)
    _follow_up_ok(answered, "threads.add_structured_input")
    replaced = [
        event["item"]
        for event in answered.events
        if event.get("type") == "thread.item.replaced"
        and isinstance(event.get("item"), dict)
        and event["item"].get("id") == item["id"]
    ]
    if not replaced:
        raise fail("the answer stream has no `thread.item.replaced` for the structured input", answered.exchange)
    if replaced[-1].get("status") == "pending":
        raise fail("the replaced structured input is still pending", answered.exchange)


_WIDGET_TRIGGER = "a --message that makes your agent show a widget with an action (the test kit's server: 'widget')"


@case(
    "widget.action",
    RECOMMENDED,
    "6.2",
    "A widget's action is accepted by `threads.custom_action`",
    trigger=_WIDGET_TRIGGER,
)
def _widget_action(ctx: RunContext) -> None:
    found = ctx.find_item(lambda item: item_kind(item) == "widget" and any(find_actions(item.get("widget"))))
    if found is None:
        raise skip(f"the agent showed no widget with an action; pass {_WIDGET_TRIGGER}")
    record, item = found
    assert record.thread_id is not None
    action = next(find_actions(item.get("widget")))
    sent = {"type": action["type"], "payload": action.get("payload")}
    request = envelope("threads.custom_action", action_params(record.thread_id, sent, str(item["id"])))
    answered = ctx.stream("threads.custom_action", request, thread_id=record.thread_id)
    _follow_up_ok(answered, "threads.custom_action")
    errors = [event for event in answered.events if event.get("type") == "error"]
    if errors:
        raise fail(f"the action's answer is an error event: {json.dumps(errors[0])[:200]}", answered.exchange)


# -- §7 bad requests ----------------------------------------------------------------------------
def _judge_rejection(exchange: Exchange, what: str, *, streaming: bool = False) -> None:
    status = exchange.status
    if status is None:
        raise fail(f"{what}: no answer ({exchange.error})", exchange)
    if 400 <= status < 500:
        try:
            exchange.json()
        except ValueError:
            raise fail(f"{what}: answered {status} but the body is not JSON: {exchange.excerpt()}", exchange) from None
        return
    if status >= 500:
        raise fail(
            f"{what}: answered {exchange.describe_status()} (a server error, not a 4xx): {exchange.excerpt()}", exchange
        )
    if 200 <= status < 300 and streaming and exchange.media_type == "text/event-stream":
        events = parse_stream(exchange.content).events
        if any(event.get("type") == "error" for event in events):
            return  # reported inside the stream, as openai-chatkit does for errors after the stream began
        if exchange.error is not None:
            raise fail(
                f"{what}: answered 200, then dropped the connection without an error event ({exchange.error})", exchange
            )
    raise warn(
        f"{what}: accepted silently ({exchange.describe_status()}) instead of a 4xx: {exchange.excerpt()}", exchange
    )


@case("errors.malformed-json", RECOMMENDED, "7", "A body that is not JSON gets a 4xx with a JSON error")
def _malformed_json(ctx: RunContext) -> None:
    _judge_rejection(ctx.call(b'{"type": "threads.list", "params": {'), "malformed JSON")


@case("errors.unknown-type", RECOMMENDED, "7", "An unknown request type gets a 4xx with a JSON error")
def _unknown_type(ctx: RunContext) -> None:
    _judge_rejection(ctx.call(envelope("conformance.no_such_request", {})), "an unknown request type")


@case("errors.invalid-params", RECOMMENDED, "7", "A request missing its params gets a 4xx with a JSON error")
def _invalid_params(ctx: RunContext) -> None:
    exchange = ctx.call(envelope("threads.update", {"title": "no thread id"}))
    _judge_rejection(exchange, "threads.update without thread_id")


@case("errors.missing-thread", RECOMMENDED, "7", "A thread that does not exist gets a 4xx with a JSON error")
def _missing_thread(ctx: RunContext) -> None:
    thread_id = f"thr_conformance_missing_{ctx.run_id}"
    exchange = ctx.call(envelope("threads.get_by_id", {"thread_id": thread_id}))
    _judge_rejection(exchange, "threads.get_by_id of a missing thread")


@case("errors.missing-thread-stream", RECOMMENDED, "7", "A message to a missing thread gets a 4xx, or an `error` event")
def _missing_thread_stream(ctx: RunContext) -> None:
    request = message_request(user_input("Hello?"), f"thr_conformance_missing_{ctx.run_id}")
    exchange = ctx.probe.post(request, streaming=True)
    _judge_rejection(exchange, "threads.add_user_message to a missing thread", streaming=True)
