"""The I/O-free core imports no HTTP library, not even indirectly: only `_transport` (and the shells) may."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import chatkit_client

_CORE_DIR = Path(chatkit_client.__file__).parent / "_core"
# Every module of the core package, found on disk so that a new one cannot escape the check, and the shared
# vocabulary the core may import.
CORE = [
    *sorted(f"_core.{path.stem}" for path in _CORE_DIR.glob("*.py") if path.stem != "__init__"),
    "_core",
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
