"""Assemble the events of a conversation turn into a finished `Reply`.

The builder is pure bookkeeping (no I/O), so the sync and async stream drivers share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .types import (
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

__all__ = ["Reply", "ReplyBuilder"]

# A content or task index this far past the end is a server bug; padding up to it could exhaust memory.
_MAX_INDEX_GAP = 1000
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
    """The latest thread metadata seen (`thread.created` / `thread.updated`); has the title once set."""
    items: list[ThreadItem]
    """The turn's items in order of first appearance, each in its final (or latest) state."""
    user_message: UserMessageItem | None
    assistant_messages: list[AssistantMessageItem]
    client_tool_calls: list[ClientToolCallItem]
    widgets: list[WidgetItem]
    workflows: list[WorkflowItem]
    notices: list[NoticeEvent]
    progress: list[ProgressUpdateEvent]
    errors: list[ErrorEvent]
    effects: list[ClientEffectEvent]
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
    __slots__ = ("item", "parts", "snapshot")

    def __init__(self, item: ThreadItem) -> None:
        self.item: ThreadItem = item
        self.parts: list[_Part] | None = None
        self.snapshot: ThreadItem | None = None
        self.set(item)

    def set(self, item: ThreadItem) -> None:
        self.item = item
        self.parts = [_Part(content) for content in item.content] if isinstance(item, AssistantMessageItem) else None
        self.snapshot = None

    def current(self) -> ThreadItem:
        if self.snapshot is None:
            if self.parts is not None:
                self.snapshot = self.item.model_copy(update={"content": [part.snapshot() for part in self.parts]})
            else:
                self.snapshot = self.item
        return self.snapshot


class ReplyBuilder:
    """Applies stream events one by one and produces a `Reply` on demand.

    Updates are applied to the item named by their `item_id` and `content_index`, never to "the
    current item", so interleaved messages assemble correctly. `thread.item.done` and
    `thread.item.replaced` set an item's final state; `thread.item.removed` drops it. Text deltas for an
    item that was never announced create a placeholder `AssistantMessageItem` with that id (its
    `created_at` is None) so that no text is lost.

    `reply()` may be called at any time for a partial reply, and applying more events afterwards
    continues the same turn: several streams (client tool rounds) can feed one builder.

    ```python
    builder = ReplyBuilder()
    for event in stream:
        builder.apply(event)
    reply = builder.reply()
    ```
    """

    def __init__(self, *, keep_events: bool = False) -> None:
        self._entries: dict[str, _Entry] = {}
        self._order: list[str] = []
        self._thread_id: str | None = None
        self._thread: Thread | None = None
        self._notices: list[NoticeEvent] = []
        self._progress: list[ProgressUpdateEvent] = []
        self._errors: list[ErrorEvent] = []
        self._effects: list[ClientEffectEvent] = []
        self._events: list[ThreadStreamEvent] | None = [] if keep_events else None

    @property
    def thread_id(self) -> str | None:
        """The thread's id: from `thread.created`/`thread.updated`, else from the first item that names it."""
        return self._thread_id

    def apply(self, event: ThreadStreamEvent) -> None:
        """Apply one event. Unknown events and updates are kept (see `keep_events`) but change nothing."""
        if self._events is not None:
            self._events.append(event)
        # Most frequent first: a long answer is almost entirely `thread.item.updated`.
        if isinstance(event, ThreadItemUpdatedEvent):
            self._apply_update(event.item_id, event.update)
        elif isinstance(event, (ThreadItemAddedEvent, ThreadItemDoneEvent, ThreadItemReplacedEvent)):
            self._put(event.item)
        elif isinstance(event, ThreadItemRemovedEvent):
            if self._entries.pop(event.item_id, None) is not None:
                self._order.remove(event.item_id)
        elif isinstance(event, (ThreadCreatedEvent, ThreadUpdatedEvent)):
            self._thread = event.thread
            self._thread_id = event.thread.id
        elif isinstance(event, ErrorEvent):
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
        entry = self._entries.get(item_id)
        if entry is not None and isinstance(entry.item, ClientToolCallItem):
            entry.set(entry.item.model_copy(update={"status": "completed", "output": output}))

    def reply(self) -> Reply:
        """A snapshot of the turn so far; later events do not change it."""
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
            self._entries[item.id] = _Entry(item)
            self._order.append(item.id)
        else:
            entry.set(item)
        if self._thread_id is None and item.thread_id:
            self._thread_id = item.thread_id

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
                part.annotations.append(update.annotation)
        elif isinstance(update, (WorkflowTaskAdded, WorkflowTaskUpdated)):
            entry = self._entries.get(item_id)
            if entry is not None and isinstance(entry.item, WorkflowItem) and update.task_index >= 0:
                workflow = entry.item.workflow
                tasks = list(workflow.tasks)
                if update.task_index < len(tasks):
                    tasks[update.task_index] = update.task
                else:
                    tasks.append(update.task)
                entry.set(entry.item.model_copy(update={"workflow": workflow.model_copy(update={"tasks": tasks})}))
        elif isinstance(update, WidgetRootUpdated):
            entry = self._entries.get(item_id)
            if entry is not None and isinstance(entry.item, WidgetItem):
                entry.set(entry.item.model_copy(update={"widget": update.widget}))
        elif isinstance(update, GeneratedImageUpdated):
            entry = self._entries.get(item_id)
            if entry is not None and isinstance(entry.item, GeneratedImageItem):
                entry.set(entry.item.model_copy(update={"image": update.image}))

    def _part(self, item_id: str, index: int) -> _Part | None:
        """The part at `index` of assistant message `item_id`, creating the message or padding as needed."""
        if index < 0:
            return None
        entry = self._entries.get(item_id)
        if entry is None:
            placeholder = AssistantMessageItem(id=item_id, thread_id=self._thread_id)
            entry = self._entries[item_id] = _Entry(placeholder)
            self._order.append(item_id)
        parts = entry.parts
        if parts is None or index > len(parts) + _MAX_INDEX_GAP:
            return None
        entry.snapshot = None
        while len(parts) <= index:
            parts.append(_Part(AssistantMessageContent(), implicit=True))
        return parts[index]

    def _set_part(self, item_id: str, index: int, content: AssistantMessageContent) -> None:
        parts = self._entries[item_id].parts
        assert parts is not None  # _part() made sure
        parts[index] = _Part(content)
