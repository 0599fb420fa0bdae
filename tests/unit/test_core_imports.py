"""The I/O-free core imports no HTTP library, not even indirectly: only `_transport` (and the shells) may."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "_chat_core",
    "_protocol",
    "_reply",
    "_retry",
    "_sse",
    "_requests",
    "_hosted_requests",
    "_pagination",
    "_files",
    "_export",
    "_audio",
    "_redact",
    "_exceptions",
    "types",
]


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_imports_no_http_library(module: str) -> None:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module('chatkit_client.{module}')\n"
        "print(sorted(name for name in ('httpx2', 'httpcore2', 'h11', 'anyio') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
