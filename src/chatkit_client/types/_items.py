"""Thread items: the messages, tool calls, widgets and workflows a thread is made of.

The protocol (conversation stream) and the REST admin API spell items differently: `user_message` vs
`chatkit.user_message`, ISO strings vs Unix seconds, JSON objects vs JSON-encoded strings. Both spellings
validate into the same classes, and `type` always holds the protocol spelling.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, TypeAdapter, ValidationError, model_validator

from .._exceptions import APIResponseValidationError
from ._attachments import Attachment
from ._base import (
    MAX_NESTING_DEPTH,
    ChatKitModel,
    Timestamp,
    decode_json_string,
    describe_validation_error,
    nested_deeper_than,
)
from ._tasks import Source, Task, Workflow

__all__ = [
    "Annotation",
    "AssistantMessageContent",
    "AssistantMessageItem",
    "ClientToolCallItem",
    "EndOfTurnItem",
    "GeneratedImage",
    "GeneratedImageItem",
    "HiddenContextItem",
    "InferenceOptions",
    "SDKHiddenContextItem",
    "StructuredInputAnswer",
    "StructuredInputItem",
    "StructuredInputOption",
    "StructuredInputQuestion",
    "TaskGroupItem",
    "TaskItem",
    "ThreadItem",
    "ThreadItemBase",
    "ToolChoice",
    "UnknownItem",
    "UserMessageContent",
    "UserMessageItem",
    "WidgetItem",
    "WorkflowItem",
    "parse_item",
]

_REST_PREFIX = "chatkit."


def _strip_rest_prefix(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_REST_PREFIX):
        return value[len(_REST_PREFIX) :]
    return value


def _is_rest_item(data: Mapping[str, Any]) -> bool:
    kind = data.get("type")
    if isinstance(kind, str) and kind.startswith(_REST_PREFIX):
        return True
    return data.get("object") == "chatkit.thread_item"


def _join_parts(texts: list[str]) -> str:
    return "\n\n".join(text for text in texts if text)


class ThreadItemBase(ChatKitModel):
    """The fields every thread item has."""

    id: str
    thread_id: str | None = None
    """The owning thread; None only when the server left it out."""
    created_at: Timestamp | None = None
    """When the item was created (timezone-aware); None only when the server left it out."""


class UserMessageContent(ChatKitModel):
    """One part of a user message: `input_text`, `quoted_text` or `input_tag` (whose `id`, `data`, ...
    stay in `model_extra`)."""

    type: str = "input_text"
    text: str = ""


class ToolChoice(ChatKitModel):
    id: str


class InferenceOptions(ChatKitModel):
    """The model and tool the user picked for this message, if any."""

    tool_choice: ToolChoice | None = None
    model: str | None = None


class UserMessageItem(ThreadItemBase):
    """A message the user sent.

    ```python
    item = parse_item({"id": "cti_1", "type": "user_message",
                       "content": [{"type": "input_text", "text": "Hi"}]})
    assert item.text == "Hi"
    ```
    """

    type: Annotated[Literal["user_message"], BeforeValidator(_strip_rest_prefix)] = "user_message"
    content: list[UserMessageContent] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    quoted_text: str | None = None
    inference_options: InferenceOptions | None = None

    @property
    def text(self) -> str:
        """The message's `input_text` parts, joined by blank lines."""
        return _join_parts([part.text for part in self.content if part.type == "input_text"])


class Annotation(ChatKitModel):
    """A citation on assistant text. The protocol sends `{type: "annotation", source, index}`, REST sends
    `{type: "url"|"file", source}`; both fit."""

    type: str = "annotation"
    source: Source | None = None
    index: int | None = None


class AssistantMessageContent(ChatKitModel):
    """One part of an assistant message: `output_text` with its annotations."""

    type: str = "output_text"
    text: str = ""
    annotations: list[Annotation] = Field(default_factory=list)


class AssistantMessageItem(ThreadItemBase):
    """A message from the assistant.

    ```python
    item = parse_item({"id": "cti_2", "type": "assistant_message",
                       "content": [{"type": "output_text", "text": "Hello!"}]})
    assert item.text == "Hello!"
    ```
    """

    type: Annotated[Literal["assistant_message"], BeforeValidator(_strip_rest_prefix)] = "assistant_message"
    content: list[AssistantMessageContent] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """The message's `output_text` parts, joined by blank lines."""
        return _join_parts([part.text for part in self.content if part.type == "output_text"])


