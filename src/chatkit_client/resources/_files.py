"""`client.files`: upload a file to the hosted API with a session's client secret."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from .._core.files import FileInput, PreparedFile, ProgressCallback, prepare_file
from .._core.parsing import parse_model
from ..types import UploadedFile

if TYPE_CHECKING:
    from .._client import AsyncChatKit, ChatKit
    from .._core.requests import RequestSpec

__all__ = ["AsyncFiles", "Files"]


def _upload_spec(
    client: ChatKit | AsyncChatKit, prepared: PreparedFile, client_secret: str, handle: IO[bytes]
) -> RequestSpec:
    return client._endpoints.upload(client_secret, prepared.filename, handle, prepared.mime_type)


class Files:
    """Hosted file uploads. The returned id goes into a message's `attachments`.

    >>> uploaded = client.files.upload("report.pdf", client_secret=session.client_secret)  # doctest: +SKIP
    >>> uploaded.id, uploaded.mime_type  # doctest: +SKIP
    """

    def __init__(self, client: ChatKit) -> None:
        self._client = client

    def upload(
        self, file: FileInput, *, client_secret: str, on_progress: ProgressCallback | None = None
    ) -> UploadedFile:
        """Upload `file` (a path, a binary file, `(name, bytes)` or `(name, content, mime)`), streamed from disk.

        `on_progress(sent_bytes, total_bytes)` is called as the body is sent.
        """
        return self._upload_prepared(prepare_file(file), client_secret, on_progress)

    def _upload_prepared(
        self, prepared: PreparedFile, client_secret: str, on_progress: ProgressCallback | None = None
    ) -> UploadedFile:
        with prepared.open(on_progress) as handle:
            response = self._client._transport.request(_upload_spec(self._client, prepared, client_secret, handle))
        return parse_model(UploadedFile, response)


class AsyncFiles:
    """Async twin of `Files`.

    >>> uploaded = await client.files.upload("report.pdf", client_secret=session.client_secret)  # doctest: +SKIP
    """

    def __init__(self, client: AsyncChatKit) -> None:
        self._client = client

    async def upload(
        self, file: FileInput, *, client_secret: str, on_progress: ProgressCallback | None = None
    ) -> UploadedFile:
        """Upload `file` (a path, a binary file, `(name, bytes)` or `(name, content, mime)`), streamed from disk.

        `on_progress(sent_bytes, total_bytes)` is called as the body is sent.
        """
        return await self._upload_prepared(prepare_file(file), client_secret, on_progress)

    async def _upload_prepared(
        self, prepared: PreparedFile, client_secret: str, on_progress: ProgressCallback | None = None
    ) -> UploadedFile:
        with prepared.open(on_progress) as handle:
            response = await self._client._transport.request(
                _upload_spec(self._client, prepared, client_secret, handle)
            )
        return parse_model(UploadedFile, response)
