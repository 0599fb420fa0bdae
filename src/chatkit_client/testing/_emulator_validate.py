"""Request validation for the hosted-API emulator, with OpenAI-style messages, `param` and `code`.

A validator is a function `(value, param) -> None` that raises `ApiFailure`. Validators compose, so each
request schema below reads like the tables of docs/protocol.md §8.2-8.4.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._emulator_model import ApiFailure

Validator = Callable[[Any, str], None]

_ABSENT = object()


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _bad_type(param: str, expected: str, value: object) -> ApiFailure:
    return ApiFailure(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def string(*, min_length: int = 0) -> Validator:
    def check(value: Any, param: str) -> None:
        if not isinstance(value, str):
            raise _bad_type(param, "a string", value)
        if len(value) < min_length:
            raise ApiFailure(
                400,
                f"Invalid '{param}': empty string. Expected a string with minimum length {min_length}, "
                "but got an empty string instead.",
                param=param,
                code="empty_string",
            )

    return check


def boolean(value: Any, param: str) -> None:
    if not isinstance(value, bool):
        raise _bad_type(param, "a boolean", value)


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Validator:
    def check(value: Any, param: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_type(param, "an integer", value)
        if minimum is not None and value < minimum:
            raise ApiFailure(
                400,
                f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
                f"but got {value} instead.",
                param=param,
                code="integer_below_min_value",
            )
        if maximum is not None and value > maximum:
            raise ApiFailure(
                400,
                f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, "
                f"but got {value} instead.",
                param=param,
                code="integer_above_max_value",
            )

    return check


def one_of(*allowed: str) -> Validator:
    def check(value: Any, param: str) -> None:
        if not isinstance(value, str):
            raise _bad_type(param, "a string", value)
        if value not in allowed:
            supported = ", ".join(f"'{a}'" for a in allowed)
            raise ApiFailure(
                400,
                f"Invalid value for '{param}': '{value}'. Supported values are: {supported}.",
                param=param,
                code="invalid_value",
            )

    return check


def anything(value: Any, param: str) -> None:
    return None


def array(of: Validator) -> Validator:
    def check(value: Any, param: str) -> None:
        if not isinstance(value, list):
            raise _bad_type(param, "an array", value)
        for index, element in enumerate(value):
            of(element, f"{param}[{index}]")

    return check


def nullable(inner: Validator) -> Validator:
    def check(value: Any, param: str) -> None:
        if value is not None:
            inner(value, param)

    return check


class Field:
    def __init__(self, validator: Validator, *, required: bool) -> None:
        self.validator = validator
        self.required = required


def req(validator: Validator) -> Field:
    return Field(validator, required=True)


def opt(validator: Validator) -> Field:
    # Optional fields also accept an explicit null, as the OpenAI API generally does.
    return Field(nullable(validator), required=False)


def obj(fields: Mapping[str, Field], *, strict: bool = True) -> Validator:
    """An object schema; `strict` rejects unknown keys the way the OpenAI API does."""

    def check(value: Any, param: str) -> None:
        if not isinstance(value, dict):
            raise _bad_type(param, "an object", value)
        prefix = f"{param}." if param else ""
        if strict:
            for key in value:
                if key not in fields:
                    raise ApiFailure(
                        400,
                        f"Unknown parameter: '{prefix}{key}'.",
                        param=f"{prefix}{key}",
                        code="unknown_parameter",
                    )
        for key, spec in fields.items():
            item = value.get(key, _ABSENT)
            if item is _ABSENT:
                if spec.required:
                    raise ApiFailure(
                        400,
                        f"Missing required parameter: '{prefix}{key}'.",
                        param=f"{prefix}{key}",
                        code="missing_required_parameter",
                    )
                continue
            spec.validator(item, f"{prefix}{key}")

    return check


def _state_variables(value: Any, param: str) -> None:
    if not isinstance(value, dict):
        raise _bad_type(param, "an object", value)
    for key, item in value.items():
        if len(key) > 64:
            raise ApiFailure(
                400,
                f"Invalid '{param}': key '{key[:64]}...' is longer than 64 characters.",
                param=param,
                code="invalid_value",
            )
        if not isinstance(item, str | bool | int | float):
            raise _bad_type(f"{param}.{key}", "a string, boolean or number", item)


_enabled_only = obj({"enabled": opt(boolean)})

SESSION_CREATE = obj(
    {
        "user": req(string(min_length=1)),
        "workflow": req(
            obj(
                {
                    "id": req(string(min_length=1)),
                    "version": opt(string()),
                    "state_variables": opt(_state_variables),
                    "tracing": opt(_enabled_only),
                }
            )
        ),
        "chatkit_configuration": opt(
            obj(
                {
                    "automatic_thread_titling": opt(_enabled_only),
                    "file_upload": opt(
                        obj(
                            {
                                "enabled": opt(boolean),
                                "max_file_size": opt(integer(minimum=1, maximum=512)),
                                "max_files": opt(integer(minimum=1)),
                            }
                        )
                    ),
                    "history": opt(obj({"enabled": opt(boolean), "recent_threads": opt(integer(minimum=1))})),
                }
            )
        ),
        "expires_after": opt(
            obj({"anchor": req(one_of("created_at")), "seconds": req(integer(minimum=1, maximum=600))})
        ),
        "rate_limits": opt(obj({"max_requests_per_1_minute": opt(integer(minimum=1))})),
    }
)


def resolve_session(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """Apply the documented defaults to a validated body: (workflow, configuration, seconds, rate limit)."""

    def sub(obj_: Any, key: str) -> dict[str, Any]:
        value = obj_.get(key) if isinstance(obj_, dict) else None
        return value if isinstance(value, dict) else {}

    def pick(mapping: dict[str, Any], key: str, default: Any) -> Any:
        value = mapping.get(key)
        return default if value is None else value

    wf = body["workflow"]
    workflow = {
        "id": wf["id"],
        "version": wf.get("version"),
        "state_variables": wf.get("state_variables"),
        "tracing": {"enabled": pick(sub(wf, "tracing"), "enabled", True)},
    }
    cfg = sub(body, "chatkit_configuration")
    upload = sub(cfg, "file_upload")
    history = sub(cfg, "history")
    configuration = {
        "automatic_thread_titling": {"enabled": pick(sub(cfg, "automatic_thread_titling"), "enabled", True)},
        "file_upload": {
            "enabled": pick(upload, "enabled", False),
            "max_file_size": pick(upload, "max_file_size", 512),
            "max_files": pick(upload, "max_files", 10),
        },
        "history": {
            "enabled": pick(history, "enabled", True),
            "recent_threads": history.get("recent_threads"),
        },
    }
    seconds = int(pick(sub(body, "expires_after"), "seconds", 600))
    rate = int(pick(sub(body, "rate_limits"), "max_requests_per_1_minute", 10))
    return workflow, configuration, seconds, rate


# ---------------------------------------------------------------------------------------------------------
# Conversation request params (ChatKit protocol); unknown keys are ignored like chatkit-python's models do.

_thread_id = req(string(min_length=1))

_content_part = obj(
    {"type": req(one_of("input_text", "input_tag")), "text": req(string()), "id": opt(string())}, strict=False
)

_user_input = obj(
    {
        "content": req(array(_content_part)),
        "attachments": req(array(string(min_length=1))),
        "quoted_text": opt(string()),
        "inference_options": req(
            obj(
                {"tool_choice": opt(obj({"id": req(string())}, strict=False)), "model": opt(string())},
                strict=False,
            )
        ),
    },
    strict=False,
)

_page_params: dict[str, Field] = {
    "limit": opt(integer(minimum=1, maximum=100)),
    "order": opt(one_of("asc", "desc")),
    "after": opt(string()),
}

CONVERSATION_PARAMS: dict[str, Validator] = {
    "threads.create": obj({"input": req(_user_input)}, strict=False),
    "threads.add_user_message": obj({"thread_id": _thread_id, "input": req(_user_input)}, strict=False),
    "threads.add_client_tool_output": obj({"thread_id": _thread_id, "result": req(anything)}, strict=False),
    "threads.retry_after_item": obj({"thread_id": _thread_id, "item_id": req(string(min_length=1))}, strict=False),
    "threads.custom_action": obj(
        {
            "thread_id": _thread_id,
            "item_id": opt(string(min_length=1)),
            "action": req(obj({"type": req(string(min_length=1)), "payload": opt(anything)}, strict=False)),
        },
        strict=False,
    ),
    "threads.get_by_id": obj({"thread_id": _thread_id}, strict=False),
    "threads.list": obj(_page_params, strict=False),
    "items.list": obj({"thread_id": _thread_id, **_page_params}, strict=False),
    "items.feedback": obj(
        {
            "thread_id": _thread_id,
            "item_ids": req(array(string(min_length=1))),
            "kind": req(one_of("positive", "negative")),
        },
        strict=False,
    ),
    "threads.update": obj({"thread_id": _thread_id, "title": req(string())}, strict=False),
    "threads.delete": obj({"thread_id": _thread_id}, strict=False),
}

STREAMING_TYPES = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.add_client_tool_output",
        "threads.retry_after_item",
        "threads.custom_action",
    }
)
