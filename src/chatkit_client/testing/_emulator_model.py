"""Records, id and clock helpers and wire shapes shared by the hosted-API emulator modules.

Everything here is synchronous and free of I/O so the ASGI layer in `_emulator.py` stays thin.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = [
    "ApiFailure",
    "Feedback",
    "FileInfo",
    "RecordedRequest",
    "SessionInfo",
    "ThreadInfo",
    "Turn",
]

T = TypeVar("T")

_HEX_LEN = 48


def new_id(prefix: str) -> str:
    """A hosted-style id: `prefix` + `_` + 48 lowercase hex characters."""
    return f"{prefix}_{secrets.token_hex(_HEX_LEN // 2)}"


def new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"


def new_client_secret(expires_at: int) -> str:
    # Mirrors the one real secret seen in the wild: ek_<48 hex>_00<base64url of {"expires_at": N}>.
    tail = base64.urlsafe_b64encode(json.dumps({"expires_at": expires_at}).encode()).decode().rstrip("=")
    return f"ek_{secrets.token_hex(_HEX_LEN // 2)}_00{tail}"


def iso_timestamp(epoch: float) -> str:
    """Hosted SSE timestamps are naive UTC ISO strings that always carry microseconds."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")


def mask_secret(value: str) -> str:
    # The real API shows the first 8 and last 4 characters of a wrong key. That is only harmless when most
    # of the value stays hidden, so short values are hidden completely.
    if len(value) >= 24:
        return f"{value[:8]}****{value[-4:]}"
    return "****"


