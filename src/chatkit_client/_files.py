"""Turning the many shapes a user may pass as a file into one `PreparedFile`, checked before any request.

Files are opened lazily and read in chunks by the transport, so a 512 MB upload never sits in memory.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TypeAlias

from ._exceptions import InvalidInputError

__all__ = ["FileInput", "PreparedFile", "ProgressCallback", "prepare_file"]

FileContent: TypeAlias = "bytes | IO[bytes] | str | os.PathLike[str]"
FileInput: TypeAlias = (
    "str | os.PathLike[str] | bytes | IO[bytes] | tuple[str, FileContent] | tuple[str, FileContent, str]"
)
ProgressCallback: TypeAlias = Callable[[int, int | None], None]

_DEFAULT_MIME = "application/octet-stream"


@dataclass(frozen=True)
class PreparedFile:
    """A file ready to upload: its name, MIME type, size when known, and how to open it."""

    filename: str
    mime_type: str
    size: int | None
    path: str | None = None
    data: bytes | None = None
    fileobj: IO[bytes] | None = None

    @contextmanager
    def open(self, on_progress: ProgressCallback | None = None) -> Iterator[IO[bytes]]:
        """A binary file object positioned at the start; a path is opened here and closed afterwards."""
        if self.path is not None:
            with open(self.path, "rb") as handle:
                yield _wrap(handle, self.size, on_progress)
        elif self.data is not None:
            yield _wrap(io.BytesIO(self.data), self.size, on_progress)
        else:
            assert self.fileobj is not None
            yield _wrap(self.fileobj, self.size, on_progress)


def _wrap(handle: IO[bytes], size: int | None, on_progress: ProgressCallback | None) -> IO[bytes]:
    return handle if on_progress is None else _ProgressReader(handle, size, on_progress)  # type: ignore[return-value]


class _ProgressReader:
    """Reports bytes read to a callback; httpx2 rewinds it (seek 0) before each attempt."""

    def __init__(self, handle: IO[bytes], total: int | None, callback: ProgressCallback) -> None:
        self._handle = handle
        self._total = total
        self._callback = callback
        self._sent = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        if chunk:
            self._sent += len(chunk)
            self._callback(self._sent, self._total)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self._handle.seek(offset, whence)
        if whence == os.SEEK_SET:
            self._sent = position
        return position

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()


def _guess_mime(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or _DEFAULT_MIME


def _size_of(handle: IO[bytes]) -> int | None:
    try:
        return os.fstat(handle.fileno()).st_size - handle.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    try:
        here = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(here)
        return end - here
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _from_path(path: str | os.PathLike[str], field: str, filename: str | None, mime: str | None) -> PreparedFile:
    fspath = os.fspath(path)
    if not os.path.isfile(fspath):
        problem = "is a directory" if os.path.isdir(fspath) else "does not exist"
        raise InvalidInputError(
            field, f"the file {fspath!r} {problem}; pass an existing file path, bytes or a binary file"
        )
    name = filename or os.path.basename(fspath)
    return PreparedFile(name, mime or _guess_mime(name), os.path.getsize(fspath), path=fspath)


def _from_content(content: object, field: str, filename: str, mime: str | None) -> PreparedFile:
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        return PreparedFile(filename, mime or _guess_mime(filename), len(data), data=data)
    if isinstance(content, str | os.PathLike):
        return _from_path(content, field, filename, mime)
    if isinstance(content, io.TextIOBase):
        raise InvalidInputError(field, "the file is open in text mode; open it with 'rb'")
    if hasattr(content, "read"):
        handle: IO[bytes] = content  # type: ignore[assignment]
        return PreparedFile(filename, mime or _guess_mime(filename), _size_of(handle), fileobj=handle)
    raise InvalidInputError(
        field,
        f"unsupported file value of type {type(content).__name__}; pass a path, bytes with a name "
        "as (filename, bytes), a binary file object, or a (filename, content[, mime_type]) tuple",
    )


def prepare_file(file: FileInput, *, field: str = "file") -> PreparedFile:
    """Normalise any accepted file shape, raising `InvalidInputError` (naming `field`) before any request.

    >>> prepare_file(("notes.txt", b"hello")).mime_type
    'text/plain'
    """
    if isinstance(file, tuple):
        if len(file) not in (2, 3) or not isinstance(file[0], str) or not file[0]:
            raise InvalidInputError(field, "a tuple must be (filename, content) or (filename, content, mime_type)")
        mime = file[2] if len(file) == 3 else None
        if mime is not None and not isinstance(mime, str):
            raise InvalidInputError(field, "the third tuple element must be a MIME type string")
        return _from_content(file[1], field, file[0], mime)
    if isinstance(file, str | os.PathLike):
        return _from_path(file, field, None, None)
    if isinstance(file, bytes | bytearray | memoryview):
        raise InvalidInputError(field, "bytes need a file name: pass (filename, data) instead")
    name = getattr(file, "name", None)
    if isinstance(name, str) and name:
        return _from_content(file, field, os.path.basename(name), None)
    raise InvalidInputError(field, "this file object has no name: pass (filename, fileobj) instead")
