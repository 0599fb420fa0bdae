"""Assemble the events of a conversation turn into a finished `Reply`.

The builder is pure bookkeeping (no I/O), so the sync and async stream drivers share it.

Imports: stdlib, types, _exceptions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .._exceptions import StreamDecodeError
from ..types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientEffectEvent,
    ClientToolCallItem,
    ErrorEvent,
    GeneratedImageItem,
    GeneratedImageUpdated,
    NoticeEvent,
    ProgressUpdateEvent,
    StructuredInputItem,
    Task,
    Thread,
    ThreadCreatedEvent,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdate,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    ThreadUpdatedEvent,
    UserMessageItem,
    WidgetItem,
    WidgetRootUpdated,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)

__all__ = [
    "MAX_ANNOTATIONS",
    "MAX_CONTENT_PARTS",
    "MAX_ITEMS",
    "MAX_WORKFLOW_TASKS",
    "NOTICE_HISTORY",
    "PROGRESS_HISTORY",
    "Reply",
    "ReplyBuilder",
]

# What one turn may make the client allocate. A real answer stays far below each; a server past one is
# broken or hostile, and the turn fails with a StreamDecodeError naming the limit (the reply so far kept).
MAX_ITEMS = 10_000
"""Items in one turn (an update for an unknown id creates a placeholder item, so it counts too)."""
MAX_CONTENT_PARTS = 10_000
"""Assistant content parts in one turn, over all messages. Indexes are stored sparsely: a jump costs one part."""
MAX_ANNOTATIONS = 10_000
"""Annotations in one turn, over all parts."""
MAX_WORKFLOW_TASKS = 10_000
"""Workflow tasks in one turn, over all workflow items."""
# Floods of status events are trimmed instead: a user needs the latest, not two million of them.
PROGRESS_HISTORY = 100
"""`Reply.progress` keeps the latest this many `progress_update` events."""
NOTICE_HISTORY = 1_000
"""`Reply.notices`, `Reply.effects` and `Reply.errors` keep at most this many each (notices and effects the
latest, errors the first: the first error is the one that ended the turn)."""

_PENDING_STATUSES = frozenset({"pending", "in_progress"})
_EXCERPT = 60


@dataclass(frozen=True, repr=False)
class Reply:
    """Everything one conversation turn produced, with streamed text already assembled.

    ```python
    reply = chat.send("What's the weather in Paris?")
    print(reply.text)
    if reply.pending_client_tool_call:
        ...
    ```
    """

    thread_id: str | None
    thread: Thread | None
    """The thread as the Chat knows it after this turn (title and status included), on every turn: the
    latest `thread.created` / `thread.updated` of this turn, else what earlier turns taught the Chat. None
    only while the Chat has never seen the thread's metadata (given a `thread_id`, nothing streamed yet)."""
    items: list[ThreadItem]
    """The turn's items in order of first appearance, each in its final (or latest) state."""
    user_message: UserMessageItem | None
    assistant_messages: list[AssistantMessageItem]
    client_tool_calls: list[ClientToolCallItem]
    widgets: list[WidgetItem]
    workflows: list[WorkflowItem]
    notices: list[NoticeEvent]
    """The turn's `notice` events (the latest 1,000 at most)."""
    progress: list[ProgressUpdateEvent]
    """The latest `progress_update` events, oldest first, at most `PROGRESS_HISTORY` (100); `progress[-1]` is
    the current one. Older ones are dropped so that a flood of updates cannot exhaust memory."""
    errors: list[ErrorEvent]
    """The turn's `error` events (the first 1,000 at most)."""
    effects: list[ClientEffectEvent]
    """The turn's `client_effect` events (the latest 1,000 at most)."""
    events: list[ThreadStreamEvent] | None = None
    """Every event applied, in order, when the builder was asked to keep them."""

    @cached_property
    def text(self) -> str:
        """All assistant output text of the turn: `output_text` parts joined by blank lines."""
        return "\n\n".join(
            part.text
            for message in self.assistant_messages
            for part in message.content
            if part.type == "output_text" and part.text
        )

    @property
    def pending_client_tool_call(self) -> ClientToolCallItem | None:
        """The last client tool call still waiting for its output, if any."""
        for call in reversed(self.client_tool_calls):
            if call.status in _PENDING_STATUSES and call.output is None:
                return call
        return None

    @property
    def pending_structured_input(self) -> StructuredInputItem | None:
        """The last structured input of the turn still waiting for answers, if any.

        Answer it with `chat.add_structured_input(item.id, {question_id: value, ...})`.
        """
        for item in reversed(self.items):
            if isinstance(item, StructuredInputItem) and item.status == "pending":
                return item
        return None

    def __repr__(self) -> str:
        text = self.text
        excerpt = text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."
        return (
            f"Reply(thread_id={self.thread_id!r}, text={excerpt!r}, items={len(self.items)}, "
            f"client_tool_calls={len(self.client_tool_calls)}, errors={len(self.errors)})"
        )


