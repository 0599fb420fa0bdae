"""Turning the many shapes a user may pass as a file into one `PreparedFile`, checked before any request.

Files are opened lazily and read in chunks by the transport, so a 512 MB upload never sits in memory.
A file object is sent from where it stands when the upload is asked for (a caller may have read past
a header line), and exactly the size announced is sent.

In a `(filename, content)` tuple, `content` is bytes, a binary file object or a `pathlib.Path`; a
plain `str` is refused, because it cannot say whether it is a path or the text to upload.

Imports: stdlib, _exceptions.
"""

from __future__ import annotations

import io
import mimetypes
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TypeAlias

from .._exceptions import InvalidInputError

__all__ = ["FileInput", "PreparedFile", "ProgressCallback", "prepare_file"]

FileContent: TypeAlias = "bytes | IO[bytes] | os.PathLike[str]"
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
    offset: int | None = None
    """Where a seekable `fileobj` stood when prepared: the upload starts there (None: not seekable)."""

    @contextmanager
    def open(self, on_progress: ProgressCallback | None = None) -> Iterator[IO[bytes]]:
        """A binary file object holding exactly the bytes to send; a path is opened here and closed afterwards."""
        if self.path is not None:
            with open(self.path, "rb") as handle:
                yield _wrap(_Window(handle, 0, self.size), self.size, on_progress)
        elif self.data is not None:
            yield _wrap(io.BytesIO(self.data), self.size, on_progress)
        else:
            assert self.fileobj is not None
            if self.offset is None:
                yield _wrap(self.fileobj, self.size, on_progress)
            else:
                yield _wrap(_Window(self.fileobj, self.offset, self.size), self.size, on_progress)


def _wrap(handle: IO[bytes] | _Window, size: int | None, on_progress: ProgressCallback | None) -> IO[bytes]:
    reader = handle if on_progress is None else _ProgressReader(handle, size, on_progress)  # type: ignore[arg-type]
    return reader  # type: ignore[return-value]


class _Window:
    """The part of a seekable file from `offset`, at most `size` bytes, seen as a file of its own.

    The HTTP layer rewinds a file (seek 0) before each attempt and measures it (seek to the end); both
    stay inside the window, so a retry resends the same bytes and Content-Length is what is sent. No
    `fileno()`, so the length is never taken from the whole file on disk.
    """

    def __init__(self, handle: IO[bytes], offset: int, size: int | None) -> None:
        self._handle = handle
        self._offset = offset
        self._size = size
        self._pos = 0
        handle.seek(offset)

    def read(self, size: int = -1) -> bytes:
        if self._size is not None:
            left = max(0, self._size - self._pos)
            size = left if size is None or size < 0 else min(size, left)
            if size == 0:
                # Bytes past the announced end mean the file grew while it was read: what went out is no
                # snapshot of anything, so stop instead of sending a silently cut copy.
                if self._handle.read(1):
                    raise InvalidInputError(
                        "file",
                        "the file changed size while it was being uploaded (it grew past the length announced "
                        "in the request); the upload was stopped and not retried: send it again once the file "
                        "has stopped changing",
                    )
                return b""
        chunk = self._handle.read(size)
        self._pos += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        else:
            end = self._size if self._size is not None else self._handle.seek(0, os.SEEK_END) - self._offset
            target = end + offset
        self._pos = max(0, target)
        self._handle.seek(self._offset + self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos


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
        return self._handle.fileno()  # a _Window has none: AttributeError, as the HTTP layer expects


def _guess_mime(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or _DEFAULT_MIME


def _position_and_size(handle: IO[bytes], field: str) -> tuple[int | None, int | None]:
    """Where a file object stands and how many bytes are left from there; (None, None) when it cannot seek."""
    try:
        mode = os.fstat(handle.fileno()).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        mode = None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
        raise InvalidInputError(field, f"the file object is a device ({_kind(mode)}), which has no end to upload")
    if mode is not None and not stat.S_ISREG(mode):
        return None, None  # a pipe or a socket: streamed as it comes, its size unknown
    try:
        here = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(here)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None, None
    return here, max(0, end - here)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_filename(name: str, field: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            field,
            f"the file name {name!r} is not valid UTF-8; pass (name, open(path, 'rb')) with a UTF-8 name",
        ) from None
    return name


def _from_path(path: str | os.PathLike[str], field: str, filename: str | None, mime: str | None) -> PreparedFile:
    fspath = os.fspath(path)
    shown = repr(fspath)  # repr escapes the undecodable bytes a name may carry
    try:
        mode = os.stat(fspath).st_mode
    except FileNotFoundError:
        raise InvalidInputError(
            field, f"the file {shown} does not exist; pass an existing file path, bytes or a binary file"
        ) from None
    except OSError as err:
        raise InvalidInputError(field, f"the file {shown} cannot be read: {err.strerror or err}") from None
    if not stat.S_ISREG(mode):
        # A FIFO or a device would be read forever or block; only a regular file has a size to announce.
        raise InvalidInputError(
            field, f"{shown} is {_kind(mode)}, not a regular file; pass a file path, bytes or a binary file object"
        )
    name = _check_filename(filename or os.path.basename(fspath), field)
    return PreparedFile(name, mime or _guess_mime(name), os.path.getsize(fspath), path=fspath)


def _from_content(content: object, field: str, filename: str, mime: str | None) -> PreparedFile:
    _check_filename(filename, field)
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        return PreparedFile(filename, mime or _guess_mime(filename), len(data), data=data)
    if isinstance(content, str):
        # ("notes.txt", "hello") may mean text to upload or a path to read; guessing wrong uploads the wrong thing.
        raise InvalidInputError(
            field,
            f"a str in ({filename!r}, ...) is ambiguous: pass text as bytes, ({filename!r}, text.encode()), "
            f"or a path as ({filename!r}, pathlib.Path(path)), or just the path",
        )
    if isinstance(content, os.PathLike):
        return _from_path(content, field, filename, mime)
    if isinstance(content, io.TextIOBase):
        raise InvalidInputError(field, "the file is open in text mode; open it with 'rb'")
    if hasattr(content, "read"):
        if getattr(content, "closed", False) is True:
            raise InvalidInputError(field, "the file object is closed; upload it before closing it")
        handle: IO[bytes] = content  # type: ignore[assignment]
        offset, size = _position_and_size(handle, field)
        return PreparedFile(filename, mime or _guess_mime(filename), size, fileobj=handle, offset=offset)
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
    if getattr(file, "closed", False) is True:
        raise InvalidInputError(field, "the file object is closed; upload it before closing it")
    name = getattr(file, "name", None)
    if isinstance(name, str) and name:
        return _from_content(file, field, os.path.basename(name), None)
    raise InvalidInputError(field, "this file object has no name: pass (filename, fileobj) instead")