class ApiFailure(Exception):
    """Raised inside handlers; turned into an OpenAI-shaped error response by the ASGI layer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def not_found(kind: str, ident: str) -> ApiFailure:
    return ApiFailure(404, f"{kind} with id '{ident}' not found.")


# ---------------------------------------------------------------------------------------------------------
# Public, immutable snapshots handed to tests


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it, for asserting exact wire bodies.

    `path` is the full path (`/v1/chatkit/sessions`), `query` the decoded query parameters, `headers`
    lower-cased names to values, `json` the parsed JSON body (None for other bodies).

    >>> req = emulator.requests[-1]  # doctest: +SKIP
    >>> assert req.json["type"] == "threads.create"
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    json: Any
    request_id: str

    def __repr__(self) -> str:
        # Credentials must not leak through a failing assert's repr.
        shown = {k: ("Bearer ****" if k == "authorization" else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, query={dict(self.query)!r}, "
            f"headers={shown!r}, json={self.json!r}, request_id={self.request_id!r})"
        )


@dataclass(frozen=True)
class FileInfo:
    """A file accepted by `POST /v1/chatkit/files`. Only metadata and a digest are kept, never the bytes."""

    id: str
    name: str | None
    mime_type: str
    type: str
    size: int
    sha256: str
    session_id: str
    user: str
    upload_url: str


@dataclass(frozen=True)
class SessionInfo:
    """A ChatKit session as the emulator currently sees it (`status` reflects the emulator clock).

    `payload` is the `ChatSession` object as the API would return it now; `client_secret` and `payload`
    are left out of the repr.
    """

    id: str
    user: str
    workflow_id: str
    workflow_version: str | None
    status: str
    created_at: float
    expires_at: int
    max_requests_per_1_minute: int
    files_uploaded: int
    client_secret: str = field(repr=False)
    payload: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class ThreadInfo:
    """A thread and its items, items in the protocol (SSE) shape, oldest first."""

    id: str
    user: str
    title: str | None
    created_at: float
    items: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Feedback:
    """Feedback recorded by an `items.feedback` conversation request."""

    thread_id: str
    item_ids: tuple[str, ...]
    kind: str


@dataclass(frozen=True)
class Turn:
    """What a `responder` sees: the user's text (input_text parts joined) and the attached files.

    >>> def responder(turn: Turn) -> str:  # doctest: +SKIP
    ...     return f"Hello {turn.user}, you wrote {len(turn.text)} characters"
    """

    thread_id: str
    text: str
    attachments: tuple[FileInfo, ...]
    user: str


# ---------------------------------------------------------------------------------------------------------
# Mutable state (guarded by the emulator's lock)


@dataclass
class SessionRecord:
    id: str
    user: str
    client_secret: str
    created_at: float
    expires_at: int
    workflow: dict[str, Any]
    configuration: dict[str, Any]
    rate_limit: int
    cancelled: bool = False
    revoked: bool = False
    files_uploaded: int = 0
    request_times: list[float] = field(default_factory=list)

    def status(self, now: float) -> str:
        if self.cancelled:
            return "cancelled"
        return "expired" if now >= self.expires_at else "active"

    def payload(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chatkit.session",
            "client_secret": self.client_secret,
            "expires_at": self.expires_at,
            "workflow": json.loads(json.dumps(self.workflow)),
            "user": self.user,
            "rate_limits": {"max_requests_per_1_minute": self.rate_limit},
            "max_requests_per_1_minute": self.rate_limit,
            "status": self.status(now),
            "chatkit_configuration": json.loads(json.dumps(self.configuration)),
        }

    def snapshot(self, now: float) -> SessionInfo:
        return SessionInfo(
            id=self.id,
            user=self.user,
            workflow_id=self.workflow["id"],
            workflow_version=self.workflow.get("version"),
            status=self.status(now),
            created_at=self.created_at,
            expires_at=self.expires_at,
            max_requests_per_1_minute=self.rate_limit,
            files_uploaded=self.files_uploaded,
            client_secret=self.client_secret,
            payload=self.payload(now),
        )


@dataclass
class ItemRecord:
    created_at: float
    data: dict[str, Any]  # protocol (SSE) shape, nulls omitted

    @property
    def id(self) -> str:
        return str(self.data["id"])


@dataclass
class ThreadRecord:
    id: str
    user: str
    created_at: float
    seq: int
    title: str | None = None
    items: list[ItemRecord] = field(default_factory=list)

    def find(self, item_id: str) -> int | None:
        for index, item in enumerate(self.items):
            if item.id == item_id:
                return index
        return None

    def snapshot(self) -> ThreadInfo:
        return ThreadInfo(
            id=self.id,
            user=self.user,
            title=self.title,
            created_at=self.created_at,
            items=tuple(json.loads(json.dumps(i.data)) for i in self.items),
        )


# ---------------------------------------------------------------------------------------------------------
# Shapes


def protocol_thread(
    thread: ThreadRecord, items: Sequence[ItemRecord] = (), *, has_more: bool = False
) -> dict[str, Any]:
    """The `Thread` of SSE events and conversation JSON answers (key order as in the hosted capture)."""
    page: dict[str, Any] = {"data": [json.loads(json.dumps(i.data)) for i in items], "has_more": has_more}
    if has_more and items:
        page["after"] = items[-1].id
    out: dict[str, Any] = {
        "id": thread.id,
        "created_at": iso_timestamp(thread.created_at),
        "status": {"type": "active"},
        "metadata": {},
        "items": page,
    }
    if thread.title is not None:
        out["title"] = thread.title
    return out


def rest_thread(thread: ThreadRecord) -> dict[str, Any]:
    return {
        "id": thread.id,
        "object": "chatkit.thread",
        "created_at": int(thread.created_at),
        "title": thread.title,
        "status": {"type": "active"},
        "user": thread.user,
    }


def rest_item(thread_id: str, item: ItemRecord) -> dict[str, Any]:
    """Translate a protocol item to the REST admin shape (`chatkit.` types, int times, JSON-string args)."""
    data = item.data
    kind = data["type"]
    base: dict[str, Any] = {
        "id": data["id"],
        "object": "chatkit.thread_item",
        "created_at": int(item.created_at),
        "thread_id": thread_id,
    }
    if kind == "user_message":
        content: list[dict[str, Any]] = [
            {"type": "input_text", "text": str(part.get("text", ""))} for part in data.get("content", [])
        ]
        if data.get("quoted_text"):
            content.append({"type": "quoted_text", "text": data["quoted_text"]})
        options = data.get("inference_options") or {}
        return base | {
            "type": "chatkit.user_message",
            "content": content,
            "attachments": [
                {
                    "id": a["id"],
                    "name": a.get("name"),
                    "mime_type": a.get("mime_type"),
                    "preview_url": a.get("preview_url"),
                    "type": a["type"],
                }
                for a in data.get("attachments", [])
            ],
            "inference_options": (
                {"model": options.get("model"), "tool_choice": options.get("tool_choice")} if options else None
            ),
        }
    if kind == "assistant_message":
        return base | {
            "type": "chatkit.assistant_message",
            "content": [{"type": "output_text", "text": p.get("text", ""), "annotations": []} for p in data["content"]],
        }
    if kind == "client_tool_call":
        output = data.get("output")
        return base | {
            "type": "chatkit.client_tool_call",
            "call_id": data["call_id"],
            "name": data["name"],
            "arguments": json.dumps(data["arguments"]),
            "output": None if "output" not in data else json.dumps(output),
            "status": "completed" if data["status"] == "completed" else "in_progress",
        }
    if kind == "workflow":
        # REST flattens protocol workflows into task groups.
        return base | {"type": "chatkit.task_group", "tasks": []}
    return base | {"type": f"chatkit.{kind}"}


# A page's size when the request names none, for the REST lists and the protocol's lists alike.
PAGE_SIZE = 20


def paginate(
    records: Sequence[T],
    key: Callable[[T], str],
    *,
    order: str,
    after: str | None,
    before: str | None,
    limit: int,
) -> tuple[list[T], bool]:
    """Cursor pagination over `records` (oldest first). Returns the page and whether more lie beyond it.

    `after` pages forward from a cursor; `before` returns the `limit` records closest before it.
    """
    ordered = list(records) if order == "asc" else list(reversed(records))
    ids = [key(r) for r in ordered]
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None and cursor not in ids:
            raise ApiFailure(400, f"Invalid '{name}': no object with id '{cursor}' in this list.", param=name)
    start = ids.index(after) + 1 if after is not None else 0
    end = ids.index(before) if before is not None else len(ordered)
    window = ordered[start:end] if start <= end else []
    if before is not None and after is None:
        page = window[-limit:] if limit else []
        return page, len(window) > len(page)
    return window[:limit], len(window) > limit
