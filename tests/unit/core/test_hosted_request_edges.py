"""The hosted REST builders at their edges: what is dropped, what is kept as given, every range limit on both
sides, and path ids (tests/unit/test_hosted_requests.py holds the main bodies and refusals)."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_client._core.hosted_requests import build_session_body, list_query, normalize_workflow, path_id
from chatkit_client._exceptions import InvalidInputError


def refused(field: str, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInputError) as caught:
        call(*args, **kwargs)
    assert caught.value.field == field, caught.value.message
    return caught.value.message


def body(**kwargs: Any) -> dict[str, Any]:
    return build_session_body(**{"user": "u1", "workflow": "wf_1", **kwargs})


# -- session bodies -------------------------------------------------------------------------------------


def test_sections_with_nothing_but_nones_leave_no_trace() -> None:
    assert body(
        chatkit_configuration={"history": {"enabled": None}, "file_upload": None, "automatic_thread_titling": {}},
        rate_limits={"max_requests_per_1_minute": None},
    ) == {"user": "u1", "workflow": {"id": "wf_1"}}
    assert body(workflow={"id": "wf_1", "state_variables": {}, "tracing": {"enabled": None}, "version": None}) == {
        "user": "u1",
        "workflow": {"id": "wf_1"},
    }


def test_expires_after_defaults_its_anchor_and_both_ends_of_the_range_pass() -> None:
    assert body(expires_after={"seconds": 1})["expires_after"] == {"anchor": "created_at", "seconds": 1}
    assert body(expires_after={"anchor": "created_at", "seconds": 600})["expires_after"]["seconds"] == 600
    assert "601" in refused("expires_after.seconds", body, expires_after={"seconds": 601})
    assert "allowed keys are anchor, seconds" in refused("expires_after.ttl", body, expires_after={"seconds": 1,
                                                                                                      "ttl": 5})
    assert "must be a dict, got int" in refused("expires_after", body, expires_after=600)


@pytest.mark.parametrize(
    ("section", "values", "field", "hint"),
    [
        ("file_upload", {"max_file_size": 0}, "max_file_size", "1 to 512, got 0"),
        ("file_upload", {"max_file_size": True}, "max_file_size", "integer, got True"),
        ("file_upload", {"max_file_size": 1.5}, "max_file_size", "integer, got 1.5"),
        ("file_upload", {"max_files": "3"}, "max_files", "integer"),
        ("history", {"recent_threads": -1}, "recent_threads", "at least 1"),
        ("history", {"enabled": 1}, "enabled", "true or false, got 1"),
        ("automatic_thread_titling", {"enabled": "no"}, "enabled", "true or false"),
        ("automatic_thread_titling", {"enabled": True, "model": "x"}, "model", "allowed keys are enabled"),
    ],
)
def test_configuration_values_name_their_full_path(section: str, values: dict[str, Any], field: str, hint: str) -> None:
    message = refused(
        f"chatkit_configuration.{section}.{field}", body, chatkit_configuration={section: values}
    )
    assert hint in message


def test_configuration_limits_pass_at_both_ends() -> None:
    config = body(
        chatkit_configuration={
            "history": {"recent_threads": 1, "enabled": False},
            "file_upload": {"max_file_size": 1, "max_files": 1, "enabled": True},
        }
    )["chatkit_configuration"]
    # Sections in the API's order, values as given.
    assert list(config) == ["file_upload", "history"]
    assert config["file_upload"] == {"max_file_size": 1, "max_files": 1, "enabled": True}
    assert config["history"] == {"recent_threads": 1, "enabled": False}
    assert "must be a dict, got list" in refused("chatkit_configuration.history", body,
                                                 chatkit_configuration={"history": [True]})
    assert "must be a dict, got str" in refused("chatkit_configuration", body, chatkit_configuration="on")


@pytest.mark.parametrize("user", ["", "   ", "\t", 5, None, b"u"])
def test_a_user_must_be_a_real_id(user: object) -> None:
    assert "scopes which threads are visible" in refused("user", build_session_body, user=user, workflow="wf_1")


def test_rate_limits_keep_only_what_was_given() -> None:
    assert body(rate_limits={"max_requests_per_1_minute": 1})["rate_limits"] == {"max_requests_per_1_minute": 1}
    refused("rate_limits.per_hour", body, rate_limits={"per_hour": 5})
    assert "integer" in refused("rate_limits.max_requests_per_1_minute", body,
                                rate_limits={"max_requests_per_1_minute": "10"})


# -- workflows --------------------------------------------------------------------------------------------


def test_a_workflow_keeps_state_variables_of_every_allowed_type() -> None:
    state = {"plan": "pro", "beta": True, "seats": 3, "ratio": 0.5, "k" * 64: ""}
    assert normalize_workflow({"id": "wf_1", "version": "7", "state_variables": state}) == {
        "id": "wf_1",
        "version": "7",
        "state_variables": state,
    }


@pytest.mark.parametrize(
    ("workflow", "field", "hint"),
    [
        (5, "workflow", "must be a dict, got int"),
        (None, "workflow", "must be a dict, got NoneType"),
        ("   ", "workflow.id", "non-empty Agent Builder workflow id"),
        ({"id": 5}, "workflow.id", "wf_"),
        ({"id": "wf_1", "version": ""}, "workflow.version", "non-empty version string"),
        ({"id": "wf_1", "version": 3}, "workflow.version", "non-empty version string"),
        ({"id": "wf_1", "version": " LATEST "}, "workflow.version", "breaks the conversation"),
        ({"id": "wf_1", "state_variables": {"x": float("nan")}}, "workflow.state_variables.x", "finite numbers"),
        ({"id": "wf_1", "state_variables": {"x": None}}, "workflow.state_variables.x", "got NoneType"),
        ({"id": "wf_1", "state_variables": {"x": [1]}}, "workflow.state_variables.x", "got list"),
        ({"id": "wf_1", "state_variables": {"": 1}}, "workflow.state_variables", "1 to 64 characters"),
        ({"id": "wf_1", "state_variables": {3: 1}}, "workflow.state_variables", "got 3"),
        ({"id": "wf_1", "state_variables": "plan=pro"}, "workflow.state_variables", "must be a dict"),
        ({"id": "wf_1", "tracing": True}, "workflow.tracing", "must be a dict, got bool"),
        ({"id": "wf_1", "tracing": {"enabled": "yes"}}, "workflow.tracing.enabled", "true or false"),
        ({"id": "wf_1", "tracing": {"sample": 1}}, "workflow.tracing.sample", "allowed keys are enabled"),
    ],
)
def test_workflow_refusals(workflow: object, field: str, hint: str) -> None:
    assert hint in refused(field, normalize_workflow, workflow)


def test_normalize_workflow_names_the_field_it_is_given() -> None:
    refused("params.workflow.id", normalize_workflow, {"id": ""}, "params.workflow")


# -- list queries and path ids ----------------------------------------------------------------------------


def test_list_query_limits_at_both_ends_and_every_cursor() -> None:
    assert list_query(limit=1, order="desc", before="cthr_9") == {"limit": 1, "order": "desc", "before": "cthr_9"}
    assert list_query(limit=100) == {"limit": 100}
    for limit in (0, True, "10", 1.0):
        refused("limit", list_query, limit=limit)
    for name in ("after", "before", "user"):
        assert "non-empty string" in refused(name, list_query, **{name: ""})
        refused(name, list_query, **{name: 5})


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("cthr_abc123", "cthr_abc123"),
        ("a:b@c+d", "a%3Ab%40c%2Bd"),
        ("100%", "100%25"),
        ("x~y-z.w_", "x~y-z.w_"),
        ("...", "..."),
        ("日本", "%E6%97%A5%E6%9C%AC"),
    ],
)
def test_path_ids_are_percent_encoded_as_one_segment(value: str, encoded: str) -> None:
    assert path_id(value, "thread_id") == encoded


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (".", "path step"),
        ("..", "path step"),
        ("a/b", "without '/'"),
        ("a?b=1", "without '?'"),
        ("a#frag", "without '#'"),
        ("a\\b", "without '\\\\'"),
        ("a b", "without ' '"),
        ("a\tb", "without '\\t'"),
        ("a\u200bb", "without '\\u200b'"),  # invisible: not printable
        ("a\x00", "without '\\x00'"),
        (5, "non-empty id string, got 5"),
        (None, "got None"),
    ],
)
def test_path_ids_that_would_change_the_url_are_refused(value: object, hint: str) -> None:
    assert hint in refused("session_id", path_id, value, "session_id")
