"""Fault injection: pending failures and delays, and the event stream that misbehaves on purpose.

Imports `_emulator_model`, `_emulator_request` and starlette only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Send

from ._emulator_model import ApiFailure
from ._emulator_request import SERVER_ERROR, error_response


@dataclass
class Fault:
    kind: str  # "fail" or "delay"
    path: str | None
    remaining: int
    status: int = 0
    body: object | None = None
    headers: Mapping[str, str] | None = None
    seconds: float = 0.0


@dataclass
class StreamFaults:
    drop_after_events: int | None
    byte_chunks: bool
    event_delay: float
    error_after_events: int | None
    error: dict[str, Any]
    remaining: int | None


def default_error(status: int) -> ApiFailure:
    if status == 429:
        return ApiFailure(
            429, "Rate limit reached for requests.", type="rate_limit_exceeded", code="rate_limit_exceeded"
        )
    if status >= 500:
        return ApiFailure(status, SERVER_ERROR, type="server_error")
    if status == 401:
        return ApiFailure(401, "Invalid authentication credentials.", code="invalid_api_key")
    return ApiFailure(status, f"Injected error {status}.")


class Faults:
    """The faults waiting for matching requests; the caller holds the emulator's lock."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.stream: StreamFaults | None = None

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def reset(self) -> None:
        self.pending.clear()
        self.stream = None

    def take(self, kind: str, path: str) -> Fault | None:
        suffix = path[3:] if path.startswith("/v1") else path
        for fault in self.pending:
            if fault.kind == kind and (fault.path is None or suffix.startswith(fault.path)):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    @staticmethod
    def injected(fault: Fault) -> Response:
        headers = dict(fault.headers or {})
        if fault.body is not None:
            return JSONResponse(fault.body, status_code=fault.status, headers=headers)
        failure = default_error(fault.status)
        failure.status = fault.status
        failure.headers.update(headers)
        return error_response(failure)

    def take_stream(self) -> StreamFaults | None:
        faults = self.stream
        if faults is None:
            return None
        if faults.remaining is not None:
            faults.remaining -= 1
            if faults.remaining <= 0:
                self.stream = None
        return faults


def sse_frame(event: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class EventStream(StreamingResponse):
    """A `text/event-stream` answer that can misbehave on purpose (see `set_stream_faults`)."""

    def __init__(self, frames: list[bytes], faults: StreamFaults | None) -> None:
        super().__init__(_no_body(), media_type="text/event-stream", headers={"cache-control": "no-cache"})
        self._frames = frames
        self._faults = faults

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        faults = self._faults
        drop_after = faults.drop_after_events if faults else None
        error_after = faults.error_after_events if faults else None
        for index in range(len(self._frames) + 1):
            if error_after is not None and index >= min(error_after, len(self._frames)):
                await self._write(send, sse_frame(faults.error if faults else {}))
                break
            if drop_after is not None and index >= min(drop_after, len(self._frames)):
                # Returning without the final body message makes uvicorn close the socket mid-body, so the
                # client sees an incomplete chunked response rather than a clean end.
                return
            if index == len(self._frames):
                break
            if index and faults and faults.event_delay:
                await asyncio.sleep(faults.event_delay)
            await self._write(send, self._frames[index])
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write(self, send: Send, frame: bytes) -> None:
        if self._faults is not None and self._faults.byte_chunks:
            for offset in range(len(frame)):
                await send({"type": "http.response.body", "body": frame[offset : offset + 1], "more_body": True})
        else:
            await send({"type": "http.response.body", "body": frame, "more_body": True})


async def _no_body() -> AsyncIterator[bytes]:
    empty: tuple[bytes, ...] = ()
    for chunk in empty:
        yield chunk
