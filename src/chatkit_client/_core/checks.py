"""Checks of a client's configuration and of every header it sends, made before anything is sent.

A credential with a stray `\\r`, `\\n` or space (pasted from a file, read from `.env`) or a non-ASCII
character cannot go into an HTTP header. Sent anyway, the HTTP layer fails with a message that
quotes the whole value, and the failure looks like a network error worth retrying. These checks
name the field and the problem and never repeat the value.

Imports: stdlib, _exceptions, and core: redact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from .._exceptions import InvalidInputError
from .redact import redact_url

__all__ = ["check_header_value", "check_headers", "check_timeout", "check_url"]

# RFC 9110 token characters, the only ones a header name may have.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def check_header_value(value: object, field: str) -> str:
    """`value` if it can be sent as an HTTP header value, else `InvalidInputError` naming `field` only.

    >>> check_header_value("Bearer sk-abc", "api_key")
    'Bearer sk-abc'
    """
    if not isinstance(value, str):
        raise InvalidInputError(field, f"must be a string, got {type(value).__name__}")
    problem = _value_problem(value)
    if problem:
        raise InvalidInputError(field, f"{problem}; a header value must be printable ASCII (the value is not shown)")
    return value


# A header value with nothing to report: printable ASCII or tabs, no whitespace at either end (one C call).
_GOOD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?")


def _value_problem(value: str) -> str | None:
    if _GOOD_VALUE.fullmatch(value):
        return None
    if value != value.strip(" \t"):
        return "has leading or trailing whitespace"
    for char in value:
        if char in "\r\n":
            return "contains a line break (\\r or \\n)"
        if ord(char) > 0x7E:
            return "contains a non-ASCII character"
        if ord(char) < 0x20 and char != "\t":
            return "contains a control character"
    return None


def check_headers(headers: Mapping[str, str], fields: Mapping[str, str], default_field: str) -> None:
    """Check every header about to be sent; `fields` maps a header name to the argument it came from."""
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidInputError(
                default_field, f"{_shown_name(name)} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
            )
        if type(value) is not str or not _GOOD_VALUE.fullmatch(value):
            check_header_value(value, fields.get(name) or f"{default_field}[{name!r}]")


def _shown_name(name: object) -> str:
    # A name is not a secret, but a name with a line break in it must not start a new log line.
    return ascii(name) if isinstance(name, str) else type(name).__name__


def check_url(url: object, field: str, *, allow_query: bool) -> str:
    """An http(s) URL with a host; a query only where it is kept (`allow_query`), never a fragment."""
    if not isinstance(url, str):
        raise InvalidInputError(field, f"must be an http:// or https:// URL string, got {type(url).__name__}")
    shown = ascii(redact_url(url))
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidInputError(field, f"must not contain spaces or control characters, got {shown}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise InvalidInputError(field, f"is not a valid URL: {shown}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInputError(field, f"must start with http:// or https://, got {shown}")
    if not parts.hostname:
        raise InvalidInputError(field, f"has no host name: {shown}; expected e.g. https://api.example.com/chatkit")
    if parts.fragment or url.endswith("#"):
        raise InvalidInputError(field, f"must not have a #fragment (it is never sent to the server), got {shown}")
    if not allow_query and (parts.query or "?" in url):
        raise InvalidInputError(
            field,
            f"must not have a ?query: request paths are appended to it, so the query would be lost; got {shown}",
        )
    return url


def check_timeout(timeout: object) -> None:
    """Each limit of a timeout must be None (no limit) or a positive, finite number of seconds."""
    limits: dict[str, object]
    # An `httpx2.Timeout` is recognised by its four limits, so this core module needs no HTTP library.
    if all(hasattr(timeout, limit) for limit in ("connect", "read", "write", "pool")):
        limits = {
            f"timeout.{limit}": getattr(timeout, limit) for limit in ("connect", "read", "write", "pool")
        }
    else:
        limits = {"timeout": timeout}
    for field, value in limits.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InvalidInputError(field, f"must be a positive number of seconds, or None for no limit, got {value!r}")
