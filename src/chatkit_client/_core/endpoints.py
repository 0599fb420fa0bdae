"""Where a client's requests go and how each is authenticated: every `RequestSpec` the shells send is built here.

Three kinds of request leave a client:

- hosted admin calls (`sessions`, `threads`), authenticated with the API key;
- hosted conversation and upload calls, authenticated with a session's client secret;
- protocol calls to a self-hosted server, with the caller's `headers` (a dict, or a callable asked afresh
  before every request so rotating tokens stay current).

Every header is checked before anything is sent (`checks.check_headers`), so a credential with a stray
newline is refused by the name of the argument it came from and never shown.

Imports: stdlib, _exceptions, _constants, _version, and core: checks, protocol, redact, requests, retry.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from typing import IO, Any, TypeAlias

from .._constants import BETA_HEADER
from .._exceptions import ConfigurationError, InvalidInputError
from .._version import __version__
from .checks import check_headers
from .protocol import check_strings, is_streaming
from .redact import redact_url
from .requests import FilePart, RequestSpec
from .retry import IDEMPOTENT_PROTOCOL_REQUESTS

__all__ = ["Endpoints", "HeadersSource"]

HeadersSource: TypeAlias = Mapping[str, str] | Callable[[], Mapping[str, str]]
"""Headers for a self-hosted server: a dict, or a callable returning one per request (for rotating tokens)."""

# Said when a self-hosted server_url answers 404 or 405: the URL points somewhere, just not at ChatKit.
NOT_FOUND_HINT = (
    "no ChatKit endpoint there; check the path of server_url (--server-url in the CLI), the URL your server's "
    "ChatKit handler is mounted at (for example http://localhost:8000/chatkit); for OpenAI's hosted API use "
    "api_key= (and base_url=) instead of server_url="
)
_HOSTED_NOT_FOUND_HINT = "no ChatKit endpoint there; check base_url, the API root (https://api.openai.com/v1)"

USER_AGENT = f"chatkit-client/{__version__} python/{platform.python_version()}"
# The argument each hosted header comes from, so a bad value is reported under the name the caller used.
_API_FIELDS = {"Authorization": "api_key", "OpenAI-Organization": "organization", "OpenAI-Project": "project"}


def _never_closed() -> None:
    return None


class Endpoints:
    """A client's request builders: pure, so the same object serves `ChatKit` and `AsyncChatKit`.

    `check_open` is called before each request is built; the client passes one that refuses a closed client.

    >>> endpoints = Endpoints(server_url="http://localhost:8000/chatkit", headers={"Authorization": "Bearer t"})
    >>> spec = endpoints.protocol({"type": "threads.get_by_id", "params": {"thread_id": "thr_1"}}, None)
    >>> spec.method, spec.url, spec.headers["Accept"], spec.idempotent
    ('POST', 'http://localhost:8000/chatkit', 'application/json', True)
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.openai.com/v1",
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        server_url: str | None = None,
        headers: HeadersSource | None = None,
        upload_url: str | None = None,
        check_open: Callable[[], None] = _never_closed,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.organization = organization
        self.project = project
        self.default_headers = dict(default_headers or {})
        self.server_url = server_url
        self.headers_source = headers
        self.upload_url = upload_url
        self._check_open = check_open

    def require_hosted(self, what: str) -> None:
        """Refuse a hosted-only call on a client that talks to a self-hosted server."""
        if self.server_url is not None:
            raise ConfigurationError(
                f"{what} is part of OpenAI's hosted ChatKit API, but this client talks to the self-hosted server at "
                f"{redact_url(self.server_url)}; use client.chat() for conversations and thread operations instead"
            )

    def common_headers(self) -> dict[str, str]:
        return {"User-Agent": USER_AGENT, **self.default_headers}

    def api_headers(self) -> dict[str, str]:
        """The hosted API's headers; `ConfigurationError` naming OPENAI_API_KEY when there is no key."""
        if not self.api_key:
            raise ConfigurationError(
                "This call needs an OpenAI API key: pass api_key= to the client "
                "or set the OPENAI_API_KEY environment variable"
            )
        headers = {**self.common_headers(), **BETA_HEADER, "Authorization": f"Bearer {self.api_key}"}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        check_headers(headers, _API_FIELDS, "default_headers")
        return headers

    def api(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> RequestSpec:
        """A request authenticated with the API key, for the hosted admin endpoints."""
        self.require_hosted(f"{method} {path}")
        self._check_open()
        check_strings(json, "")
        check_strings(params, "")
        headers = self.api_headers()
        headers["Accept"] = "application/json"
        # Every hosted REST call is safe to resend (see retry): GETs, DELETE, sessions.create and cancel.
        return RequestSpec(method, self.base_url + path, headers=headers, json=json, params=params, idempotent=True)

    def with_secret(
        self,
        method: str,
        path: str,
        client_secret: str,
        *,
        json: object | None = None,
        files: Mapping[str, FilePart] | None = None,
        accept: str = "application/json",
        idempotent: bool = False,
        not_found_hint: str | None = None,
    ) -> RequestSpec:
        """A request authenticated with a session's client secret (conversation and files)."""
        self.require_hosted(f"{method} {path}")
        if not isinstance(client_secret, str) or not client_secret.strip():
            raise InvalidInputError("client_secret", "must be a session's client secret ('ek_...')")
        self._check_open()
        headers = {
            **self.common_headers(),
            **BETA_HEADER,
            "Authorization": f"Bearer {client_secret}",
            "Accept": accept,
        }
        check_headers(headers, {"Authorization": "client_secret"}, "default_headers")
        return RequestSpec(
            method,
            self.base_url + path,
            headers=headers,
            json=json,
            files=files,
            idempotent=idempotent,
            not_found_hint=not_found_hint,
        )

    def upload(self, client_secret: str, filename: str, handle: IO[bytes], mime_type: str) -> RequestSpec:
        """A hosted upload (`POST /chatkit/files`, multipart field `file`) with a session's client secret."""
        return self.with_secret("POST", "/chatkit/files", client_secret, files={"file": (filename, handle, mime_type)})

    def protocol(self, request: dict[str, Any], client_secret: str | None) -> RequestSpec:
        """A ChatKit protocol request: to the hosted conversation endpoint with `client_secret`, or to
        the self-hosted server; SSE is asked for exactly when the request type streams."""
        accept = "text/event-stream" if is_streaming(request["type"]) else "application/json"
        check_strings(request.get("params"), "params")
        idempotent = request["type"] in IDEMPOTENT_PROTOCOL_REQUESTS
        if self.server_url is None:
            assert client_secret is not None
            return self.with_secret(
                "POST",
                "/chatkit/conversation",
                client_secret,
                json=request,
                accept=accept,
                idempotent=idempotent,
                not_found_hint=_HOSTED_NOT_FOUND_HINT,
            )
        headers = {**self.server_headers(), "Accept": accept}
        return RequestSpec(
            "POST",
            self.server_url,
            headers=headers,
            json=request,
            idempotent=idempotent,
            not_found_hint=NOT_FOUND_HINT,
        )

    def server_headers(self) -> dict[str, str]:
        """Headers for the self-hosted server, asking a callable source afresh each time."""
        self._check_open()
        source = self.headers_source
        if source is None:
            resolved: Mapping[str, str] = {}
        else:
            resolved = source() if callable(source) else source
            if not isinstance(resolved, Mapping):
                raise InvalidInputError("headers", "the headers callable must return a dict of header values")
        given = {str(k): str(v) for k, v in resolved.items()}
        common = self.common_headers()
        # A callable's answer is checked each time: a rotated token may carry a newline the first did not.
        check_headers(given, {}, "headers")
        check_headers(common, {}, "default_headers")
        return {**common, **given}
