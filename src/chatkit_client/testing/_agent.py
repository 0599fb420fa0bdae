"""The scripted agent behind `LocalChatKitServer`: deterministic, offline, every event kind.

The first word of the user's text (case-insensitive) picks a script. Every stream starts with
the SDK's `stream_options` event; the first turn of a thread also gets a title (a
`thread.updated` event) made of the message's first words.

Scripts (first word -> what the server streams):

- anything else: an assistant message `You said: <text>`, one text delta per word. With
  attachments, a second line `Attachments: name (mime_type, N bytes), ...` (N = bytes uploaded).
- `help`: the list of keywords.
- `tool:NAME {json}` (e.g. `tool:get_weather {"city": "Paris"}`): a pending `client_tool_call`
  item (name, the JSON object as arguments, a call id) and nothing else. Answer it with
  `threads.add_client_tool_output`; the server then streams
  `Tool NAME returned: <result as compact JSON>`.
- `widget`: a sentence, then a widget item: a Card with a caption streamed through
  `widget.streaming_text.value_delta`, a Text `Count: 0` and a Button whose `onClickAction` is
  `counter.increment` with payload `{"count": 0}`.
- `workflow`: a workflow item with a thought task and a custom task (`workflow.task.added`,
  `workflow.task.updated`), done with a duration summary, then text.
- `task`: a standalone task item, text, then an `end_of_turn` item.
- `image`: a `generated_image` item updated by `generated_image.updated` (progress 0.5, 1.0).
- `ask`: a pending `structured_input` item (one multiple-choice question, id `color`). Answer it
  with `threads.add_structured_input`; the server replaces the item (`thread.item.replaced`)
  and streams `You answered: <values>`.
- `survey`: a sentence, then a pending `structured_input` item with two questions: `colors`
  (multiple choice, options red/green/blue, several values allowed) and `name` (freeform, with a
  description). Answered as `ask`: `You answered: <colors joined by ", ">; <name>`.
- `remove`: an assistant message, a `thread.item.removed` event for it, then text.
- `notice`: a `notice` event (level `info`, a title, a markdown message), then text.
- `progress`: two `progress_update` events, then text.
- `effect`: a `client_effect` event (name `demo.effect`), then text.
- `sources`: text with one URL-source annotation (`assistant_message.content_part.annotation_added`).
- `error`: a few text deltas, then an `error` event (code `custom`, message `Scripted error`,
  allow_retry true).
- `crash`: a few text deltas, then the server fails inside the stream: the connection drops
  without a clean end (uvicorn logs the exception).
- `long N`: one assistant message of N text deltas `"w0 "`, `"w1 "`, ... (default 100).
- `slow N`: N text deltas `"w0 "`, ... 50 ms apart (default 10).
- `retry`: the first attempt streams a few deltas, then a retryable `error` event.
  `threads.retry_after_item` on that user message answers it again:
  `Attempt 2 succeeded: You said: retry`.

Widget actions (`threads.custom_action`, item_id = the widget item):
- `counter.increment` with payload `{"count": N}`: the Text and Button are updated
  (`widget.component.updated` twice, then `thread.item.replaced` with the stored widget), then
  the text `Count is now N+1`. `threads.sync_custom_action` returns the updated widget item instead.
- `counter.reset`: the whole widget is replaced (`widget.root.updated`), then `Count is now 0`.

`threads.retry_after_item` answers any user message again, as the first time.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
import warnings
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from ._memory_store import InMemoryStore, RequestContext

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.actions import Action
    from chatkit.errors import CustomStreamError
    from chatkit.types import (
        Annotation,
        AssistantMessageContent,
        AssistantMessageContentPartAdded,
        AssistantMessageContentPartAnnotationAdded,
        AssistantMessageContentPartDone,
        AssistantMessageContentPartTextDelta,
        AssistantMessageItem,
        ClientEffectEvent,
        ClientToolCallItem,
        CustomTask,
        DurationSummary,
        EndOfTurnItem,
        GeneratedImage,
        GeneratedImageItem,
        GeneratedImageUpdated,
        NoticeEvent,
        ProgressUpdateEvent,
        StructuredInputFreeform,
        StructuredInputItem,
        StructuredInputMultipleChoice,
        StructuredInputMultipleChoiceOption,
        TaskItem,
        ThoughtTask,
        ThreadItemAddedEvent,
        ThreadItemDoneEvent,
        ThreadItemRemovedEvent,
        ThreadItemReplacedEvent,
        ThreadItemUpdatedEvent,
        ThreadMetadata,
        ThreadStreamEvent,
        URLSource,
        UserMessageItem,
        UserMessageTextContent,
        WidgetComponentUpdated,
        WidgetItem,
        WidgetRootUpdated,
        WidgetStreamingTextValueDelta,
        Workflow,
        WorkflowItem,
        WorkflowTaskAdded,
        WorkflowTaskUpdated,
    )
    from chatkit.widgets import DynamicWidgetComponent, DynamicWidgetRoot

__all__ = ["ScriptedAgent", "ScriptedCrash"]

Events = AsyncIterator[ThreadStreamEvent]

KEYWORDS = (
    "help", "tool:NAME {json}", "widget", "workflow", "task", "image", "ask", "survey", "remove", "notice",
    "progress", "effect", "sources", "error", "crash", "long N", "slow N", "retry",
)  # fmt: skip
WIDGET_CAPTION = "A counter, updated by the server."
SOURCE_URL = "https://platform.openai.com/docs/guides/chatkit"
# A 1x1 transparent PNG: the `image` script stays offline.
PIXEL_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
MAX_LONG = 1_000_000


class ScriptedCrash(BaseException):
    """Raised inside a `crash` stream.

    A BaseException on purpose: openai-chatkit turns every `Exception` raised by `respond()` into a
    clean `error` event, and this script exists to make the connection drop instead.
    """


def _words(text: str) -> list[str]:
    """`text` cut before each word, so that joining the pieces gives `text` back."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def _numbered(count: int) -> Iterable[str]:
    return (f"w{index} " for index in range(count))


