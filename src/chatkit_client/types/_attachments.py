"""Attachments on user messages, and the answer of `POST /v1/chatkit/files`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._base import ChatKitModel

__all__ = ["Attachment", "AttachmentUploadDescriptor", "UploadedFile"]


class AttachmentUploadDescriptor(ChatKitModel):
    """Where and how to send the bytes of a two-phase upload (self-hosted servers)."""

    url: str
    method: str = "PUT"
    """`"PUT"` or `"POST"`."""
    headers: dict[str, str] = Field(default_factory=dict)


class Attachment(ChatKitModel):
    """A file or image attached to a user message.

    One lenient model covers both kinds; `type` tells them apart and images carry `preview_url`.

    ```python
    attachment = Attachment.model_validate({"id": "cfile_1", "type": "file", "name": "a.pdf"})
    ```
    """

    id: str
    type: str = "file"
    """`"file"` or `"image"`."""
    name: str | None = None
    mime_type: str | None = None
    preview_url: str | None = None
    upload_url: str | None = None
    """Hosted API: the file's URL under `/v1/chatkit/files/`; stays set after the upload."""
    upload_descriptor: AttachmentUploadDescriptor | None = None
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None


class UploadedFile(Attachment):
    """The answer of `POST /v1/chatkit/files`: pass its `id` in a message's attachments.

    ```python
    uploaded = client.files.upload("report.pdf")
    chat.send("Summarise this", attachments=[uploaded.id])
    ```
    """
