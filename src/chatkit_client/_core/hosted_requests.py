"""Bodies and queries for OpenAI's hosted REST endpoints, checked before anything is sent.

Written exactly as the API documents them (docs/protocol.md §8.2-8.3): only what the caller gave, no nulls,
no empty objects, and the ranges the API enforces are enforced here first, with messages that name
the field and what is allowed.

Imports: stdlib, types, _exceptions, and core: endpoints, files, parsing, requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from .._exceptions import InvalidInputError
from .requests import ApiResponse, RequestSpec

if TYPE_CHECKING:
    from ..types import ChatSession, UploadedFile
    from .endpoints import Endpoints
    from .files import PreparedFile

__all__ = [
    "build_session_body",
    "list_query",
    "normalize_workflow",
    "path_id",
    "read_session",
    "read_uploaded_file",
    "session_spec",
    "upload_file_spec",
]

_SECONDS_RANGE = (1, 600)
_MAX_FILE_SIZE_RANGE = (1, 512)
_LIMIT_RANGE = (1, 100)
_NOT_IN_IDS = frozenset("/?#\\")

_CONFIG_KEYS: dict[str, frozenset[str]] = {
    "automatic_thread_titling": frozenset({"enabled"}),
    "file_upload": frozenset({"enabled", "max_file_size", "max_files"}),
    "history": frozenset({"enabled", "recent_threads"}),
}
_WORKFLOW_KEYS = frozenset({"id", "version", "state_variables", "tracing"})


def path_id(value: object, field: str) -> str:
    """An id that goes into a URL path, refused unless it is one path segment, then percent-encoded.

    `.` and `..` would be resolved as path steps (`threads.delete("..")` deleting at `/v1/chatkit`),
    and `/`, `?`, `#`, `\\` or whitespace would change which URL is called.

    >>> path_id("cthr_123", "thread_id")
    'cthr_123'
    """
    if not isinstance(value, str) or not value:
        raise InvalidInputError(field, f"must be a non-empty id string, got {value!r}")
    if value in (".", ".."):
        raise InvalidInputError(field, f"{value!r} is not an id (it would be read as a path step)")
    bad = next((c for c in value if c in _NOT_IN_IDS or c.isspace() or not c.isprintable()), None)
    if bad is not None:
        raise InvalidInputError(
            field, f"must be a single id such as 'cthr_abc123', without {bad!r}, slashes, ?, # or whitespace"
        )
    return quote(value, safe="")


def _require_int(value: object, field: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(field, f"must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f"{low} to {high}" if high is not None else f"at least {low}"
        raise InvalidInputError(field, f"must be {allowed}, got {value}")
    return value


def _require_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(field, f"must be true or false, got {value!r}")
    return value


def _require_mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(field, f"must be a dict, got {type(value).__name__}")
    return value


def _reject_unknown(value: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidInputError(
            f"{field}.{unknown[0]}", f"is not a known setting; allowed keys are {', '.join(sorted(allowed))}"
        )


def normalize_workflow(workflow: object, field: str = "workflow") -> dict[str, Any]:
    """A workflow id string or `WorkflowParam` dict, checked, as the API's `workflow` object."""
    if isinstance(workflow, str):
        workflow = {"id": workflow}
    mapping = _require_mapping(workflow, field)
    _reject_unknown(mapping, _WORKFLOW_KEYS, field)
    workflow_id = mapping.get("id")
    if not isinstance(workflow_id, str) or not workflow_id.strip():
        raise InvalidInputError(f"{field}.id", "must be a non-empty Agent Builder workflow id such as 'wf_...'")
    body: dict[str, Any] = {"id": workflow_id}
    version = mapping.get("version")
    if version is not None:
        if not isinstance(version, str) or not version.strip():
            raise InvalidInputError(f"{field}.version", "must be a non-empty version string, or omitted")
        if version.strip().lower() == "latest":
            raise InvalidInputError(
                f"{field}.version",
                "'latest' is accepted by session creation but then breaks the conversation; "
                "omit the version to use the latest deployed one",
            )
        body["version"] = version
    state = mapping.get("state_variables")
    if state is not None:
        state_map = _require_mapping(state, f"{field}.state_variables")
        checked: dict[str, Any] = {}
        for key, value in state_map.items():
            if not isinstance(key, str) or not key or len(key) > 64:
                raise InvalidInputError(
                    f"{field}.state_variables", f"keys must be strings of 1 to 64 characters, got {key!r}"
                )
            if not isinstance(value, str | bool | int | float) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise InvalidInputError(
                    f"{field}.state_variables.{key}",
                    f"values must be strings, booleans or finite numbers, got {type(value).__name__}",
                )
            checked[key] = value
        if checked:
            body["state_variables"] = checked
    tracing = mapping.get("tracing")
    if tracing is not None:
        tracing_map = _require_mapping(tracing, f"{field}.tracing")
        _reject_unknown(tracing_map, frozenset({"enabled"}), f"{field}.tracing")
        if "enabled" in tracing_map and tracing_map["enabled"] is not None:
            body["tracing"] = {"enabled": _require_bool(tracing_map["enabled"], f"{field}.tracing.enabled")}
    return body