class _Part:
    """An assistant content part under construction: text stays a list of chunks until someone reads it."""

    __slots__ = ("annotations", "base", "chunks", "implicit", "joins")

    def __init__(self, base: AssistantMessageContent, *, implicit: bool = False) -> None:
        self.base = base
        self.chunks: list[str] = [base.text] if base.text else []
        self.annotations: list[Annotation] = list(base.annotations)
        # Made up to hold text that arrived before its `content_part.added`.
        self.implicit = implicit
        self.joins = 0

    def text(self) -> str:
        if len(self.chunks) > 1:
            # Collapse so that later reads only join what arrived since.
            self.chunks[:] = ["".join(self.chunks)]
            self.joins += 1
        return self.chunks[0] if self.chunks else ""

    def snapshot(self) -> AssistantMessageContent:
        return self.base.model_copy(update={"text": self.text(), "annotations": list(self.annotations)})


class _Entry:
    """One item of the turn. Assistant parts (by content index, sparse) and workflow tasks are kept
    outside the model and changed in place, so that an update costs O(1); the model is rebuilt only when
    someone reads the item (`rebuilds` counts it)."""

    __slots__ = ("item", "parts", "rebuilds", "snapshot", "tasks")

    def __init__(self, item: ThreadItem) -> None:
        self.item: ThreadItem = item
        self.parts: dict[int, _Part] | None = None
        self.tasks: list[Task] | None = None
        self.snapshot: ThreadItem | None = None
        self.rebuilds = 0
        self.set(item)

    def set(self, item: ThreadItem) -> None:
        self.item = item
        self.parts = (
            {index: _Part(content) for index, content in enumerate(item.content)}
            if isinstance(item, AssistantMessageItem)
            else None
        )
        self.tasks = list(item.workflow.tasks) if isinstance(item, WorkflowItem) else None
        self.snapshot = None

    def current(self) -> ThreadItem:
        if self.snapshot is None:
            item = self.item
            if self.parts is not None:
                parts = self.parts
                content = [parts[index].snapshot() for index in sorted(parts)]
                item = item.model_copy(update={"content": content})
                self.rebuilds += 1
            elif self.tasks is not None and isinstance(item, WorkflowItem):
                workflow = item.workflow.model_copy(update={"tasks": list(self.tasks)})
                item = item.model_copy(update={"workflow": workflow})
                self.rebuilds += 1
            self.snapshot = item
        return self.snapshot