class ClientToolCallItem(ThreadItemBase):
    """The assistant asks the client to run a tool and send back its output.

    REST sends `arguments` and `output` as JSON-encoded strings; they are decoded here.

    ```python
    call = reply.pending_client_tool_call
    if call is not None:
        result = my_tools[call.name](**call.arguments)
    ```
    """

    type: Annotated[Literal["client_tool_call"], BeforeValidator(_strip_rest_prefix)] = "client_tool_call"
    status: str = "pending"
    """`"pending"` (protocol) or `"in_progress"` (REST) until the output arrives, then `"completed"`."""
    call_id: str
    name: str
    arguments: Annotated[dict[str, Any], BeforeValidator(decode_json_string)] = Field(default_factory=dict)
    output: Any = None

    @model_validator(mode="before")
    @classmethod
    def _decode_rest_output(cls, data: Any) -> Any:
        # Only REST encodes `output` as JSON text: a protocol output may legitimately be a plain string.
        if isinstance(data, Mapping) and isinstance(data.get("output"), str) and _is_rest_item(data):
            try:
                return {**data, "output": json.loads(data["output"])}
            except ValueError:
                return data
        return data


class WidgetItem(ThreadItemBase):
    """A widget (card, list, form...) as its raw JSON tree; REST's JSON string is decoded."""

    type: Annotated[Literal["widget"], BeforeValidator(_strip_rest_prefix)] = "widget"
    widget: Annotated[dict[str, Any], BeforeValidator(decode_json_string)] = Field(default_factory=dict)
    copy_text: str | None = None


class WorkflowItem(ThreadItemBase):
    """A workflow the assistant ran, such as its reasoning steps."""

    type: Annotated[Literal["workflow"], BeforeValidator(_strip_rest_prefix)] = "workflow"
    workflow: Workflow = Field(default_factory=Workflow)
    response_items: list[Any] = Field(default_factory=list)
    """Hosted API only; kept as sent."""


class TaskItem(ThreadItemBase):
    """A standalone task. REST's flat `task_type`, `heading` and `summary` stay in `model_extra`."""

    type: Annotated[Literal["task"], BeforeValidator(_strip_rest_prefix)] = "task"
    task: Task | None = None


class TaskGroupItem(ThreadItemBase):
    """REST's flattened group of tasks (`chatkit.task_group`)."""

    type: Annotated[Literal["task_group"], BeforeValidator(_strip_rest_prefix)] = "task_group"
    tasks: list[Task] = Field(default_factory=list)


class EndOfTurnItem(ThreadItemBase):
    """Marks the end of the assistant's turn."""

    type: Annotated[Literal["end_of_turn"], BeforeValidator(_strip_rest_prefix)] = "end_of_turn"


class GeneratedImage(ChatKitModel):
    id: str
    url: str | None = None


class GeneratedImageItem(ThreadItemBase):
    """An image the assistant generated; `image` is None while it is being made."""

    type: Annotated[Literal["generated_image"], BeforeValidator(_strip_rest_prefix)] = "generated_image"
    image: GeneratedImage | None = None


class StructuredInputAnswer(ChatKitModel):
    """The answer recorded for one question of a structured input."""

    values: list[str] = Field(default_factory=list)
    skipped: bool = False


class StructuredInputOption(ChatKitModel):
    """One choice of a `multiple_choice` question; `value` is what is sent back when it is picked."""

    value: str


class StructuredInputQuestion(ChatKitModel):
    """One question of a structured input: `multiple_choice` (with `options`, `multiple`) or `freeform`
    (with an optional `description`). Answers are keyed by `id`."""

    type: str = "multiple_choice"
    id: str
    question: str = ""
    options: list[StructuredInputOption] = Field(default_factory=list)
    """The suggested choices (multiple choice); a freeform answer is allowed besides them."""
    multiple: bool = False
    """Whether more than one value may be given."""
    description: str | None = None
    answer: StructuredInputAnswer | None = None
    """The recorded answer, once answered."""


