"""The request preparation in `_core/chat.py`: upload requests and whose credentials they carry, the
session's upload settings checked before sending, attachment ids, and where a two-phase upload goes."""

from __future__ import annotations

import io
from typing import Any

import pytest

from chatkit_client._core.chat import (
    check_attachment_ids,
    check_hosted_uploads,
    check_max_tool_rounds,
    newest_user_message_id,
    parse_attachment,
    parse_thread,
    parse_updated_item,
    prepare_files,
    same_origin,
    upload_spec,
    upload_target,
)
from chatkit_client._core.files import PreparedFile
from chatkit_client._exceptions import APIResponseValidationError, InvalidInputError
from chatkit_client.types import AssistantMessageItem, ChatSession, UserMessageItem, parse_item

SERVER = "https://app.example.com:8443/chatkit"
AUTH = {"Authorization": "Bearer app-token", "X-Tenant": "t1"}


def prepared(name: str = "a.pdf", size: int | None = 10, mime: str = "application/pdf") -> PreparedFile:
    return PreparedFile(filename=name, mime_type=mime, size=size, data=b"x" * (size or 0))


# -- same origin and upload requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("https://app.example.com:8443/upload/atc_1", True),
        ("https://app.example.com:8443", True),
        ("https://app.example.com:8443/chatkit?x=1#f", True),
        ("http://app.example.com:8443/upload", False),  # another scheme
        ("https://app.example.com/upload", False),  # another port
        ("https://app.example.com:443/upload", False),
        ("https://storage.example.com:8443/upload", False),
        ("https://app.example.com.evil.net:8443/upload", False),
        ("https://app.example.com:8443@evil.net/upload", False),  # userinfo trick: the host is evil.net
        ("https://user@app.example.com:8443/upload", False),
        ("/upload/atc_1", False),  # a relative URL has no origin to match
    ],
)
def test_same_origin_is_scheme_host_and_port(url: str, same: bool) -> None:
    assert same_origin(url, SERVER) is same
    assert same_origin(SERVER, url) is same


def test_an_upload_to_the_app_carries_its_credentials() -> None:
    file = prepared()
    handle = io.BytesIO(b"x" * 10)
    spec = upload_spec(
        file,
        handle,
        ("https://app.example.com:8443/upload/atc_1", "PUT", {"X-Upload": "1"}),
        server_url=SERVER,
        server_headers=AUTH,
    )
    assert (spec.method, spec.url) == ("PUT", "https://app.example.com:8443/upload/atc_1")
    assert dict(spec.headers) == {**AUTH, "X-Upload": "1", "Accept": "application/json"}
    assert spec.files == {"file": ("a.pdf", handle, "application/pdf")}
    assert spec.json is None and spec.content is None and spec.idempotent is False


def test_an_upload_elsewhere_never_carries_the_app_s_credentials() -> None:
    spec = upload_spec(
        prepared(),
        io.BytesIO(),
        ("https://storage.example.net/bucket/atc_1?sig=abc", "POST", {"x-amz-acl": "private"}),
        server_url=SERVER,
        server_headers=AUTH,
    )
    assert dict(spec.headers) == {"x-amz-acl": "private", "Accept": "application/json"}


def test_the_descriptor_s_headers_win_over_the_app_s_but_accept_is_always_json() -> None:
    spec = upload_spec(
        prepared(),
        io.BytesIO(),
        (SERVER + "/u", "PUT", {"X-Tenant": "t2", "Accept": "text/html"}),
        server_url=SERVER,
        server_headers=AUTH,
    )
    assert dict(spec.headers) == {"Authorization": "Bearer app-token", "X-Tenant": "t2", "Accept": "application/json"}


def test_where_a_two_phase_upload_goes() -> None:
    base = {"id": "atc_1", "name": "a.pdf", "mime_type": "application/pdf", "type": "file"}
    descriptor = {"url": "https://s.example/u", "method": "put", "headers": {"h": "v"}}
    assert upload_target(parse_attachment({**base, "upload_descriptor": descriptor})) == (
        "https://s.example/u", "PUT", {"h": "v"},
    )
    assert upload_target(parse_attachment({**base, "upload_url": "https://s.example/old"})) == (
        "https://s.example/old", "POST", {},
    )
    assert upload_target(parse_attachment(base)) is None


# -- the session's upload settings -----------------------------------------------------------------------


def session(**file_upload: Any) -> ChatSession:
    return ChatSession.model_validate(
        {"id": "cksess_1", "client_secret": "ek_1", "expires_at": 0,
         "chatkit_configuration": {"file_upload": file_upload}}
    )


