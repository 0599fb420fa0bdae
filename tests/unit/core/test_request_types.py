"""`RequestSpec`, `ApiResponse` and `media_type`: the types every layer shares, without a transport."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chatkit_client._core.requests import ApiResponse, RequestSpec, media_type
from chatkit_client._exceptions import APIResponseValidationError


def test_a_request_spec_defaults_to_a_bare_request_that_is_not_resent() -> None:
    spec = RequestSpec("GET", "https://api.example.com/v1/chatkit/threads")
    assert dict(spec.headers) == {} and spec.params is None and spec.json is None
    assert spec.files is None and spec.content is None and spec.not_found_hint is None
    # Not idempotent unless said: a request the server may have acted on is never sent again.
    assert spec.idempotent is False
    # Each spec has its own headers mapping.
    assert RequestSpec("GET", "u").headers is not RequestSpec("GET", "u").headers


def test_a_request_spec_is_frozen_and_compares_by_value() -> None:
    spec = RequestSpec("POST", "https://x/y", json={"type": "threads.list", "params": {}}, idempotent=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.url = "https://elsewhere"  # type: ignore[misc]
    assert spec == RequestSpec("POST", "https://x/y", json={"type": "threads.list", "params": {}}, idempotent=True)
    assert spec != dataclasses.replace(spec, idempotent=False)


def response(content: bytes, content_type: str | None = "application/json") -> ApiResponse:
    headers = {"content-type": content_type} if content_type is not None else {}
    return ApiResponse(200, headers, content, "req_1")


def test_json_of_an_answer() -> None:
    assert response(b'{"id": "thr_1", "title": "R\\u00e9sum\\u00e9"}').json() == {"id": "thr_1", "title": "Résumé"}
    assert response("[1, \"é\"]".encode()).json() == [1, "é"]
    assert response(b"").json() is None  # 204-style empty body
    assert response(b"null").json() is None


def test_a_body_that_is_not_json_is_refused_with_its_type_and_an_excerpt() -> None:
    with pytest.raises(APIResponseValidationError) as caught:
        response(b"<html>502 Bad Gateway</html>", "text/html").json()
    assert caught.value.message == "expected a JSON body but got text/html: '<html>502 Bad Gateway</html>'"
    assert caught.value.body == "<html>502 Bad Gateway</html>"


def test_the_excerpt_is_short_and_survives_invalid_utf8() -> None:
    body = b"\xff\xfe" + b"x" * 1000
    with pytest.raises(APIResponseValidationError) as caught:
        response(body, None).json()
    assert "got no content type" in caught.value.message
    excerpt = caught.value.body
    assert isinstance(excerpt, str) and excerpt.startswith("\ufffd\ufffd") and len(excerpt) == 200


def test_json_nested_past_the_stack_is_refused_not_crashed() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(APIResponseValidationError, match="nested too deeply"):
        response(deep).json()
    # A reasonable depth is fine.
    assert response(json.dumps([[[[1]]]]).encode()).json() == [[[[1]]]]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"content-type": "text/event-stream"}, "text/event-stream"),
        ({"content-type": "Text/Event-Stream; charset=utf-8"}, "text/event-stream"),
        ({"content-type": "  application/json ;charset=UTF-8"}, "application/json"),
        ({"content-type": ""}, ""),
        ({}, ""),
    ],
)
def test_media_type(headers: dict[str, str], expected: str) -> None:
    assert media_type(headers) == expected