class StructuredInputItem(ThreadItemBase):
    """The assistant asks the user questions; answer with `chat.add_structured_input(item.id, {...})`.

    ```python
    item = parse_item({"id": "si_1", "type": "structured_input", "status": "pending", "inputs": [
        {"type": "multiple_choice", "id": "color", "question": "Which color?", "options": [{"value": "red"}]}]})
    assert item.inputs[0].options[0].value == "red" and item.status == "pending"
    ```
    """

    type: Annotated[Literal["structured_input"], BeforeValidator(_strip_rest_prefix)] = "structured_input"
    status: str = "pending"
    """`"pending"` until answered, then `"answered"` or `"skipped"`."""
    inputs: list[StructuredInputQuestion] = Field(default_factory=list)
    """The questions, in order."""


class HiddenContextItem(ThreadItemBase):
    """Context a server stores in the thread for the model, not meant for display (`content` as sent)."""

    type: Annotated[Literal["hidden_context_item"], BeforeValidator(_strip_rest_prefix)] = "hidden_context_item"
    content: Any = None


class SDKHiddenContextItem(ThreadItemBase):
    """Context the openai-chatkit SDK stores for its own bookkeeping, not meant for display."""

    type: Annotated[Literal["sdk_hidden_context"], BeforeValidator(_strip_rest_prefix)] = "sdk_hidden_context"
    content: Any = None


class UnknownItem(ThreadItemBase):
    """An item of a type this library does not know; `type` and every field are kept as sent."""

    type: str


_ITEM_TYPES = frozenset(
    {
        "user_message",
        "assistant_message",
        "client_tool_call",
        "widget",
        "workflow",
        "task",
        "task_group",
        "end_of_turn",
        "generated_image",
        "structured_input",
        "hidden_context_item",
        "sdk_hidden_context",
    }
)


def _item_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    if not isinstance(kind, str):
        return None
    kind = _strip_rest_prefix(kind)
    return kind if kind in _ITEM_TYPES else "unknown"


ThreadItem = Annotated[
    Annotated[UserMessageItem, Tag("user_message")]
    | Annotated[AssistantMessageItem, Tag("assistant_message")]
    | Annotated[ClientToolCallItem, Tag("client_tool_call")]
    | Annotated[WidgetItem, Tag("widget")]
    | Annotated[WorkflowItem, Tag("workflow")]
    | Annotated[TaskItem, Tag("task")]
    | Annotated[TaskGroupItem, Tag("task_group")]
    | Annotated[EndOfTurnItem, Tag("end_of_turn")]
    | Annotated[GeneratedImageItem, Tag("generated_image")]
    | Annotated[StructuredInputItem, Tag("structured_input")]
    | Annotated[HiddenContextItem, Tag("hidden_context_item")]
    | Annotated[SDKHiddenContextItem, Tag("sdk_hidden_context")]
    | Annotated[UnknownItem, Tag("unknown")],
    Discriminator(_item_tag),
]
"""Any thread item, chosen by its `type` (protocol or REST spelling); unknown types give `UnknownItem`."""



@functools.cache
def _item_adapter() -> TypeAdapter[ThreadItem]:
    # Built on first use, like the models' own schemas (`defer_build`): importing the types stays cheap.
    return TypeAdapter(ThreadItem)


def parse_item(obj: Mapping[str, Any]) -> ThreadItem:
    """Validate one thread item from a REST or protocol body.

    Unknown types give `UnknownItem`; a malformed known item raises `APIResponseValidationError`.

    ```python
    item = parse_item({"id": "cti_1", "object": "chatkit.thread_item", "type": "chatkit.widget",
                       "created_at": 1712345600, "thread_id": "cthr_1", "widget": '{"type": "Card"}'})
    assert isinstance(item, WidgetItem) and item.widget == {"type": "Card"}
    ```
    """
    try:
        item = _item_adapter().validate_python(obj)
    except ValidationError as error:
        raise APIResponseValidationError(
            f"the server sent a thread item this client cannot read: {describe_validation_error(error)}"
        ) from error
    # A widget may arrive as a JSON string (REST), so its decoded tree is checked too.
    if nested_deeper_than(obj) or (isinstance(item, WidgetItem) and nested_deeper_than(item.widget)):
        raise APIResponseValidationError(
            f"the server sent a thread item nested more than {MAX_NESTING_DEPTH} levels deep "
            "(MAX_NESTING_DEPTH); real widgets nest far less, and so deep a tree could not be serialised again"
        )
    return item