class ReplyBuilder:
    """Applies stream events one by one and produces a `Reply` on demand.

    Updates are applied to the item named by their `item_id` and `content_index`, never to "the
    current item", so interleaved messages assemble correctly. `thread.item.done` and
    `thread.item.replaced` set an item's final state; `thread.item.removed` drops it. Text deltas for an
    item that was never announced create a placeholder `AssistantMessageItem` with that id (its
    `created_at` is None) so that no text is lost.

    `reply()` may be called at any time for a partial reply, and applying more events afterwards
    continues the same turn: several streams (client tool rounds) can feed one builder. Each update costs
    O(1), whatever the size of the turn. What a turn may allocate is bounded (`MAX_ITEMS`,
    `MAX_CONTENT_PARTS`, `MAX_ANNOTATIONS`, `MAX_WORKFLOW_TASKS`): past a bound `apply` raises
    `StreamDecodeError`. `thread` (or just `thread_id`) is the thread as known before the turn (a Chat
    passes what it learned).

    ```python
    builder = ReplyBuilder()
    for event in stream:
        builder.apply(event)
    reply = builder.reply()
    ```
    """

    def __init__(
        self, *, keep_events: bool = False, thread: Thread | None = None, thread_id: str | None = None
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._order: list[str] = []
        self._thread_id: str | None = thread.id if thread is not None else thread_id
        self._thread: Thread | None = thread
        self._notices: deque[NoticeEvent] = deque(maxlen=NOTICE_HISTORY)
        self._progress: deque[ProgressUpdateEvent] = deque(maxlen=PROGRESS_HISTORY)
        self._errors: list[ErrorEvent] = []
        self._effects: deque[ClientEffectEvent] = deque(maxlen=NOTICE_HISTORY)
        self._events: list[ThreadStreamEvent] | None = [] if keep_events else None
        self._parts_total = 0
        self._annotations_total = 0
        self._tasks_total = 0
        # The part the last text delta went to, while nothing else has changed the turn: a run of deltas to
        # one part (most of a stream) appends without looking it up. Any other change forgets it.
        self._hot: tuple[str, int, list[str]] | None = None

    @property
    def thread_id(self) -> str | None:
        """The thread's id: from `thread.created`/`thread.updated`, else from the first item that names it."""
        return self._thread_id

    def apply(self, event: ThreadStreamEvent) -> None:
        """Apply one event. Unknown events and updates are kept (see `keep_events`) but change nothing."""
        self._hot = None
        if self._events is not None:
            self._events.append(event)
        # Most frequent first: a long answer is almost entirely `thread.item.updated`.
        if isinstance(event, ThreadItemUpdatedEvent):
            self._apply_update(event.item_id, event.update)
        elif isinstance(event, (ThreadItemAddedEvent, ThreadItemDoneEvent, ThreadItemReplacedEvent)):
            self._put(event.item)
        elif isinstance(event, ThreadItemRemovedEvent):
            removed = self._entries.pop(event.item_id, None)
            if removed is not None:
                self._order.remove(event.item_id)
                self._count_entry(removed, -1)
        elif isinstance(event, (ThreadCreatedEvent, ThreadUpdatedEvent)):
            self._thread = event.thread
            self._thread_id = event.thread.id
        elif isinstance(event, ErrorEvent):
            if len(self._errors) < NOTICE_HISTORY:
                self._errors.append(event)
        elif isinstance(event, NoticeEvent):
            self._notices.append(event)
        elif isinstance(event, ProgressUpdateEvent):
            self._progress.append(event)
        elif isinstance(event, ClientEffectEvent):
            self._effects.append(event)

    def record_client_tool_output(self, item_id: str, output: Any) -> None:
        """Mark the client tool call `item_id` completed with `output`.

        The server stores the output it is sent but emits no event for the call itself, so the driver
        records it here; otherwise the call would stay pending in every later reply.
        """
        self._hot = None
        entry = self._entries.get(item_id)
        if entry is not None and isinstance(entry.item, ClientToolCallItem):
            entry.set(entry.item.model_copy(update={"status": "completed", "output": output}))

    def reply(self) -> Reply:
        """A snapshot of the turn so far; later events do not change it."""
        self._hot = None  # the snapshot taken below must be dropped by the next delta
        items = [self._entries[item_id].current() for item_id in self._order]
        user_messages = [item for item in items if isinstance(item, UserMessageItem)]
        return Reply(
            thread_id=self._thread_id,
            thread=self._thread,
            items=items,
            user_message=user_messages[0] if user_messages else None,
            assistant_messages=[item for item in items if isinstance(item, AssistantMessageItem)],
            client_tool_calls=[item for item in items if isinstance(item, ClientToolCallItem)],
            widgets=[item for item in items if isinstance(item, WidgetItem)],
            workflows=[item for item in items if isinstance(item, WorkflowItem)],
            notices=list(self._notices),
            progress=list(self._progress),
            errors=list(self._errors),
            effects=list(self._effects),
            events=list(self._events) if self._events is not None else None,
        )

    def _put(self, item: ThreadItem) -> None:
        entry = self._entries.get(item.id)
        if entry is None:
            self._check_items()
            entry = self._entries[item.id] = _Entry(item)
            self._order.append(item.id)
            self._count_entry(entry, +1)
        else:
            self._count_entry(entry, -1)
            entry.set(item)
            self._count_entry(entry, +1)
        if self._thread_id is None and item.thread_id:
            self._thread_id = item.thread_id

    def _count_entry(self, entry: _Entry, sign: int) -> None:
        # Whole items arrive in one event, already bounded by the event size limit; they count all the
        # same, so that deltas cannot add a full budget on top of them.
        self._parts_total += sign * (len(entry.parts) if entry.parts is not None else 0)
        self._tasks_total += sign * (len(entry.tasks) if entry.tasks is not None else 0)

    def _check_items(self) -> None:
        if len(self._entries) >= MAX_ITEMS:
            raise _limit_error(f"more than {MAX_ITEMS:,} items in one turn", "MAX_ITEMS")

    @property
    def keeps_events(self) -> bool:
        """Whether every event is kept (then each one must be a model and go through `apply`)."""
        return self._events is not None

    def apply_text_delta(self, item_id: str, content_index: int, delta: str) -> None:
        """Apply a text delta given as its fields, as `apply` does a `thread.item.updated` text delta event
        (for callers that read the fields without building the event: nobody looks at it)."""
        hot = self._hot
        if hot is not None and hot[1] == content_index and hot[0] == item_id:
            hot[2].append(delta)
            return
        part = self._part(item_id, content_index)
        if part is not None:
            part.chunks.append(delta)
            self._hot = (item_id, content_index, part.chunks)

    def apply_text_deltas(self, item_id: str, content_index: int, deltas: Sequence[str]) -> None:
        """Apply several text deltas to one part at once, as `apply_text_delta` one by one would."""
        if deltas:
            self.apply_text_delta(item_id, content_index, "".join(deltas))

    def _apply_update(self, item_id: str, update: ThreadItemUpdate) -> None:
        if isinstance(update, AssistantMessageContentPartTextDelta):
            part = self._part(item_id, update.content_index)
            if part is not None:
                part.chunks.append(update.delta)
        elif isinstance(update, AssistantMessageContentPartAdded):
            part = self._part(item_id, update.content_index)
            if part is not None:
                if part.implicit:
                    # Keep text that raced ahead of its part's announcement.
                    part.base = update.content
                    part.chunks[:0] = [update.content.text] if update.content.text else []
                    part.annotations[:0] = update.content.annotations
                    part.implicit = False
                else:
                    self._set_part(item_id, update.content_index, update.content)
        elif isinstance(update, AssistantMessageContentPartDone):
            if self._part(item_id, update.content_index) is not None:
                self._set_part(item_id, update.content_index, update.content)
        elif isinstance(update, AssistantMessageContentPartAnnotationAdded):
            part = self._part(item_id, update.content_index)
            if part is not None:
                if self._annotations_total >= MAX_ANNOTATIONS:
                    raise _limit_error(f"more than {MAX_ANNOTATIONS:,} annotations in one turn", "MAX_ANNOTATIONS")
                self._annotations_total += 1
                part.annotations.append(update.annotation)
        elif isinstance(update, (WorkflowTaskAdded, WorkflowTaskUpdated)):
            entry = self._entries.get(item_id)
            tasks = entry.tasks if entry is not None else None
            if entry is not None and tasks is not None and update.task_index >= 0:
                # In place: copying the task list on every event made a long workflow quadratic.
                if update.task_index < len(tasks):
                    tasks[update.task_index] = update.task
                else:
                    if self._tasks_total >= MAX_WORKFLOW_TASKS:
                        raise _limit_error(
                            f"more than {MAX_WORKFLOW_TASKS:,} workflow tasks in one turn", "MAX_WORKFLOW_TASKS"
                        )
                    self._tasks_total += 1
                    tasks.append(update.task)
                entry.snapshot = None
        elif isinstance(update, WidgetRootUpdated):
            entry = self._entries.get(item_id)
            if entry is not None and isinstance(entry.item, WidgetItem):
                entry.set(entry.item.model_copy(update={"widget": update.widget}))
        elif isinstance(update, GeneratedImageUpdated):
            entry = self._entries.get(item_id)
            if entry is not None and isinstance(entry.item, GeneratedImageItem):
                entry.set(entry.item.model_copy(update={"image": update.image}))

    def _part(self, item_id: str, index: int) -> _Part | None:
        """The part at `index` of assistant message `item_id`, creating the message or the part as needed.

        Parts are stored by index: a delta far ahead creates that one part, never the gap before it.
        """
        if index < 0:
            return None
        entry = self._entries.get(item_id)
        if entry is None:
            self._check_items()
            placeholder = AssistantMessageItem(id=item_id, thread_id=self._thread_id)
            entry = self._entries[item_id] = _Entry(placeholder)
            self._order.append(item_id)
        parts = entry.parts
        if parts is None:
            return None
        entry.snapshot = None
        part = parts.get(index)
        if part is None:
            if self._parts_total >= MAX_CONTENT_PARTS:
                raise _limit_error(f"more than {MAX_CONTENT_PARTS:,} content parts in one turn", "MAX_CONTENT_PARTS")
            self._parts_total += 1
            part = parts[index] = _Part(AssistantMessageContent(), implicit=True)
        return part

    def _set_part(self, item_id: str, index: int, content: AssistantMessageContent) -> None:
        parts = self._entries[item_id].parts
        assert parts is not None  # _part() made sure
        parts[index] = _Part(content)


def _limit_error(what: str, limit: str) -> StreamDecodeError:
    return StreamDecodeError(
        f"the stream sent {what} (the client's limit, chatkit_client._core.reply.{limit}); a real answer stays far "
        "below it, so the server is broken or hostile. What arrived before is in .reply"
    )
