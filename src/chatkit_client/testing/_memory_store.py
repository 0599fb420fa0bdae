"""An in-memory ChatKit `Store` and `AttachmentStore` for the local test server.

Threads and items keep their insertion order, which is also their creation order, so
pagination is exact: `after` is the id of the last record of the previous page, `order`
is `"asc"` (oldest first) or `"desc"` (newest first). Uploaded bytes stay in memory while
small and move to a temporary file past `InMemoryStore.MEMORY_LIMIT` bytes.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TypeVar

with warnings.catch_warnings():
    # openai-chatkit deprecates its own named widget classes while defining them; the warning
    # is not about our code and would fail test suites that turn warnings into errors.
    warnings.simplefilter("ignore", DeprecationWarning)
    from chatkit.store import AttachmentStore, NotFoundError, Store, StoreItemType
    from chatkit.types import (
        Attachment,
        AttachmentCreateParams,
        AttachmentUploadDescriptor,
        FileAttachment,
        ImageAttachment,
        Page,
        ThreadItem,
        ThreadMetadata,
    )

__all__ = ["InMemoryStore", "NotFoundError", "RequestContext"]

_CHUNK = 64 * 1024

_ID_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


@dataclass(frozen=True)
class RequestContext:
    """What the local server knows about the HTTP request it is serving.

    `headers` has lower-case names. `origin` is the base URL the client used (scheme, host,
    port and any mount prefix, no trailing slash); upload and preview URLs are built from it so
    they work whatever address the client reached the server on.

    >>> RequestContext(headers={"x-user": "ada"}, origin="http://127.0.0.1:8000").origin
    'http://127.0.0.1:8000'
    """

    # Kept out of the repr: request headers usually carry credentials.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    origin: str = "http://127.0.0.1"


class _Blob:
    """The bytes of one upload, immutable once written: a `bytes` object or a temp file path."""

    __slots__ = ("data", "path", "size")

    def __init__(self, *, data: bytes | None, path: str | None, size: int) -> None:
        self.data = data
        self.path = path
        self.size = size

    def chunks(self, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        if self.data is not None:
            for start in range(0, len(self.data), chunk_size):
                yield self.data[start : start + chunk_size]
            return
        assert self.path is not None
        # Opening per read lets a deleted blob finish streaming: POSIX keeps unlinked open files.
        with open(self.path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def discard(self) -> None:
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


class AttachmentWriter:
    """Receives the bytes of one upload; see `InMemoryStore.upload`."""

    def __init__(self, memory_limit: int) -> None:
        self._memory_limit = memory_limit
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self._path: str | None = None
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append `chunk`; spills to a temporary file once the upload outgrows memory."""
        if not chunk:
            return
        self.size += len(chunk)
        if self._file is None and len(self._buffer) + len(chunk) <= self._memory_limit:
            self._buffer += chunk
            return
        if self._file is None:
            fd, self._path = tempfile.mkstemp(prefix="chatkit-upload-")
            self._file = os.fdopen(fd, "wb")
            self._file.write(self._buffer)
            self._buffer = bytearray()
        self._file.write(chunk)

    def _finish(self) -> _Blob:
        if self._file is None:
            return _Blob(data=bytes(self._buffer), path=None, size=self.size)
        self._file.close()
        return _Blob(data=None, path=self._path, size=self.size)

    def _abort(self) -> None:
        if self._file is not None:
            self._file.close()
            _Blob(data=None, path=self._path, size=0).discard()
        self._buffer = bytearray()


_T = TypeVar("_T")


def _paginate(
    records: list[tuple[str, _T]], after: str | None, limit: int, order: str, what: str
) -> tuple[list[_T], bool, str | None]:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', got {order!r}")
    ordered = records if order == "asc" else records[::-1]
    start = 0
    if after is not None:
        position = next((i for i, (key, _) in enumerate(ordered) if key == after), None)
        if position is None:
            raise NotFoundError(f"{what} {after!r} (the `after` cursor) was not found")
        start = position + 1
    page = ordered[start : start + limit]
    has_more = start + limit < len(ordered)
    # The cursor is only worth returning when there is a next page to ask for.
    cursor = page[-1][0] if has_more and page else None
    return [value for _, value in page], has_more, cursor


