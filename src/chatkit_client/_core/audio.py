"""Audio for `input.transcribe`: the shapes a caller may pass, read whole and checked before any request.

The protocol sends audio inline as base64 in one JSON body, so it is bounded here rather than streamed.

Imports: stdlib, _exceptions.
"""

from __future__ import annotations

import mimetypes
import os
from typing import IO, TypeAlias

from .._exceptions import InvalidInputError

__all__ = ["MAX_AUDIO_BYTES", "AudioInput", "read_audio"]

AudioInput: TypeAlias = "bytes | str | os.PathLike[str] | IO[bytes]"

# OpenAI's transcription endpoints take at most 25 MB; base64 makes the request a third larger still.
MAX_AUDIO_BYTES = 25 * 1024 * 1024

_AUDIO_TYPES = {".webm": "audio/webm", ".ogg": "audio/ogg", ".m4a": "audio/mp4", ".mp3": "audio/mpeg"}


def _mime_for(name: str) -> str | None:
    extension = os.path.splitext(name)[1].lower()
    return _AUDIO_TYPES.get(extension) or mimetypes.guess_type(name)[0]


def read_audio(audio: object, mime_type: str | None) -> tuple[bytes, str]:
    """The audio's bytes and MIME type; a path or a named file gives its type from the extension.

    >>> read_audio(b"RIFF....WAVE", "audio/wav")
    (b'RIFF....WAVE', 'audio/wav')
    """
    if mime_type is not None and (not isinstance(mime_type, str) or "/" not in mime_type):
        raise InvalidInputError("mime_type", f"must be a MIME type such as 'audio/webm', got {mime_type!r}")
    name: str | None = None
    if isinstance(audio, bytes | bytearray | memoryview):
        data = bytes(audio)
    elif isinstance(audio, str | os.PathLike):
        name = os.fspath(audio)
        if not os.path.isfile(name):
            raise InvalidInputError("audio", f"{name} is not a file")
        if os.path.getsize(name) > MAX_AUDIO_BYTES:
            raise InvalidInputError("audio", f"{name} is over the {MAX_AUDIO_BYTES // 1048576} MB transcription limit")
        with open(name, "rb") as handle:
            data = handle.read()
    elif callable(getattr(audio, "read", None)):
        data = audio.read(MAX_AUDIO_BYTES + 1)  # type: ignore[attr-defined]
        if not isinstance(data, bytes):
            raise InvalidInputError("audio", "must be opened in binary mode ('rb')")
        raw_name = getattr(audio, "name", None)
        name = raw_name if isinstance(raw_name, str) else None
    else:
        raise InvalidInputError("audio", f"must be bytes, a path or a binary file, got {type(audio).__name__}")
    if len(data) > MAX_AUDIO_BYTES:
        raise InvalidInputError("audio", f"is over the {MAX_AUDIO_BYTES // 1048576} MB transcription limit")
    if not data:
        raise InvalidInputError("audio", "is empty: there is nothing to transcribe")
    if mime_type is None:
        mime_type = _mime_for(name) if name else None
        if mime_type is None:
            raise InvalidInputError("mime_type", "is needed for raw bytes: pass e.g. mime_type='audio/webm'")
    return data, mime_type
