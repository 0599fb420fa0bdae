"""Session bodies are written exactly, and bad input is refused before any request, naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_client import ChatKitError, InvalidInputError
from chatkit_client._core.hosted_requests import build_session_body, list_query, path_id


def test_minimal_body_carries_only_what_was_given() -> None:
    assert build_session_body(user="u1", workflow="wf_1") == {"user": "u1", "workflow": {"id": "wf_1"}}


def test_full_body_is_exact_and_drops_nones_and_empty_objects() -> None:
    body = build_session_body(
        user="user_123",
        workflow={
            "id": "wf_x",
            "version": "3",
            "state_variables": {"plan": "pro", "n": 2},
            "tracing": {"enabled": False},
        },
        chatkit_configuration={
            "history": {"enabled": True, "recent_threads": 10},
            "file_upload": {"enabled": True, "max_file_size": 512, "max_files": 10},
            "automatic_thread_titling": {"enabled": None},
        },
        expires_after={"anchor": "created_at", "seconds": 600},
        rate_limits={"max_requests_per_1_minute": 100},
    )
    assert body == {
        "user": "user_123",
        "workflow": {
            "id": "wf_x",
            "version": "3",
            "state_variables": {"plan": "pro", "n": 2},
            "tracing": {"enabled": False},
        },
        "chatkit_configuration": {
            "history": {"enabled": True, "recent_threads": 10},
            "file_upload": {"enabled": True, "max_file_size": 512, "max_files": 10},
        },
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "rate_limits": {"max_requests_per_1_minute": 100},
    }


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"user": ""}, "user", "non-empty"),
    ({"user": None}, "user", "non-empty"),
    ({"workflow": ""}, "workflow.id", "wf_"),
    ({"workflow": {"version": "1"}}, "workflow.id", "wf_"),
    ({"workflow": {"id": "wf_1", "version": "latest"}}, "workflow.version", "omit the version"),
    ({"workflow": {"id": "wf_1", "state_variables": {"a": {"nested": 1}}}}, "workflow.state_variables.a", "strings"),
    ({"workflow": {"id": "wf_1", "state_variables": {"k" * 65: 1}}}, "workflow.state_variables", "64"),
    ({"workflow": {"id": "wf_1", "colour": "red"}}, "workflow.colour", "allowed keys"),
    ({"expires_after": {"anchor": "creation", "seconds": 60}}, "expires_after.anchor", "created_at"),
    ({"expires_after": {"anchor": "last_activity", "seconds": 60}}, "expires_after.anchor", "created_at"),
    ({"expires_after": {"anchor": "created_at", "seconds": 3600}}, "expires_after.seconds", "1 to 600"),
    ({"expires_after": {"anchor": "created_at", "seconds": 0}}, "expires_after.seconds", "1 to 600"),
    ({"expires_after": {"anchor": "created_at", "seconds": True}}, "expires_after.seconds", "integer"),
    ({"expires_after": {"anchor": "created_at"}}, "expires_after.seconds", "required"),
    (
        {"chatkit_configuration": {"file_upload": {"max_file_size": 513}}},
        "chatkit_configuration.file_upload.max_file_size",
        "1 to 512",
    ),
    (
        {"chatkit_configuration": {"file_upload": {"max_files": 0}}},
        "chatkit_configuration.file_upload.max_files",
        "at least 1",
    ),
    (
        {"chatkit_configuration": {"file_upload": {"enabled": "yes"}}},
        "chatkit_configuration.file_upload.enabled",
        "true or false",
    ),
    (
        {"chatkit_configuration": {"history": {"recent_threads": 0}}},
        "chatkit_configuration.history.recent_threads",
        "at least 1",
    ),
    ({"chatkit_configuration": {"uploads": {}}}, "chatkit_configuration.uploads", "allowed keys"),
    ({"rate_limits": {"max_requests_per_1_minute": 0}}, "rate_limits.max_requests_per_1_minute", "at least 1"),
    ({"rate_limits": []}, "rate_limits", "must be a dict"),
]


@pytest.mark.parametrize(("override", "field", "hint"), BAD)
def test_bad_input_names_the_field_and_what_is_allowed(override: dict[str, Any], field: str, hint: str) -> None:
    kwargs: dict[str, Any] = {"user": "u1", "workflow": "wf_1", **override}
    with pytest.raises(InvalidInputError) as info:
        build_session_body(**kwargs)
    assert info.value.field == field
    assert hint in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ChatKitError)


def test_list_query_checks_ranges() -> None:
    assert list_query(limit=5, order="asc", after="cthr_1", user="u") == {
        "limit": 5,
        "order": "asc",
        "after": "cthr_1",
        "user": "u",
    }
    assert list_query() == {}
    with pytest.raises(InvalidInputError, match="limit: must be 1 to 100"):
        list_query(limit=101)
    with pytest.raises(InvalidInputError, match="order"):
        list_query(order="newest")


def test_path_ids_are_checked_and_encoded() -> None:
    assert path_id("cthr_é%2F", "thread_id") == "cthr_%C3%A9%252F"
    with pytest.raises(InvalidInputError, match="thread_id"):
        path_id("cthr_1/../x", "thread_id")
    with pytest.raises(InvalidInputError, match="thread_id"):
        path_id("", "thread_id")
