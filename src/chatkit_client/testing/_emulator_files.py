"""The file upload endpoint (`POST /v1/chatkit/files`, client secret): type, size and quota checks.

Imports `_emulator_model`, `_emulator_state`, `_emulator_request` and starlette only.
"""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from ._emulator_model import ApiFailure, FileInfo, SessionRecord, new_id
from ._emulator_request import Ctx, session_for_secret
from ._emulator_state import EmulatorState

_ALLOWED_TYPES = {
    "application/pdf": "file",
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
}
_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_READ_CHUNK = 64 * 1024


class FileUploads:
    """Stores each upload's size and SHA-256 (never its bytes) in the shared state."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    async def upload(self, ctx: Ctx) -> Response:
        session = session_for_secret(self._state, ctx)
        with self._state.lock:
            upload_cfg = session.configuration["file_upload"]
            if not upload_cfg["enabled"]:
                raise ApiFailure(
                    400,
                    "File uploads are disabled for this ChatKit session.",
                    code="chatkit.file_upload_disabled",
                )
            self._check_file_quota(session)
        if not ctx.request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ApiFailure(400, "Expected a multipart/form-data body with a 'file' part.", param="file")
        limit_mb: int = upload_cfg["max_file_size"]
        try:
            form = await ctx.request.form(max_files=10, max_fields=100)
        except Exception as exc:
            raise ApiFailure(400, f"Could not parse the multipart body: {exc}", param="file") from exc
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiFailure(
                    400,
                    "Missing required parameter: 'file'.",
                    param="file",
                    code="missing_required_parameter",
                )
            mime = _resolve_mime(upload)
            if mime not in _ALLOWED_TYPES:
                raise ApiFailure(
                    400,
                    f"Unsupported file type '{mime}'. Supported types are PDF, PNG, JPEG, GIF and WEBP.",
                    param="file",
                    code="chatkit.file_upload_type_rejected",
                )
            # Read in chunks so a large upload is never held in memory; stop as soon as the limit is passed.
            digest = hashlib.sha256()
            size = 0
            while chunk := await upload.read(_READ_CHUNK):
                size += len(chunk)
                if size > limit_mb * 1024 * 1024:
                    raise ApiFailure(
                        400,
                        f"File exceeds the maximum size of {limit_mb} MB for this ChatKit session.",
                        param="file",
                        code="chatkit.file_too_large",
                    )
                digest.update(chunk)
            name = upload.filename
        finally:
            # Deletes the spooled temporary files.
            await form.close()
        with self._state.lock:
            self._check_file_quota(session)
            file_id = new_id("cfile")
            info = FileInfo(
                id=file_id,
                name=name,
                mime_type=mime,
                type=_ALLOWED_TYPES[mime],
                size=size,
                sha256=digest.hexdigest(),
                session_id=session.id,
                user=session.user,
                upload_url=f"{ctx.origin}/v1/chatkit/files/{file_id}",
            )
            self._state.files[file_id] = info
            session.files_uploaded += 1
        return JSONResponse(_file_payload(info))

    @staticmethod
    def _check_file_quota(session: SessionRecord) -> None:
        max_files = session.configuration["file_upload"]["max_files"]
        if session.files_uploaded >= max_files:
            raise ApiFailure(
                400,
                f"This ChatKit session has reached its limit of {max_files} uploaded files.",
                code="chatkit.file_upload_limit_reached",
            )


def _resolve_mime(upload: UploadFile) -> str:
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    declared = _MIME_ALIASES.get(declared, declared)
    if declared and declared != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(upload.filename or "")
    return _MIME_ALIASES.get(guessed or "", guessed or "application/octet-stream")


def _file_payload(info: FileInfo) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": info.type,
        "id": info.id,
        "name": info.name,
        "mime_type": info.mime_type,
        "upload_url": info.upload_url,
    }
    if info.type == "image":
        payload["preview_url"] = info.upload_url
    return payload