def test_uploads_pass_when_nothing_forbids_them() -> None:
    check_hosted_uploads(None, [prepared()])  # self-hosted or a fixed secret: no settings known
    check_hosted_uploads(ChatSession(id="s", client_secret="ek", expires_at=0), [prepared()])
    check_hosted_uploads(session(enabled=False), [])  # no files: nothing to refuse
    check_hosted_uploads(session(enabled=None, max_files=None, max_file_size=None), [prepared()] * 50)
    check_hosted_uploads(session(enabled=True, max_file_size=1), [prepared(size=None)])  # size unknown


def test_disabled_uploads_are_refused_saying_how_to_enable_them() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_hosted_uploads(session(enabled=False), [prepared()])
    assert caught.value.field == "files"
    assert "chatkit_configuration={'file_upload': {'enabled': True}}" in caught.value.message


def test_the_file_count_limit_is_inclusive() -> None:
    check_hosted_uploads(session(enabled=True, max_files=2), [prepared(), prepared()])
    with pytest.raises(InvalidInputError, match="3 files exceed the session's limit of 2"):
        check_hosted_uploads(session(enabled=True, max_files=2), [prepared()] * 3)


def test_the_size_limit_is_in_megabytes_and_inclusive() -> None:
    mib = 1024 * 1024
    check_hosted_uploads(session(max_file_size=2), [prepared(size=2 * mib)])
    with pytest.raises(InvalidInputError) as caught:
        check_hosted_uploads(session(max_file_size=2), [prepared(size=10), prepared("big.bin", size=2 * mib + 1)])
    assert caught.value.field == "files"
    assert caught.value.message == (
        "files: big.bin is 2.0 MB, over the session's limit of 2 MB; "
        "raise chatkit_configuration.file_upload.max_file_size (up to 512)"
    )


# -- attachment ids, files, tool rounds ------------------------------------------------------------------


def test_attachment_ids_are_a_list_of_ids() -> None:
    assert check_attachment_ids(None) == []
    assert check_attachment_ids(("atc_1", "atc_2")) == ["atc_1", "atc_2"]
    ids = ["atc_1"]
    assert check_attachment_ids(ids) == ids and check_attachment_ids(ids) is not ids
    for bad in ("atc_1", {"atc_1"}, iter(["atc_1"]), 5, {"id": "atc_1"}):
        with pytest.raises(InvalidInputError) as caught:
            check_attachment_ids(bad)  # type: ignore[arg-type]
        assert caught.value.field == "attachments" and "list of uploaded file ids" in caught.value.message


def test_files_are_a_list_and_each_is_named_by_its_index() -> None:
    assert prepare_files(None) == []
    [one, two] = prepare_files([("a.txt", b"hi"), ("b.png", io.BytesIO(b"png"), "image/png")])
    assert (one.filename, one.mime_type, one.size) == ("a.txt", "text/plain", 2)
    assert (two.filename, two.mime_type, two.size) == ("b.png", "image/png", 3)
    for bad in ("a.txt", b"bytes", {"a.txt": b"hi"}):
        with pytest.raises(InvalidInputError, match=r"^files: must be a list of files"):
            prepare_files(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as caught:
        prepare_files([("a.txt", b"hi"), b"no name"])
    assert caught.value.field == "files[1]"


@pytest.mark.parametrize("value", [-1, True, 1.0, "3", None])
def test_max_tool_rounds_must_be_a_whole_number(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"^max_tool_rounds: must be a whole number"):
        check_max_tool_rounds(value)


def test_max_tool_rounds_accepts_zero() -> None:
    assert check_max_tool_rounds(0) == 0 and check_max_tool_rounds(100) == 100


# -- answers read outside a stream -----------------------------------------------------------------------


def test_answer_bodies_that_are_not_objects_are_refused_naming_what_came() -> None:
    for parse, what in ((parse_thread, "a thread"), (parse_attachment, "an attachment"),
                        (parse_updated_item, "a sync action result")):
        with pytest.raises(APIResponseValidationError, match=f"expected {what} object, got list"):
            parse([])
    with pytest.raises(APIResponseValidationError, match="the thread in the response is malformed"):
        parse_thread({"id": 5, "created_at": "yesterday"})
    with pytest.raises(APIResponseValidationError, match="the attachment in the response is malformed: id: Field"):
        parse_attachment({"name": "a.pdf"})
    assert parse_updated_item({"updated_item": None}) is None and parse_updated_item({}) is None


def test_the_newest_user_message_of_a_page_listed_newest_first() -> None:
    def item(item_id: str, kind: str) -> Any:
        fields: dict[str, Any] = {"content": []}
        if kind == "user_message":
            fields.update(attachments=[], inference_options={})
        return parse_item({"id": item_id, "thread_id": "t", "created_at": 0, "type": kind, **fields})

    page = [item("a3", "assistant_message"), item("u2", "user_message"), item("u1", "user_message")]
    assert isinstance(page[0], AssistantMessageItem) and isinstance(page[1], UserMessageItem)
    assert newest_user_message_id(page) == "u2"
    assert newest_user_message_id(page[:1]) is None and newest_user_message_id([]) is None
