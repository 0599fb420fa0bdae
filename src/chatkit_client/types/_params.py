"""Request parameters, as TypedDicts: callers pass plain dicts and the type checker checks them."""

from __future__ import annotations

from typing import Literal, Required, TypeAlias, TypedDict

__all__ = [
    "AutomaticThreadTitlingParam",
    "ChatKitConfigurationParam",
    "ExpiresAfterParam",
    "FileUploadParam",
    "HistoryParam",
    "RateLimitsParam",
    "StateVariableValue",
    "TracingParam",
    "WorkflowParam",
]

StateVariableValue: TypeAlias = str | bool | int | float


class TracingParam(TypedDict, total=False):
    enabled: bool
    """Whether the workflow's runs are traced (the API's default is true)."""


class WorkflowParam(TypedDict, total=False):
    id: Required[str]
    """The Agent Builder workflow id, `wf_...`."""
    version: str
    """A deployed version; omit it for the latest (never send "latest": the conversation then fails)."""
    state_variables: dict[str, StateVariableValue]
    """Keys up to 64 characters; values are strings, booleans or numbers."""
    tracing: TracingParam


class AutomaticThreadTitlingParam(TypedDict, total=False):
    enabled: bool


class FileUploadParam(TypedDict, total=False):
    enabled: bool
    """Uploads are off unless this is true."""
    max_file_size: int
    """Megabytes, 1 to 512."""
    max_files: int
    """At least 1."""


class HistoryParam(TypedDict, total=False):
    enabled: bool
    recent_threads: int
    """At least 1; omit for no limit."""


class ChatKitConfigurationParam(TypedDict, total=False):
    automatic_thread_titling: AutomaticThreadTitlingParam
    file_upload: FileUploadParam
    history: HistoryParam


class ExpiresAfterParam(TypedDict):
    anchor: Literal["created_at"]
    """The only anchor the API accepts."""
    seconds: int
    """1 to 600."""


class RateLimitsParam(TypedDict, total=False):
    max_requests_per_1_minute: int
    """At least 1; the API's default is 10."""
