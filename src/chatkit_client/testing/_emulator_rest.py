"""The REST resources called with the API key: sessions (create, cancel) and the threads admin API.

Imports `_emulator_model`, `_emulator_validate`, `_emulator_state`, `_emulator_request` and starlette only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from ._emulator_model import (
    PAGE_SIZE,
    ApiFailure,
    SessionRecord,
    new_client_secret,
    new_id,
    not_found,
    paginate,
    rest_item,
    rest_thread,
)
from ._emulator_request import Ctx, check_api_key, json_body
from ._emulator_state import EmulatorState
from ._emulator_validate import SESSION_CREATE, resolve_session


class RestResources:
    """`/v1/chatkit/sessions...` and `/v1/chatkit/threads...`, answered from the shared state."""

    def __init__(self, state: EmulatorState, known_workflows: frozenset[str] | None) -> None:
        self._state = state
        self._known = known_workflows

    def create_session(self, ctx: Ctx) -> Response:
        check_api_key(ctx, self._state.api_key)
        body = json_body(ctx)
        SESSION_CREATE(body, "")
        workflow, configuration, seconds, rate = resolve_session(body)
        if self._known is not None and workflow["id"] not in self._known:
            raise ApiFailure(404, f"Workflow with id '{workflow['id']}' not found.")
        with self._state.lock:
            now = self._state.now()
            expires_at = math.floor(now) + seconds
            session = SessionRecord(
                id=new_id("cksess"),
                user=body["user"],
                client_secret=new_client_secret(expires_at),
                created_at=now,
                expires_at=expires_at,
                workflow=workflow,
                configuration=configuration,
                rate_limit=rate,
            )
            self._state.sessions[session.id] = session
            self._state.by_secret[session.client_secret] = session.id
            return JSONResponse(session.payload(now))

    def cancel_session(self, ctx: Ctx, session_id: str) -> Response:
        check_api_key(ctx, self._state.api_key)
        with self._state.lock:
            session = self._state.sessions.get(session_id)
            if session is None:
                raise not_found("Chatkit Session", session_id)
            session.cancelled = True
            return JSONResponse(session.payload(self._state.now()))

    def list_threads(self, ctx: Ctx) -> Response:
        check_api_key(ctx, self._state.api_key)
        query = ctx.request.query_params
        limit, order = _page_query(query)
        with self._state.lock:
            threads = sorted(self._state.threads.values(), key=lambda t: t.seq)
            if query.get("user") is not None:
                threads = [t for t in threads if t.user == query["user"]]
            page, has_more = paginate(
                threads,
                lambda t: t.id,
                order=order,
                after=query.get("after"),
                before=query.get("before"),
                limit=limit,
            )
            return JSONResponse(_list_envelope([rest_thread(t) for t in page], has_more))

    def thread(self, ctx: Ctx, thread_id: str, *, delete: bool) -> Response:
        check_api_key(ctx, self._state.api_key)
        with self._state.lock:
            thread = self._state.threads.get(thread_id)
            if thread is None:
                raise not_found("Thread", thread_id)
            if delete:
                del self._state.threads[thread_id]
                return JSONResponse({"id": thread_id, "object": "chatkit.thread.deleted", "deleted": True})
            return JSONResponse(rest_thread(thread))

    def list_items(self, ctx: Ctx, thread_id: str) -> Response:
        check_api_key(ctx, self._state.api_key)
        query = ctx.request.query_params
        limit, order = _page_query(query)
        with self._state.lock:
            thread = self._state.threads.get(thread_id)
            if thread is None:
                raise not_found("Thread", thread_id)
            page, has_more = paginate(
                thread.items,
                lambda i: i.id,
                order=order,
                after=query.get("after"),
                before=query.get("before"),
                limit=limit,
            )
            return JSONResponse(_list_envelope([rest_item(thread.id, i) for i in page], has_more))


def _page_query(query: Mapping[str, str]) -> tuple[int, str]:
    raw_limit = query.get("limit")
    limit = PAGE_SIZE
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiFailure(
                400,
                f"Invalid 'limit': expected an integer, got '{raw_limit}'.",
                param="limit",
                code="invalid_type",
            ) from None
        if not 1 <= limit <= 100:
            raise ApiFailure(
                400,
                f"Invalid 'limit': expected a value between 1 and 100, got {limit}.",
                param="limit",
                code="invalid_value",
            )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiFailure(
            400,
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return limit, order


def _list_envelope(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
