"""`client.sessions`: create and cancel hosted ChatKit sessions (API key).

Imports: `_core` (request bodies, answer parsing), the types, and this shell's requester.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._core.hosted_requests import path_id, read_session, session_spec
from ..._core.parsing import parse_model
from ...types import ChatSession
from ...types._params import ChatKitConfigurationParam, ExpiresAfterParam, RateLimitsParam, WorkflowParam

if TYPE_CHECKING:
    from ..requester import AsyncRequester

__all__ = ["AsyncSessions"]


class AsyncSessions:
    """Hosted sessions: each gives an end user a short-lived `client_secret` for one workflow.

    >>> session = await client.sessions.create(user="user_123", workflow="wf_abc")  # doctest: +SKIP
    >>> session.client_secret  # doctest: +SKIP
    """

    def __init__(self, requester: AsyncRequester) -> None:
        self._requester = requester

    async def create(
        self,
        *,
        user: str,
        workflow: str | WorkflowParam,
        chatkit_configuration: ChatKitConfigurationParam | None = None,
        expires_after: ExpiresAfterParam | None = None,
        rate_limits: RateLimitsParam | None = None,
    ) -> ChatSession:
        """Create a session for `user` on `workflow` (an id or a `WorkflowParam` dict)."""
        params = {
            "user": user,
            "workflow": workflow,
            "chatkit_configuration": chatkit_configuration,
            "expires_after": expires_after,
            "rate_limits": rate_limits,
        }
        response = await self._requester.request(session_spec(self._requester.endpoints, params))
        session, _ = read_session(response)
        return session

    async def cancel(self, session_id: str) -> ChatSession:
        """Cancel a session: its client secret stops working at once."""
        path = f"/chatkit/sessions/{path_id(session_id, 'session_id')}/cancel"
        response = await self._requester.request(self._requester.endpoints.api("POST", path))
        return parse_model(ChatSession, response)