def _configuration(config: object) -> dict[str, Any]:
    mapping = _require_mapping(config, "chatkit_configuration")
    _reject_unknown(mapping, frozenset(_CONFIG_KEYS), "chatkit_configuration")
    body: dict[str, Any] = {}
    for section, allowed in _CONFIG_KEYS.items():
        raw = mapping.get(section)
        if raw is None:
            continue
        field = f"chatkit_configuration.{section}"
        values = _require_mapping(raw, field)
        _reject_unknown(values, allowed, field)
        out: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            name = f"{field}.{key}"
            if key == "enabled":
                out[key] = _require_bool(value, name)
            elif key == "max_file_size":
                out[key] = _require_int(value, name, *_MAX_FILE_SIZE_RANGE)
            else:  # max_files, recent_threads
                out[key] = _require_int(value, name, 1)
        if out:
            body[section] = out
    return body


def _expires_after(value: object) -> dict[str, Any]:
    mapping = _require_mapping(value, "expires_after")
    _reject_unknown(mapping, frozenset({"anchor", "seconds"}), "expires_after")
    anchor = mapping.get("anchor", "created_at")
    if anchor != "created_at":
        raise InvalidInputError(
            "expires_after.anchor",
            f"the API accepts only 'created_at', got {anchor!r} "
            "(the Ruby gem's 'creation' and 'last_activity' are rejected by the API)",
        )
    if "seconds" not in mapping:
        raise InvalidInputError("expires_after.seconds", "is required: a lifetime of 1 to 600 seconds")
    seconds = _require_int(mapping["seconds"], "expires_after.seconds", *_SECONDS_RANGE)
    return {"anchor": "created_at", "seconds": seconds}


def build_session_body(
    *,
    user: object,
    workflow: object,
    chatkit_configuration: object = None,
    expires_after: object = None,
    rate_limits: object = None,
) -> dict[str, Any]:
    """The JSON body of `POST /chatkit/sessions`, or `InvalidInputError` naming what is wrong.

    >>> build_session_body(user="u1", workflow="wf_123")
    {'user': 'u1', 'workflow': {'id': 'wf_123'}}
    """
    if not isinstance(user, str) or not user.strip():
        raise InvalidInputError("user", "must be a non-empty end-user id string (it scopes which threads are visible)")
    body: dict[str, Any] = {"user": user, "workflow": normalize_workflow(workflow)}
    if chatkit_configuration is not None:
        config = _configuration(chatkit_configuration)
        if config:
            body["chatkit_configuration"] = config
    if expires_after is not None:
        body["expires_after"] = _expires_after(expires_after)
    if rate_limits is not None:
        limits = _require_mapping(rate_limits, "rate_limits")
        _reject_unknown(limits, frozenset({"max_requests_per_1_minute"}), "rate_limits")
        per_minute = limits.get("max_requests_per_1_minute")
        if per_minute is not None:
            body["rate_limits"] = {
                "max_requests_per_1_minute": _require_int(per_minute, "rate_limits.max_requests_per_1_minute", 1)
            }
    return body


def list_query(
    *,
    limit: object = None,
    order: object = None,
    after: object = None,
    before: object = None,
    user: object = None,
) -> dict[str, str | int]:
    """Query parameters of the REST list endpoints, omitting what was not given."""
    query: dict[str, str | int] = {}
    if limit is not None:
        query["limit"] = _require_int(limit, "limit", *_LIMIT_RANGE)
    if order is not None:
        if order not in ("asc", "desc"):
            raise InvalidInputError("order", f"must be 'asc' or 'desc', got {order!r}")
        query["order"] = str(order)
    for name, value in (("after", after), ("before", before), ("user", user)):
        if value is not None:
            if not isinstance(value, str) or not value:
                raise InvalidInputError(name, f"must be a non-empty string, got {value!r}")
            query[name] = value
    return query


# -- the two hosted calls a Chat makes itself: each is one request built here and one answer read here ----------


def session_spec(endpoints: Endpoints, params: Mapping[str, Any]) -> RequestSpec:
    """`POST /chatkit/sessions` with the API key, for `params` as `build_session_body` takes them (checked first)."""
    return endpoints.api("POST", "/chatkit/sessions", json=build_session_body(**params))


def read_session(response: ApiResponse) -> tuple[ChatSession, str | None]:
    """The session created, with the answer's `Date` header: a Chat judges expiry against the server's clock."""
    # Models are imported on first use: a client that never creates a session never loads pydantic for it.
    from ..types import ChatSession
    from .parsing import parse_model

    return parse_model(ChatSession, response), response.headers.get("date")


def upload_file_spec(
    endpoints: Endpoints, client_secret: str, prepared: PreparedFile, handle: IO[bytes]
) -> RequestSpec:
    """`POST /chatkit/files` of `prepared` (read from `handle`, opened by the caller) with a session's secret."""
    return endpoints.upload(client_secret, prepared.filename, handle, prepared.mime_type)


def read_uploaded_file(response: ApiResponse) -> UploadedFile:
    from ..types import UploadedFile
    from .parsing import parse_model

    return parse_model(UploadedFile, response)
