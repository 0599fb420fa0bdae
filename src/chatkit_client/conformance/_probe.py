"""Sending the suite's requests as exact bytes and keeping what came back, over raw httpx2.

The suite does not send through `ChatKit`: a case has to see the status, the headers and every byte of
a body the client would reject, send bodies the client refuses to build, and keep going after a rule
is broken. Each answer is kept whole (up to a size limit), with the transport error that ended it, if
any, so several cases can judge the same exchange independently.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2

from ._model import Reproducer

__all__ = ["Exchange", "Probe", "is_secret_header", "mask_url", "reproducer"]

MAX_BODY = 4 * 1024 * 1024
"""An answer longer than this is cut (and the exchange marked truncated): servers are untrusted."""

_SECRET_HEADER = re.compile(r"auth|cookie|key|token|secret|password|session|signature|credential", re.IGNORECASE)


def is_secret_header(name: str) -> bool:
    """Whether a header's value is masked in reproducers: anything that looks like a credential."""
    return bool(_SECRET_HEADER.search(name))


def mask_url(url: str) -> str:
    """`url` with any password and the values of credential-looking query parameters replaced by `***`.

    >>> mask_url("https://u:pw@h/up?X-Amz-Signature=abc&part=1")
    'https://u:***@h/up?X-Amz-Signature=***&part=1'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, _ = userinfo.partition(":")
        netloc = f"{user}{sep}{'***' if sep else ''}@{host}"
    query = "&".join(
        f"{name}={'***' if is_secret_header(name) else value}" if sep else name
        for name, sep, value in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass
class Exchange:
    """One request and what came back: status, content type, body bytes, and how the body ended."""

    method: str
    url: str
    request_type: str
    body: bytes
    headers: Mapping[str, str]
    status: int | None = None
    content_type: str = ""
    content: bytes = b""
    error: str | None = None
    """Why the answer did not end cleanly (connection dropped, timeout), or None."""
    truncated: bool = False
    seconds: float = 0.0
    multipart: tuple[str, str] | None = None
    """(filename, MIME type) of an upload's single multipart part `file`."""

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or raises ValueError."""
        return json.loads(self.content)

    def describe_status(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        shown = self.media_type or "no content type"
        return f"{self.status} {shown}"

    def excerpt(self, limit: int = 160) -> str:
        text = self.content[:limit].decode("utf-8", "replace")
        text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
        return text + ("…" if len(self.content) > limit else "")


def reproducer(exchange: Exchange) -> Reproducer:
    """A `curl` command sending `exchange`'s request again; credential-like header values are masked."""
    parts = ["curl", "-sS", "-N", "-X", exchange.method, shlex.quote(mask_url(exchange.url))]
    for name, value in exchange.headers.items():
        if name.lower() == "content-type" and exchange.multipart is not None:
            continue
        shown = "***" if is_secret_header(name) else value
        parts += ["-H", shlex.quote(f"{name}: {shown}")]
    if exchange.multipart is not None:
        filename, mime_type = exchange.multipart
        parts += ["-F", shlex.quote(f"file=@{filename};type={mime_type}")]
        body = f"(multipart/form-data: a field `file` holding {len(exchange.body)} bytes, {filename})"
    else:
        body = exchange.body.decode("utf-8", "replace")
        parts += ["--data-binary", shlex.quote(body)]
    return Reproducer(request_type=exchange.request_type, body=body, curl=" ".join(parts))


class Probe:
    """Posts protocol requests to one ChatKit endpoint with the given headers.

    >>> probe = Probe("http://127.0.0.1:8000/chatkit", {"Authorization": "Bearer t"})  # doctest: +SKIP
    >>> probe.post({"type": "threads.list", "params": {}}).status  # doctest: +SKIP
    200
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
        client: httpx2.Client | None = None,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._owns_client = client is None
        self._client = client if client is not None else self._new_client()

    def _new_client(self) -> httpx2.Client:
        return httpx2.Client(timeout=httpx2.Timeout(self.timeout))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def post(self, body: Mapping[str, Any] | bytes, *, streaming: bool = False) -> Exchange:
        """Send one request (a dict is sent as compact JSON, bytes exactly as given) and read the whole answer."""
        if isinstance(body, bytes):
            raw, request_type = body, "(raw bytes)"
        else:
            raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            request_type = str(body.get("type", "(no type)"))
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if streaming else "application/json",
            **self.headers,
        }
        exchange = Exchange("POST", self.url, request_type, raw, headers)
        self._send(exchange, content=raw)
        return exchange

    def upload(
        self, url: str, method: str, extra_headers: Mapping[str, str], filename: str, data: bytes, mime_type: str
    ) -> Exchange:
        """Send a file as the multipart field `file`; the endpoint's own headers go only to its own origin."""
        same_origin = httpx2.URL(url).netloc == httpx2.URL(self.url).netloc
        headers = {**(self.headers if same_origin else {}), **extra_headers, "Accept": "application/json"}
        exchange = Exchange(method.upper(), url, "upload", data, headers, multipart=(filename, mime_type))
        self._send(exchange, files={"file": (filename, data, mime_type)})
        return exchange

    def _send(self, exchange: Exchange, **payload: Any) -> None:
        started = time.monotonic()
        deadline = started + self.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            with self._client.stream(
                exchange.method, exchange.url, headers=dict(exchange.headers), **payload
            ) as response:
                exchange.status = response.status_code
                exchange.content_type = response.headers.get("content-type", "")
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY:
                        exchange.truncated = True
                        exchange.error = f"the answer is longer than {MAX_BODY} bytes"
                        break
                    if time.monotonic() > deadline:
                        exchange.error = f"the answer did not end within {self.timeout:g} s"
                        break
        except httpx2.TimeoutException:
            exchange.error = f"timed out after {self.timeout:g} s"
        except httpx2.HTTPError as err:
            exchange.error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        exchange.content = b"".join(chunks)
        exchange.seconds = time.monotonic() - started
        if self._owns_client and (exchange.error is not None or (exchange.status or 0) >= 500):
            # A server may close the connection after a failure without saying so (uvicorn does when the app
            # raised); the next request must not be sent into that dead keep-alive connection.
            self._client.close()
            self._client = self._new_client()
