"""`client.files`: upload a file to the hosted API with a session's client secret.

Imports: `_core` (file preparation, answer parsing), the types, and this shell's requester.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._core.files import FileInput, ProgressCallback, prepare_file
from ..._core.hosted_requests import read_uploaded_file, upload_file_spec
from ...types import UploadedFile

if TYPE_CHECKING:
    from ..requester import AsyncRequester

__all__ = ["AsyncFiles"]


class AsyncFiles:
    """Hosted file uploads. The returned id goes into a message's `attachments`.

    >>> uploaded = await client.files.upload("report.pdf", client_secret=session.client_secret)  # doctest: +SKIP
    >>> uploaded.id, uploaded.mime_type  # doctest: +SKIP
    """

    def __init__(self, requester: AsyncRequester) -> None:
        self._requester = requester

    async def upload(
        self, file: FileInput, *, client_secret: str, on_progress: ProgressCallback | None = None
    ) -> UploadedFile:
        """Upload `file` (a path, a binary file, `(name, bytes)` or `(name, content, mime)`), streamed from disk.

        `on_progress(sent_bytes, total_bytes)` is called as the body is sent.
        """
        prepared = prepare_file(file)
        with prepared.open(on_progress) as handle:
            spec = upload_file_spec(self._requester.endpoints, client_secret, prepared, handle)
            response = await self._requester.request(spec)
        return read_uploaded_file(response)
