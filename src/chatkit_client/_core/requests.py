"""The request and response types every layer shares: built by pure code, sent by a transport.

May import only the standard library and `_exceptions`: no HTTP library, so the I/O-free core can build
requests without pulling one in (see `_async/transport.py` for what sends them).

Imports: stdlib, _exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeAlias

from .._exceptions import APIResponseValidationError

__all__ = ["ApiResponse", "FilePart", "RequestSpec", "media_type"]

# (filename, binary file object, MIME type) for the single multipart part a ChatKit upload has.
FilePart: TypeAlias = tuple[str, IO[bytes], str]


@dataclass(frozen=True)
class RequestSpec:
    """Everything needed to send one request; built by pure code, sent by a transport.

    `idempotent` says whether sending it twice is harmless; when False (the default) it is sent
    again only when it certainly was not processed (see `_retry`). `not_found_hint` is added to a
    404 or 405 answer's message, to say which URL setting to check.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str | int] | None = None
    json: object | None = None
    files: Mapping[str, FilePart] | None = None
    content: bytes | IO[bytes] | None = None
    idempotent: bool = False
    not_found_hint: str | None = None


@dataclass(frozen=True)
class ApiResponse:
    """A finished 2xx answer."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    request_id: str | None

    def json(self) -> Any:
        if not self.content:
            return None
        try:
            return json.loads(self.content)
        except RecursionError as err:
            # json's decoder recurses per nesting level: a hostile body nested deeper than Python's stack.
            raise APIResponseValidationError(
                "the JSON answer is nested too deeply to decode; no ChatKit answer is shaped like that"
            ) from err
        except ValueError as err:
            excerpt = self.content[:200].decode("utf-8", "replace")
            raise APIResponseValidationError(
                f"expected a JSON body but got {self.headers.get('content-type', 'no content type')}: {excerpt!r}",
                body=excerpt,
            ) from err


def media_type(headers: Mapping[str, str]) -> str:
    """`text/event-stream` from `Content-Type: text/event-stream; charset=utf-8`."""
    return headers.get("content-type", "").partition(";")[0].strip().lower()
