"""The request side every emulator endpoint shares: context, authentication, JSON body, error answers.

Imports `_emulator_model`, `_emulator_state` and starlette only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._emulator_model import ApiFailure, SessionRecord, mask_secret
from ._emulator_state import EmulatorState

_BETA = "chatkit_beta=v1"
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


@dataclass
class Ctx:
    request: Request
    request_id: str
    origin: str
    body: Any
    body_ok: bool


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def error_response(failure: ApiFailure) -> Response:
    return JSONResponse(failure.body(), status_code=failure.status, headers=failure.headers)


def check_api_key(ctx: Ctx, api_key: str) -> None:
    token = bearer(ctx.request)
    if token is None:
        raise ApiFailure(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
        )
    if token != api_key:
        raise ApiFailure(
            401,
            f"Incorrect API key provided: {mask_secret(token)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
            headers={"www-authenticate": 'Bearer realm="OpenAI API"'},
        )
    beta = ctx.request.headers.get("openai-beta", "")
    if _BETA not in [v.strip() for v in beta.split(",")]:
        raise ApiFailure(
            400,
            "You must provide the 'OpenAI-Beta' header to access the ChatKit API. "
            f"Please try again by setting the header 'OpenAI-Beta: {_BETA}'.",
            code="invalid_beta",
        )


def session_for_secret(state: EmulatorState, ctx: Ctx) -> SessionRecord:
    """Authenticate a client-secret call and count it against the session's rate limit."""
    token = bearer(ctx.request)
    headers = {"www-authenticate": 'Bearer realm="OpenAI API"'}
    with state.lock:
        now = state.now()
        session = state.sessions.get(state.by_secret.get(token or "", ""))
        if session is None or session.revoked:
            raise ApiFailure(401, "Invalid client secret provided.", code="invalid_api_key", headers=headers)
        if session.cancelled:
            raise ApiFailure(
                401,
                "The ChatKit session for this client secret was cancelled.",
                code="invalid_api_key",
                headers=headers,
            )
        if now >= session.expires_at:
            raise ApiFailure(401, "The client secret has expired.", code="invalid_api_key", headers=headers)
        window = [t for t in session.request_times if t > now - 60]
        if len(window) >= session.rate_limit:
            wait = max(1, math.ceil(window[0] + 60 - now))
            session.request_times = window
            raise ApiFailure(
                429,
                f"Rate limit reached for this ChatKit session: {session.rate_limit} requests per minute. "
                f"Please try again in {wait}s.",
                type="rate_limit_exceeded",
                code="rate_limit_exceeded",
                headers={"retry-after": str(wait)},
            )
        window.append(now)
        session.request_times = window
        return session


def json_body(ctx: Ctx) -> dict[str, Any]:
    if not ctx.body_ok:
        raise ApiFailure(
            400,
            "We could not parse the JSON body of your request. The ChatKit API expects a JSON payload.",
        )
    if not isinstance(ctx.body, dict):
        raise ApiFailure(400, "The request body must be a JSON object.")
    return ctx.body
