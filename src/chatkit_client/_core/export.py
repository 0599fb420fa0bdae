"""Thread export records, the same from the protocol (self-hosted or a hosted session) and the admin API.

One record per thread: the thread's fields as JSON values (timestamps as ISO-8601 strings) and `items`, every
item oldest first, in the typed models' JSON form (`type` in the protocol spelling, REST's JSON-encoded
fields decoded). Fields this library does not know are kept. Written one record per line, that is JSON Lines.

Imports: stdlib, types, _exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._exceptions import InvalidInputError

if TYPE_CHECKING:
    from ..types import ThreadItem, ThreadMetadata

__all__ = ["EXPORT_PAGE_SIZE", "export_ids", "export_line", "thread_record"]

# The largest page both the admin API and openai-chatkit's default stores accept.
EXPORT_PAGE_SIZE = 100


def thread_record(thread: ThreadMetadata, items: Iterable[ThreadItem]) -> dict[str, Any]:
    """`{...thread fields, "items": [...]}` for one exported thread.

    >>> from chatkit_client.types import Thread, parse_item
    >>> record = thread_record(Thread(id="thr_1"), [parse_item({"id": "m1", "type": "end_of_turn"})])
    >>> record["id"], [item["type"] for item in record["items"]]
    ('thr_1', ['end_of_turn'])
    """
    record = thread.model_dump(mode="json", by_alias=True)
    record.pop("items", None)  # the protocol's first page of items, replaced by all of them
    record["items"] = [item.model_dump(mode="json", by_alias=True) for item in items]
    return record


def export_line(record: Mapping[str, Any]) -> str:
    """One JSON Lines line (with its newline); non-ASCII text is kept as is."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_ids(thread_ids: Sequence[str] | None) -> list[str] | None:
    """The thread ids to export (None: every thread listed), checked before any request."""
    if thread_ids is None:
        return None
    if isinstance(thread_ids, str) or not isinstance(thread_ids, Sequence):
        raise InvalidInputError("thread_ids", "must be a list of thread id strings (or None for every thread)")
    for index, thread_id in enumerate(thread_ids):
        if not isinstance(thread_id, str) or not thread_id.strip():
            raise InvalidInputError(f"thread_ids[{index}]", f"must be a thread id string, got {thread_id!r}")
    return list(thread_ids)
