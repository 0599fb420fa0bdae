"""What `help()` shows for the first things people use: the client's parameters, `send`'s files and errors."""

from __future__ import annotations

import pydoc

import pytest

from chatkit_client import AsyncChat, AsyncChatKit, Chat, ChatKit

PARAMETERS = [
    "api_key",
    "base_url",
    "organization",
    "project",
    "server_url",
    "headers",
    "upload_url",
    "timeout",
    "max_retries",
    "max_event_size",
    "default_headers",
    "http_client",
]


@pytest.mark.parametrize("cls", [ChatKit, AsyncChatKit])
def test_help_on_the_client_documents_every_constructor_parameter(cls: type) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    doc = cls.__doc__ or ""
    for name in PARAMETERS:
        assert f"`{name}`" in doc, name
    assert "a callable returning one" in doc  # the callable form of `headers`
    assert "Parameters" in text and ">>>" in text


@pytest.mark.parametrize("cls", [Chat, AsyncChat])
def test_send_and_stream_document_files_returns_and_raises(cls: type) -> None:
    send = pydoc.getdoc(cls.send)
    stream = pydoc.getdoc(cls.stream)
    for form in ("path", "binary file", "(filename, content)", "(filename, content, mime_type)"):
        assert form in send, form
    for error in ("InvalidInputError", "StreamError", "StreamInterruptedError") if cls is Chat else ():
        assert error in send, error
    assert "Reply" in send and ">>>" in send
    assert "Stream" in stream and ">>>" in stream
