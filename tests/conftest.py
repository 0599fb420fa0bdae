"""Shared fixtures: a clean environment, the anyio backend, and a client of each kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real OPENAI_* variables must never reach a test (or a real server).
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "CHATKIT_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a behaviour test once with `ChatKit` and once with `AsyncChatKit`."""
    yield request.param