class InMemoryStore(Store[RequestContext], AttachmentStore[RequestContext]):
    """A complete in-memory ChatKit store: threads, items, attachments and their uploaded bytes.

    It is both the `Store` and the `AttachmentStore` of a `ChatKitServer`. Records are copied on
    the way in and out, as a database would, so callers cannot change stored state by accident.
    Two-phase uploads point at `<origin>/chatkit/upload/<id>`; image previews at
    `<origin>/chatkit/preview/<id>` (the routes of `create_local_app`). Thread-safe for tests
    that inspect it from another thread while the server runs.

    >>> store = InMemoryStore()
    >>> server = LocalChatKitServer(store)  # doctest: +SKIP
    >>> store.read_attachment_bytes("atc_...")  # doctest: +SKIP
    b'hello'
    """

    MEMORY_LIMIT = 1024 * 1024
    UPLOAD_PATH = "/chatkit/upload"
    PREVIEW_PATH = "/chatkit/preview"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._threads: dict[str, ThreadMetadata] = {}
        self._items: dict[str, dict[str, ThreadItem]] = {}
        self._attachments: dict[str, Attachment] = {}
        self._blobs: dict[str, _Blob] = {}
        self._declared_sizes: dict[str, int] = {}

    # ----- ids -----

    def _new_id(self, kind: StoreItemType) -> str:
        return f"{_ID_PREFIXES.get(kind, 'itm')}_{uuid.uuid4().hex[:16]}"

    def generate_thread_id(self, context: RequestContext) -> str:
        return self._new_id("thread")

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext) -> str:
        return self._new_id(item_type)

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        return self._new_id("attachment")

    # ----- threads -----

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        with self._lock:
            thread = self._threads.get(thread_id)
            if thread is None:
                raise NotFoundError(f"thread {thread_id!r} was not found")
            return thread.model_copy(deep=True)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        # The SDK hands us a `Thread` (with items) on creation; keep only the metadata.
        fields = {name: getattr(thread, name) for name in ThreadMetadata.model_fields}
        stored = ThreadMetadata.model_construct(**fields)
        with self._lock:
            self._threads[thread.id] = stored.model_copy(deep=True)
            self._items.setdefault(thread.id, {})

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        with self._lock:
            data, has_more, cursor = _paginate(list(self._threads.items()), after, limit, order, "thread")
            threads = [thread.model_copy(deep=True) for thread in data]
        return Page[ThreadMetadata].model_construct(data=threads, has_more=has_more, after=cursor)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        with self._lock:
            if self._threads.pop(thread_id, None) is None:
                raise NotFoundError(f"thread {thread_id!r} was not found")
            self._items.pop(thread_id, None)
            owned = [key for key, value in self._attachments.items() if value.thread_id == thread_id]
            for attachment_id in owned:
                self._forget_attachment(attachment_id)

    # ----- items -----

    def _thread_items(self, thread_id: str) -> dict[str, ThreadItem]:
        items = self._items.get(thread_id)
        if items is None or thread_id not in self._threads:
            raise NotFoundError(f"thread {thread_id!r} was not found")
        return items

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        with self._lock:
            records = list(self._thread_items(thread_id).items())
            data, has_more, cursor = _paginate(records, after, limit, order, "item")
            items = [item.model_copy(deep=True) for item in data]
        # model_construct: re-validating stored widgets would trigger openai-chatkit's deprecation warnings.
        return Page[ThreadItem].model_construct(data=items, has_more=has_more, after=cursor)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        with self._lock:
            self._thread_items(thread_id)[item.id] = item.model_copy(deep=True)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        # An existing id keeps its place in the thread (dict assignment keeps insertion order).
        await self.add_thread_item(thread_id, item, context)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        with self._lock:
            item = self._thread_items(thread_id).get(item_id)
            if item is None:
                raise NotFoundError(f"item {item_id!r} was not found in thread {thread_id!r}")
            return item.model_copy(deep=True)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        with self._lock:
            self._thread_items(thread_id).pop(item_id, None)

    # ----- attachments -----

    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        descriptor = AttachmentUploadDescriptor(
            url=f"{context.origin}{self.UPLOAD_PATH}/{attachment_id}", method="POST", headers={}
        )
        attachment: Attachment
        if input.mime_type.lower().startswith("image/"):
            attachment = ImageAttachment(
                id=attachment_id,
                name=input.name,
                mime_type=input.mime_type,
                upload_descriptor=descriptor,
                preview_url=f"{context.origin}{self.PREVIEW_PATH}/{attachment_id}",
            )
        else:
            attachment = FileAttachment(
                id=attachment_id, name=input.name, mime_type=input.mime_type, upload_descriptor=descriptor
            )
        with self._lock:
            self._declared_sizes[attachment_id] = input.size
        return attachment

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        with self._lock:
            self._attachments[attachment.id] = attachment.model_copy(deep=True)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        with self._lock:
            attachment = self._attachments.get(attachment_id)
            if attachment is None:
                raise NotFoundError(f"attachment {attachment_id!r} was not found")
            return attachment.model_copy(deep=True)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        # Idempotent: `attachments.delete` calls this twice, once as AttachmentStore, once as Store.
        with self._lock:
            self._forget_attachment(attachment_id)

    def _forget_attachment(self, attachment_id: str) -> None:
        self._attachments.pop(attachment_id, None)
        self._declared_sizes.pop(attachment_id, None)
        blob = self._blobs.pop(attachment_id, None)
        if blob is not None:
            blob.discard()

    # ----- uploaded bytes -----

    @contextmanager
    def upload(self, attachment_id: str) -> Iterator[AttachmentWriter]:
        """Write the bytes of `attachment_id`; they replace earlier ones only if the block succeeds.

        >>> with store.upload(attachment.id) as writer:  # doctest: +SKIP
        ...     writer.write(b"hello")
        """
        writer = AttachmentWriter(self.MEMORY_LIMIT)
        try:
            yield writer
        except BaseException:
            writer._abort()
            raise
        blob = writer._finish()
        with self._lock:
            if attachment_id not in self._attachments:
                blob.discard()
                raise NotFoundError(f"attachment {attachment_id!r} was deleted during its upload")
            previous = self._blobs.get(attachment_id)
            self._blobs[attachment_id] = blob
        if previous is not None:
            previous.discard()

    def has_bytes(self, attachment_id: str) -> bool:
        """Whether bytes were uploaded for `attachment_id`."""
        with self._lock:
            return attachment_id in self._blobs

    def attachment_size(self, attachment_id: str) -> int:
        """Bytes uploaded for `attachment_id`, or 0 when nothing was uploaded yet."""
        with self._lock:
            blob = self._blobs.get(attachment_id)
            return 0 if blob is None else blob.size

    def declared_size(self, attachment_id: str) -> int | None:
        """The size given to `attachments.create`, if the attachment was created that way."""
        with self._lock:
            return self._declared_sizes.get(attachment_id)

    def iter_attachment_bytes(self, attachment_id: str, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The uploaded bytes of `attachment_id` in chunks; raises `NotFoundError` if none were uploaded."""
        with self._lock:
            blob = self._blobs.get(attachment_id)
        if blob is None:
            raise NotFoundError(f"no bytes were uploaded for attachment {attachment_id!r}")
        return blob.chunks(chunk_size)

    def read_attachment_bytes(self, attachment_id: str) -> bytes:
        """All uploaded bytes of `attachment_id` (meant for tests; large files are read whole)."""
        return b"".join(self.iter_attachment_bytes(attachment_id))

    # ----- inspection and cleanup -----

    def thread_ids(self) -> list[str]:
        """Ids of all stored threads, oldest first."""
        with self._lock:
            return list(self._threads)

    def item_ids(self, thread_id: str) -> list[str]:
        """Ids of the stored items of `thread_id`, oldest first (hidden context items included)."""
        with self._lock:
            return list(self._thread_items(thread_id))

    def close(self) -> None:
        """Delete every temporary file and forget everything stored."""
        with self._lock:
            for blob in self._blobs.values():
                blob.discard()
            self._threads.clear()
            self._items.clear()
            self._attachments.clear()
            self._blobs.clear()
            self._declared_sizes.clear()
