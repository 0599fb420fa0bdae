"""`redact_url` and `scrub`: credentials in URLs never shown, the rest of the URL kept."""

from __future__ import annotations

import pytest

from chatkit_client._core.redact import redact_url, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://user:pw@host:8000/chatkit", "http://***@host:8000/chatkit"),
        ("http://token@host/chatkit", "http://***@host/chatkit"),
        ("http://host/chatkit?token=abc&tenant=t1", "http://host/chatkit?token=***&tenant=***"),
        ("http://host/chatkit?abc123", "http://host/chatkit?***"),
        ("http://[::1]:8000/c?k=v#frag", "http://[::1]:8000/c?k=***#***"),
        ("no-scheme@host?x=1", "no-scheme***"),
        ("http://[::1/c?k=v", "http://[::1/c***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_replaces_the_url_and_its_credentials_wherever_they_appear() -> None:
    url = "http://me:hunter22@host/c?token=tok_abcdef&v=1"
    text = f"failed on {url}; header Basic me:hunter22, token tok_abcdef, version 1"
    cleaned = scrub(text, url)
    assert "hunter22" not in cleaned and "tok_abcdef" not in cleaned
    assert "http://***@host/c?token=***&v=***" in cleaned
    assert cleaned.endswith("version 1")  # short values are not credentials and stay
