"""The `ChatSession` object returned by `POST /v1/chatkit/sessions` and by cancel."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from ._base import ChatKitModel

__all__ = [
    "ChatKitConfiguration",
    "ChatSession",
    "ChatSessionAutomaticThreadTitling",
    "ChatSessionFileUpload",
    "ChatSessionHistory",
    "ChatSessionRateLimits",
    "ChatSessionWorkflow",
    "ChatSessionWorkflowTracing",
]


class ChatSessionWorkflowTracing(ChatKitModel):
    enabled: bool | None = None


class ChatSessionWorkflow(ChatKitModel):
    """The Agent Builder workflow a session runs."""

    id: str
    version: str | None = None
    """The pinned version, or None for the latest deployed one."""
    state_variables: dict[str, Any] | None = None
    tracing: ChatSessionWorkflowTracing | None = None


class ChatSessionRateLimits(ChatKitModel):
    max_requests_per_1_minute: int | None = None


class ChatSessionAutomaticThreadTitling(ChatKitModel):
    enabled: bool | None = None


class ChatSessionFileUpload(ChatKitModel):
    enabled: bool | None = None
    max_file_size: int | None = None
    """The largest accepted upload, in megabytes."""
    max_files: int | None = None


class ChatSessionHistory(ChatKitModel):
    enabled: bool | None = None
    recent_threads: int | None = None


class ChatKitConfiguration(ChatKitModel):
    """The resolved ChatKit features of a session."""

    automatic_thread_titling: ChatSessionAutomaticThreadTitling | None = None
    file_upload: ChatSessionFileUpload | None = None
    history: ChatSessionHistory | None = None


class ChatSession(ChatKitModel):
    """A ChatKit session: the short-lived `client_secret` an end user talks with.

    The secret is left out of `repr()` and `str()`, so logging a session never leaks it; a validation
    error of a malformed session never quotes its input either.

    ```python
    session = client.sessions.create(user="user_1", workflow={"id": "wf_123"})
    if session.expired:
        session = client.sessions.create(user="user_1", workflow={"id": "wf_123"})
    ```
    """

    # pydantic would quote the offending input (the whole object, secret included) in its errors.
    model_config = ConfigDict(hide_input_in_errors=True)

    id: str
    """`cksess_...`"""
    client_secret: str = Field(repr=False)
    """`ek_...`: the bearer credential for the conversation and files endpoints. Never log it."""
    expires_at: int
    """When the secret stops working, in Unix seconds."""
    object: str | None = None
    status: str | None = None
    """`"active"`, `"expired"` or `"cancelled"`."""
    user: str | None = None
    workflow: ChatSessionWorkflow | None = None
    rate_limits: ChatSessionRateLimits | None = None
    max_requests_per_1_minute: int | None = None
    chatkit_configuration: ChatKitConfiguration | None = None

    @property
    def expires_at_datetime(self) -> datetime:
        """`expires_at` as a timezone-aware UTC datetime."""
        return datetime.fromtimestamp(self.expires_at, UTC)

    @property
    def expired(self) -> bool:
        """Whether `expires_at` has passed, by this machine's clock."""
        return time.time() >= self.expires_at
