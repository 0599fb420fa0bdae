"""The base model, the timestamp type and the page envelope shared by every ChatKit type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

__all__ = ["MAX_NESTING_DEPTH", "ChatKitModel", "Page", "Timestamp", "nested_deeper_than"]

MAX_NESTING_DEPTH = 128
"""How deeply objects and arrays may nest in one event or item. openai-chatkit's widgets nest a few levels
per component (a deep real card is under 40); pydantic cannot serialise a model nested past ~250 levels, so
a deeper one is refused when it arrives instead of being accepted and unusable."""


def nested_deeper_than(value: object, limit: int = MAX_NESTING_DEPTH) -> bool:
    """Whether dicts and lists in `value` nest more than `limit` levels (iterative: no recursion limit)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


T = TypeVar("T")


class ChatKitModel(BaseModel):
    """Base class of every model the client reads from a ChatKit server.

    Fields the client does not know are kept, not dropped: they are readable through `model_extra`
    and written back by `model_dump()`, so a server that is newer than this library loses nothing.

    ```python
    thread = ChatKitThread.model_validate({"id": "cthr_1", "created_at": 0, "new_field": 1})
    assert thread.model_extra == {"new_field": 1}
    ```
    """

    # Schemas are built on a model's first use, not at import: most programs touch a few of the many types.
    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=(), defer_build=True)


def _to_aware_datetime(value: Any) -> datetime:
    # The hosted stream sends ISO strings, often without an offset; the REST API sends Unix seconds.
    # Both mean UTC, and callers should never have to guess which one they got.
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_unix(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _from_unix(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp or Unix seconds: {value[:40]!r}") from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise ValueError(f"expected Unix seconds or an ISO-8601 string, got {type(value).__name__}")


def _from_unix(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        # fromtimestamp signals out-of-range values with three different exception types;
        # pydantic only turns ValueError into a validation error.
        raise ValueError(f"Unix timestamp out of range: {seconds!r}") from None


Timestamp = Annotated[datetime, BeforeValidator(_to_aware_datetime)]
"""A timezone-aware datetime read from Unix seconds (int or float) or an ISO-8601 string.

Values without an offset are taken as UTC, as the hosted API means them.
"""


def decode_json_string(value: Any) -> Any:
    """Decode `value` when it is a JSON-encoded string (as the REST API sends some fields), else keep it."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("expected a JSON object or a string holding JSON") from None
    return value


class Page(ChatKitModel, Generic[T]):
    """One page of a list: the protocol's `{data, has_more, after}` or REST's list envelope.

    REST lists also carry `object: "list"`, `first_id` and `last_id`; the protocol carries `after`.

    ```python
    page = Page[ChatKitThread].model_validate({"data": [], "has_more": False})
    ```
    """

    data: list[T] = Field(default_factory=list)
    has_more: bool = False
    after: str | None = None
    """The cursor for the next page (protocol lists)."""
    first_id: str | None = None
    """The id of the first entry (REST lists)."""
    last_id: str | None = None
    """The id of the last entry (REST lists); pass it as `after` for the next page."""
    object: str | None = None


def describe_validation_error(error: ValidationError, *, limit: int = 3) -> str:
    """A one-line summary of a pydantic error: where and what, never the offending values."""
    parts = []
    for detail in error.errors(include_url=False, include_input=False)[:limit]:
        # Drop pydantic's union bookkeeping (`tagged-union[A,B,...]`, `function-after[...]`) from paths.
        steps = [str(step) for step in detail["loc"] if not (isinstance(step, str) and "[" in step)]
        parts.append(f"{'.'.join(steps) or '(top level)'}: {detail['msg']}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