def _count_argument(rest: str, default: int, keyword: str) -> int:
    if not rest:
        return default
    try:
        count = int(rest.split()[0])
    except ValueError:
        raise CustomStreamError(f"`{keyword}` expects a whole number, got {rest.split()[0]!r}") from None
    if not 0 <= count <= MAX_LONG:
        raise CustomStreamError(f"`{keyword}` accepts 0 to {MAX_LONG} deltas")
    return count


def _user_text(item: UserMessageItem) -> str:
    return "".join(part.text for part in item.content if isinstance(part, UserMessageTextContent))


def counter_widget(count: int, caption: str = WIDGET_CAPTION) -> DynamicWidgetRoot:
    """The `widget` script's Card showing `count`.

    Built from plain JSON: openai-chatkit warns when its named widget classes are used directly.
    """
    return DynamicWidgetRoot.model_validate(
        {
            "type": "Card",
            "id": "counter",
            "children": [
                {"type": "Text", "id": "caption", "value": caption, "streaming": caption != WIDGET_CAPTION},
                _count_text(count),
                _increment_button(count),
            ],
        }
    )


def _count_text(count: int) -> dict[str, Any]:
    return {"type": "Text", "id": "count", "value": f"Count: {count}"}


def _increment_button(count: int) -> dict[str, Any]:
    return {
        "type": "Button",
        "id": "increment",
        "label": "Increment",
        "onClickAction": {
            "type": "counter.increment",
            "payload": {"count": count},
            "handler": "server",
            "loadingBehavior": "auto",
        },
    }


