"""Showing URLs without the credentials they may carry (`user:pass@`, `?token=...`).

Every place that shows a URL (log lines, exception messages, reprs) passes it through `redact_url`,
and text that may quote a URL (an HTTP library's error message) through `scrub`. The scheme, host,
port and path stay, so the URL is still useful for finding which server failed.

Imports: stdlib.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

__all__ = ["install_log_redaction", "redact_url", "scrub"]

MASK = "***"
# Secrets shorter than this are not searched for in free text: replacing every "1" of a message
# because a query said `v=1` would make it unreadable, and such values are not credentials.
_MIN_SECRET_LEN = 4


def redact_url(url: object) -> str:
    """`url` with userinfo masked and every query value replaced by `***`; never raises.

    >>> redact_url("https://user:pw@example.com/chatkit?token=abc&v=2#part")
    'https://***@example.com/chatkit?token=***&v=***#***'
    """
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return _redact_unparsable(text)
    if not parts.scheme and not parts.netloc:
        return _redact_unparsable(text)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else f"//{netloc}{parts.path}"
    if parts.query:
        shown += "?" + "&".join(_mask_pair(pair) for pair in parts.query.split("&"))
    if parts.fragment:
        shown += "#" + MASK
    return shown


def _mask_pair(pair: str) -> str:
    name, sep, _ = pair.partition("=")
    return f"{name}={MASK}" if sep else MASK


def _redact_unparsable(text: str) -> str:
    # Not a URL we can take apart: keep what precedes anything that could hold a credential.
    cut = min((i for i in (text.find("@"), text.find("?"), text.find("#")) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut] + MASK


def url_secrets(url: object) -> list[str]:
    """The credential-bearing pieces of `url` (userinfo, password, query values), longest first."""
    text = str(url)
    try:
        parts = urlsplit(text)
        found = [parts.netloc.rpartition("@")[0]] if "@" in parts.netloc else []
        if parts.password:
            found.append(parts.password)
        found += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
        found += [pair.partition("=")[2] for pair in parts.query.split("&")]
        if parts.fragment:
            found.append(parts.fragment)
    except ValueError:
        return []
    return sorted({s for s in found if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)


def scrub(text: str, *urls: object) -> str:
    """`text` with each of `urls` shown redacted and their credentials replaced by `***` wherever they appear."""
    for url in urls:
        if url is None:
            continue
        raw = str(url)
        if raw:
            text = text.replace(raw, redact_url(raw))
        for secret in url_secrets(raw):
            text = text.replace(secret, MASK)
    return text


class _RedactURLArgs(logging.Filter):
    """Rewrites URL arguments of httpx2's `HTTP Request: ...` lines, which show the URL as sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(_holds_credentials(arg) for arg in args):
            record.args = tuple(redact_url(arg) if _holds_credentials(arg) else arg for arg in args)
        return True


def _holds_credentials(arg: object) -> bool:
    # httpx2 passes its URL object; only URLs with userinfo or a query are rewritten.
    if isinstance(arg, str) or type(arg).__name__ == "URL":
        text = str(arg)
        if text.startswith(("http://", "https://")):
            netloc = text.split("/", 3)[2] if text.count("/") >= 2 else ""
            return "@" in netloc or "?" in text or "#" in text
    return False


_FILTER = _RedactURLArgs()


def install_log_redaction() -> None:
    """Attach the URL redaction filter to httpx2's logger (once), so its INFO line never shows a token."""
    logger = logging.getLogger("httpx2")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
