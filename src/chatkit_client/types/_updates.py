"""Item updates: the `update` of a `thread.item.updated` event."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

from .._exceptions import APIResponseValidationError
from ._base import ChatKitModel, describe_validation_error
from ._items import Annotation, AssistantMessageContent, GeneratedImage
from ._tasks import Task

__all__ = [
    "AssistantMessageContentPartAdded",
    "AssistantMessageContentPartAnnotationAdded",
    "AssistantMessageContentPartDone",
    "AssistantMessageContentPartTextDelta",
    "GeneratedImageUpdated",
    "ThreadItemUpdate",
    "UnknownUpdate",
    "WidgetComponentUpdated",
    "WidgetRootUpdated",
    "WidgetStreamingTextValueDelta",
    "WorkflowTaskAdded",
    "WorkflowTaskUpdated",
    "parse_update",
]


class AssistantMessageContentPartAdded(ChatKitModel):
    """A new (usually empty) part starts at `content_index` of an assistant message."""

    type: Literal["assistant_message.content_part.added"] = "assistant_message.content_part.added"
    content_index: int
    content: AssistantMessageContent


class AssistantMessageContentPartTextDelta(ChatKitModel):
    """More text for the part at `content_index`: the stream's most frequent event."""

    type: Literal["assistant_message.content_part.text_delta"] = "assistant_message.content_part.text_delta"
    content_index: int
    delta: str


class AssistantMessageContentPartAnnotationAdded(ChatKitModel):
    """A citation for the part at `content_index`."""

    type: Literal["assistant_message.content_part.annotation_added"] = "assistant_message.content_part.annotation_added"
    content_index: int
    annotation_index: int
    annotation: Annotation


class AssistantMessageContentPartDone(ChatKitModel):
    """The part at `content_index` is complete; `content` holds its full text."""

    type: Literal["assistant_message.content_part.done"] = "assistant_message.content_part.done"
    content_index: int
    content: AssistantMessageContent


class WorkflowTaskAdded(ChatKitModel):
    type: Literal["workflow.task.added"] = "workflow.task.added"
    task_index: int
    task: Task


class WorkflowTaskUpdated(ChatKitModel):
    type: Literal["workflow.task.updated"] = "workflow.task.updated"
    task_index: int
    task: Task


class WidgetRootUpdated(ChatKitModel):
    """The whole widget tree was replaced."""

    type: Literal["widget.root.updated"] = "widget.root.updated"
    widget: dict[str, Any]


class WidgetComponentUpdated(ChatKitModel):
    """One component (found by its `id`) of a widget was replaced."""

    type: Literal["widget.component.updated"] = "widget.component.updated"
    component_id: str
    component: dict[str, Any]


class WidgetStreamingTextValueDelta(ChatKitModel):
    """More text for a streaming text component of a widget."""

    type: Literal["widget.streaming_text.value_delta"] = "widget.streaming_text.value_delta"
    component_id: str
    delta: str
    done: bool = False


class GeneratedImageUpdated(ChatKitModel):
    type: Literal["generated_image.updated"] = "generated_image.updated"
    image: GeneratedImage
    progress: float | None = None


_UPDATE_TYPES = frozenset(
    {
        "assistant_message.content_part.added",
        "assistant_message.content_part.text_delta",
        "assistant_message.content_part.annotation_added",
        "assistant_message.content_part.done",
        "workflow.task.added",
        "workflow.task.updated",
        "widget.root.updated",
        "widget.component.updated",
        "widget.streaming_text.value_delta",
        "generated_image.updated",
    }
)


def _unknown_update_type(value: str) -> str:
    # Keeps a malformed known update from passing as an unknown one: it must fail instead.
    if value in _UPDATE_TYPES:
        raise ValueError(f"{value!r} is a known update type, so its fields must match it")
    return value


class UnknownUpdate(ChatKitModel):
    """An update of a type this library does not know; every field is kept as sent."""

    type: Annotated[str, AfterValidator(_unknown_update_type)]


_KnownUpdate = Annotated[
    AssistantMessageContentPartAdded
    | AssistantMessageContentPartTextDelta
    | AssistantMessageContentPartAnnotationAdded
    | AssistantMessageContentPartDone
    | WorkflowTaskAdded
    | WorkflowTaskUpdated
    | WidgetRootUpdated
    | WidgetComponentUpdated
    | WidgetStreamingTextValueDelta
    | GeneratedImageUpdated,
    Field(discriminator="type"),
]

# A string discriminator is pydantic's fastest union (text deltas are most of a stream), but it rejects
# unknown tags; the left-to-right fallback to UnknownUpdate catches those and only those.
ThreadItemUpdate = Annotated[_KnownUpdate | UnknownUpdate, Field(union_mode="left_to_right")]
"""Any item update, chosen by its `type`; unknown types give `UnknownUpdate`."""



@functools.cache
def _update_adapter() -> TypeAdapter[ThreadItemUpdate]:
    # Built on first use, like the models' own schemas (`defer_build`): importing the types stays cheap.
    return TypeAdapter(ThreadItemUpdate)


def parse_update(obj: Mapping[str, Any]) -> ThreadItemUpdate:
    """Validate one item update; unknown types give `UnknownUpdate`.

    A malformed known update raises `APIResponseValidationError`.

    ```python
    update = parse_update({"type": "assistant_message.content_part.text_delta", "content_index": 0,
                           "delta": "Hel"})
    ```
    """
    try:
        return _update_adapter().validate_python(obj)
    except ValidationError as error:
        raise APIResponseValidationError(
            f"the server sent an item update this client cannot read: {describe_validation_error(error)}"
        ) from error