class ScriptedAgent:
    """Produces the events of each script; `LocalChatKitServer` runs them through openai-chatkit.

    >>> agent = ScriptedAgent(InMemoryStore())
    >>> events = agent.respond(thread, user_message, context)  # doctest: +SKIP
    """

    def __init__(self, store: InMemoryStore, *, slow_delay: float = 0.05) -> None:
        self.store = store
        self.slow_delay = slow_delay
        # user message id -> answers attempted, for the `retry` script
        self.attempts: dict[str, int] = {}

    # ----- building blocks -----

    def _item_id(self, kind: Any, thread: ThreadMetadata, context: RequestContext) -> str:
        return self.store.generate_item_id(kind, thread, context)

    async def _message(
        self,
        thread: ThreadMetadata,
        context: RequestContext,
        deltas: Iterable[str],
        *,
        delay: float = 0.0,
        annotations: list[Annotation] | None = None,
    ) -> Events:
        item = AssistantMessageItem(
            id=self._item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(
                content_index=0, content=AssistantMessageContent(text="", annotations=[])
            ),
        )
        parts: list[str] = []
        for delta in deltas:
            if delay:
                await asyncio.sleep(delay)
            parts.append(delta)
            yield ThreadItemUpdatedEvent(
                item_id=item.id, update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta)
            )
        for index, annotation in enumerate(annotations or []):
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartAnnotationAdded(
                    content_index=0, annotation_index=index, annotation=annotation
                ),
            )
        content = AssistantMessageContent(text="".join(parts), annotations=list(annotations or []))
        yield ThreadItemUpdatedEvent(
            item_id=item.id, update=AssistantMessageContentPartDone(content_index=0, content=content)
        )
        yield ThreadItemDoneEvent(item=item.model_copy(update={"content": [content]}))

    async def _partial(self, thread: ThreadMetadata, context: RequestContext, text: str) -> Events:
        """An assistant message that starts streaming and never finishes."""
        item = AssistantMessageItem(
            id=self._item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[],
        )
        yield ThreadItemAddedEvent(item=item)
        yield ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAdded(
                content_index=0, content=AssistantMessageContent(text="", annotations=[])
            ),
        )
        for delta in _words(text):
            yield ThreadItemUpdatedEvent(
                item_id=item.id, update=AssistantMessageContentPartTextDelta(content_index=0, delta=delta)
            )

    def _say(self, thread: ThreadMetadata, context: RequestContext, text: str) -> Events:
        return self._message(thread, context, _words(text))

    # ----- entry points -----

    async def respond(
        self, thread: ThreadMetadata, user_message: UserMessageItem | None, context: RequestContext
    ) -> Events:
        """The events answering `user_message`, or answering a tool output / structured input when None."""
        if user_message is None:
            async for event in self._follow_up(thread, context):
                yield event
            return

        text = _user_text(user_message)
        if thread.title is None:
            # openai-chatkit notices the change and emits `thread.updated` after our next event.
            words = text.split()
            title = " ".join(words[:6]) if words else "New conversation"
            thread.title = title if len(title) <= 60 else title[:59] + "…"

        first, _, rest = text.strip().partition(" ")
        keyword = first.lower()
        rest = rest.strip()

        if keyword.startswith("tool:"):
            async for event in self._tool_call(thread, context, first[len("tool:") :], rest):
                yield event
            return

        script = {
            "help": self._help,
            "widget": self._widget,
            "workflow": self._workflow,
            "task": self._task,
            "image": self._image,
            "ask": self._ask,
            "survey": self._survey,
            "remove": self._remove,
            "notice": self._notice,
            "progress": self._progress,
            "effect": self._effect,
            "sources": self._sources,
            "error": self._error,
            "crash": self._crash,
        }.get(keyword)
        if script is not None:
            async for event in script(thread, context):
                yield event
        elif keyword == "long":
            count = _count_argument(rest, 100, "long")
            async for event in self._message(thread, context, _numbered(count)):
                yield event
        elif keyword == "slow":
            count = _count_argument(rest, 10, "slow")
            async for event in self._message(thread, context, _numbered(count), delay=self.slow_delay):
                yield event
        elif keyword == "retry":
            async for event in self._retry(thread, context, user_message, text):
                yield event
        else:
            async for event in self._echo(thread, context, user_message, text):
                yield event

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> Events:
        """The events answering a widget action (`counter.increment`, `counter.reset`)."""
        if action.type == "counter.increment":
            count = self._payload_count(action) + 1
            if sender is not None:
                updated = sender.model_copy(update={"widget": counter_widget(count)})
                yield ThreadItemUpdatedEvent(
                    item_id=sender.id,
                    update=WidgetComponentUpdated(
                        component_id="count",
                        component=DynamicWidgetComponent.model_validate(_count_text(count)),
                    ),
                )
                yield ThreadItemUpdatedEvent(
                    item_id=sender.id,
                    update=WidgetComponentUpdated(
                        component_id="increment",
                        component=DynamicWidgetComponent.model_validate(_increment_button(count)),
                    ),
                )
                yield ThreadItemReplacedEvent(item=updated)
        elif action.type == "counter.reset":
            count = 0
            if sender is not None:
                widget = counter_widget(0)
                yield ThreadItemUpdatedEvent(item_id=sender.id, update=WidgetRootUpdated(widget=widget))
                yield ThreadItemReplacedEvent(item=sender.model_copy(update={"widget": widget}))
        else:
            raise CustomStreamError(f"Unknown action type: {action.type}")
        async for event in self._say(thread, context, f"Count is now {count}"):
            yield event

    def sync_action(self, action: Action[str, Any], sender: WidgetItem | None) -> WidgetItem | None:
        """The widget item after a `threads.sync_custom_action`, or None when nothing changes."""
        if action.type == "counter.increment":
            count = self._payload_count(action) + 1
        elif action.type == "counter.reset":
            count = 0
        else:
            raise ValueError(f"Unknown action type: {action.type}")
        return None if sender is None else sender.model_copy(update={"widget": counter_widget(count)})

    @staticmethod
    def _payload_count(action: Action[str, Any]) -> int:
        payload = action.payload
        count = payload.get("count") if isinstance(payload, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise CustomStreamError('counter.increment expects a payload like {"count": 0}')
        return count

    # ----- scripts -----

    async def _echo(
        self, thread: ThreadMetadata, context: RequestContext, user_message: UserMessageItem, text: str
    ) -> Events:
        reply = f"You said: {text}"
        if user_message.attachments:
            size = self.store.attachment_size
            listed = ", ".join(
                f"{attachment.name} ({attachment.mime_type}, {size(attachment.id)} bytes)"
                for attachment in user_message.attachments
            )
            reply += f"\nAttachments: {listed}"
        async for event in self._say(thread, context, reply):
            yield event

    async def _help(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        text = "Keywords: " + ", ".join(KEYWORDS) + ". Anything else is echoed."
        async for event in self._say(thread, context, text):
            yield event

    async def _tool_call(
        self, thread: ThreadMetadata, context: RequestContext, name: str, arguments_text: str
    ) -> Events:
        if not name:
            raise CustomStreamError("Write tool calls as tool:NAME {json}")
        try:
            arguments = json.loads(arguments_text) if arguments_text else {}
        except json.JSONDecodeError as exc:
            raise CustomStreamError(f"The arguments of tool:{name} are not valid JSON: {exc.msg}") from None
        if not isinstance(arguments, dict):
            raise CustomStreamError(f"The arguments of tool:{name} must be a JSON object")
        yield ThreadItemDoneEvent(
            item=ClientToolCallItem(
                id=self._item_id("tool_call", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                status="pending",
                call_id=f"call_{uuid.uuid4().hex[:16]}",
                name=name,
                arguments=arguments,
            )
        )

    async def _follow_up(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        page = await self.store.load_thread_items(thread.id, None, 1, "desc", context)
        last = page.data[0] if page.data else None
        if isinstance(last, ClientToolCallItem) and last.status == "completed":
            result = json.dumps(last.output, separators=(",", ":"), ensure_ascii=False, default=str)
            text = f"Tool {last.name} returned: {result}"
        elif isinstance(last, StructuredInputItem):
            answers = [
                ", ".join(question.answer.values) if question.answer and not question.answer.skipped else "(skipped)"
                for question in last.inputs
            ]
            text = f"You answered: {'; '.join(answers)}"
        else:
            text = "There is nothing to answer."
        async for event in self._say(thread, context, text):
            yield event

    async def _widget(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        async for event in self._say(thread, context, "Here is a counter widget."):
            yield event
        item = WidgetItem(
            id=self._item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            widget=counter_widget(0, caption=""),
            copy_text="Count: 0",
        )
        yield ThreadItemAddedEvent(item=item)
        words = _words(WIDGET_CAPTION)
        for index, delta in enumerate(words):
            yield ThreadItemUpdatedEvent(
                item_id=item.id,
                update=WidgetStreamingTextValueDelta(component_id="caption", delta=delta, done=index == len(words) - 1),
            )
        yield ThreadItemDoneEvent(item=item.model_copy(update={"widget": counter_widget(0)}))

    async def _workflow(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        thought = ThoughtTask(title="Thinking", content="Planning a scripted answer.", status_indicator="loading")
        custom = CustomTask(
            title="Checking", icon="check", content="Everything is in order.", status_indicator="loading"
        )
        item = WorkflowItem(
            id=self._item_id("workflow", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            workflow=Workflow(type="custom", tasks=[], expanded=True),
        )
        yield ThreadItemAddedEvent(item=item)
        done_tasks = []
        for index, task in enumerate((thought, custom)):
            yield ThreadItemUpdatedEvent(item_id=item.id, update=WorkflowTaskAdded(task_index=index, task=task))
            finished = task.model_copy(update={"status_indicator": "complete"})
            done_tasks.append(finished)
            yield ThreadItemUpdatedEvent(item_id=item.id, update=WorkflowTaskUpdated(task_index=index, task=finished))
        workflow = Workflow(type="custom", tasks=done_tasks, summary=DurationSummary(duration=2), expanded=False)
        yield ThreadItemDoneEvent(item=item.model_copy(update={"workflow": workflow}))
        async for event in self._say(thread, context, "The workflow is complete."):
            yield event

    async def _task(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        yield ThreadItemDoneEvent(
            item=TaskItem(
                id=self._item_id("task", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                task=CustomTask(
                    title="Filed a ticket", icon="notebook", content="Ticket #42", status_indicator="complete"
                ),
            )
        )
        async for event in self._say(thread, context, "The task is done."):
            yield event
        yield ThreadItemDoneEvent(
            item=EndOfTurnItem(
                id=self._item_id("message", thread, context), thread_id=thread.id, created_at=datetime.now()
            )
        )

    async def _image(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        item = GeneratedImageItem(
            id=self._item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            image=None,
        )
        image = GeneratedImage(id=f"img_{uuid.uuid4().hex[:16]}", url=PIXEL_PNG)
        yield ThreadItemAddedEvent(item=item)
        for progress in (0.5, 1.0):
            yield ThreadItemUpdatedEvent(item_id=item.id, update=GeneratedImageUpdated(image=image, progress=progress))
        yield ThreadItemDoneEvent(item=item.model_copy(update={"image": image}))

    async def _ask(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        question = StructuredInputMultipleChoice(
            id="color",
            question="Which color do you like?",
            options=[StructuredInputMultipleChoiceOption(value=color) for color in ("red", "green", "blue")],
        )
        yield ThreadItemDoneEvent(
            item=StructuredInputItem(
                id=self._item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                inputs=[question],
            )
        )

    async def _survey(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        async for event in self._say(thread, context, "Two quick questions."):
            yield event
        colors = StructuredInputMultipleChoice(
            id="colors",
            question="Which colors do you like?",
            options=[StructuredInputMultipleChoiceOption(value=color) for color in ("red", "green", "blue")],
            multiple=True,
        )
        name = StructuredInputFreeform(id="name", question="What is your name?", description="Any name will do.")
        yield ThreadItemDoneEvent(
            item=StructuredInputItem(
                id=self._item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                inputs=[colors, name],
            )
        )

    async def _remove(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        removed_id = ""
        async for event in self._say(thread, context, "This message will be removed."):
            if isinstance(event, ThreadItemDoneEvent):
                removed_id = event.item.id
            yield event
        yield ThreadItemRemovedEvent(item_id=removed_id)
        async for event in self._say(thread, context, "One message was removed."):
            yield event

    async def _notice(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        yield NoticeEvent(level="info", title="Heads up", message="This is a **scripted** notice.")
        async for event in self._say(thread, context, "A notice was sent."):
            yield event

    async def _progress(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        yield ProgressUpdateEvent(icon="search", text="Searching the archive")
        yield ProgressUpdateEvent(icon="document", text="Reading the results")
        async for event in self._say(thread, context, "Progress is complete."):
            yield event

    async def _effect(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        yield ClientEffectEvent(name="demo.effect", data={"color": "blue", "count": 1})
        async for event in self._say(thread, context, "A client effect was sent."):
            yield event

    async def _sources(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        text = "ChatKit is documented on the OpenAI platform."
        annotation = Annotation(
            source=URLSource(title="ChatKit guide", url=SOURCE_URL, attribution="OpenAI"), index=len(text)
        )
        async for event in self._message(thread, context, _words(text), annotations=[annotation]):
            yield event

    async def _error(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        async for event in self._partial(thread, context, "This reply will fail "):
            yield event
        raise CustomStreamError("Scripted error", allow_retry=True)

    async def _crash(self, thread: ThreadMetadata, context: RequestContext) -> Events:
        async for event in self._partial(thread, context, "This reply will crash "):
            yield event
        raise ScriptedCrash("the `crash` script dropped the connection")

    async def _retry(
        self, thread: ThreadMetadata, context: RequestContext, user_message: UserMessageItem, text: str
    ) -> Events:
        attempt = self.attempts.get(user_message.id, 0) + 1
        self.attempts[user_message.id] = attempt
        if attempt == 1:
            async for event in self._partial(thread, context, "The first attempt fails "):
                yield event
            raise CustomStreamError("Scripted failure: retry this message", allow_retry=True)
        async for event in self._say(thread, context, f"Attempt {attempt} succeeded: You said: {text}"):
            yield event
