"""The I/O-free core imports no HTTP library, not even indirectly: only `_transport` (and the shells) may."""

from __future__ import annotations

import ast
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


# -- each core module states what it imports, and imports only that ---------------------------------------
#
# The last paragraph of every `_core` module's docstring is one line such as
#     Imports: stdlib, pydantic, types, _exceptions, and core: reply, sse.
# naming the groups below and the core siblings it imports. The tests read every import statement with `ast`
# (inside functions and under `if TYPE_CHECKING:` too) and compare.

_THIRD_PARTY = ("pydantic", "pydantic_core", "typing_extensions")
_VOCABULARY = ("_exceptions", "_constants", "_sentinels", "_lazy", "_version")
_GROUPS = ("stdlib", *_THIRD_PARTY, "types", *_VOCABULARY)
_PACKAGE = "chatkit_client._core"
_CORE_NAMES = frozenset(path.stem for path in _CORE_DIR.glob("*.py") if path.stem != "__init__")
_MODULE_FILES = sorted(_CORE_DIR.glob("*.py"))


def import_group(name: str) -> str | None:
    """The group an absolute module name belongs to (`core:<name>` for a sibling), None if the core may not
    import it at all."""
    top = name.partition(".")[0]
    if top in sys.stdlib_module_names:
        return "stdlib"
    if top in _THIRD_PARTY:
        return top
    for group, module in [("types", "types"), *((v, v) for v in _VOCABULARY)]:
        if name == f"chatkit_client.{module}" or name.startswith(f"chatkit_client.{module}."):
            return group
    if name.startswith(f"{_PACKAGE}."):
        sibling = name.split(".")[2]
        return f"core:{sibling}" if sibling in _CORE_NAMES else None
    return None


def imports_of(source: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a `_core` module's source, wherever it stands."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                continue  # a compiler directive, not an import
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
                continue
            parts = _PACKAGE.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            if node.module is not None:
                found.append((node.lineno, f"{base}.{node.module}"))
            else:  # `from . import sse, reply`: each name is a module
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def imports_line(groups: set[str]) -> str:
    """The `Imports:` line stating exactly `groups`."""
    plain = [group for group in _GROUPS if group in groups]
    core = sorted(group.removeprefix("core:") for group in groups if group.startswith("core:"))
    if not core:
        return f"Imports: {', '.join(plain)}." if plain else "Imports: nothing."
    lead = ", ".join(plain) + (", and " if len(plain) > 1 else " and ") if plain else ""
    return f"Imports: {lead}core: {', '.join(core)}."


def stated_imports(source: str) -> tuple[int, set[str]] | str:
    """(line number, groups) of the docstring's `Imports:` paragraph, or what is wrong with it."""
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree)
    if not docstring:
        return "it has no module docstring"
    # The paragraph may wrap: its lines are read as one.
    last = " ".join(docstring.strip().split("\n\n")[-1].split())
    if not last.startswith("Imports: ") or not last.endswith("."):
        return "its docstring does not end with a one-line `Imports: ...` paragraph"
    node = tree.body[0]
    lines = source.splitlines()
    lineno = max(n for n in range(node.lineno, (node.end_lineno or node.lineno) + 1) if "Imports: " in lines[n - 1])
    text = last.removeprefix("Imports: ").removesuffix(".")
    if text == "nothing":
        return lineno, set()
    plain, has_core, core = text.partition("core: ")
    plain = plain.rstrip().removesuffix("and").rstrip().rstrip(",")
    groups = {group.strip() for group in plain.split(",") if group.strip()}
    unknown = sorted(groups - set(_GROUPS))
    siblings = {name.strip() for name in core.split(",")} if has_core else set()
    unknown += sorted(siblings - _CORE_NAMES)
    if unknown:
        return f"its `Imports:` line (line {lineno}) names {', '.join(unknown)}, which is not one of {_GROUPS} " \
            "or a core module"
    return lineno, groups | {f"core:{name}" for name in siblings}


def rule_violations(relative: str, source: str) -> list[str]:
    """What breaks the core's import rule and the module's own `Imports:` line, each saying how to fix it."""
    found = imports_of(source)
    problems = [
        f"{relative}:{line} imports {name}, which no core module may import (allowed: the standard library, "
        f"{', '.join(_THIRD_PARTY)}, chatkit_client.types, chatkit_client.{{{','.join(_VOCABULARY)}}} and "
        f"{_PACKAGE}.*)"
        for line, name in found
        if import_group(name) is None
    ]
    actual = {group for _, name in found if (group := import_group(name)) is not None}
    stated = stated_imports(source)
    if isinstance(stated, str):
        problems.append(f"{relative}: {stated}; add this line as its last paragraph: {imports_line(actual)}")
        return problems
    lineno, declared = stated
    if declared != actual:
        extra = [f"{name} (line {line})" for line, name in found if import_group(name) in actual - declared]
        gone = sorted(declared - actual)
        detail = "; ".join(
            part
            for part in (
                f"imports {', '.join(extra)} not stated" if extra else "",
                f"states {', '.join(gone)} it no longer imports" if gone else "",
            )
            if part
        )
        problems.append(f"{relative}:{lineno}: {detail}; change that line to: {imports_line(actual)}")
    return problems


@pytest.mark.parametrize("path", _MODULE_FILES, ids=lambda path: path.name)
def test_a_core_module_imports_exactly_what_its_docstring_states(path: Path) -> None:
    relative = f"src/chatkit_client/_core/{path.name}"
    problems = rule_violations(relative, path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_import_rule_sees_imports_in_functions_and_under_type_checking() -> None:
    source = '''"""A module.

Imports: stdlib, and core: sse.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import sse

if TYPE_CHECKING:
    import httpx2

    from ..types import Thread


def late() -> None:
    from .. import _transport
    from .reply import Reply
'''
    assert stated_imports(source) == (3, {"stdlib", "core:sse"})
    problems = rule_violations("m.py", source)
    assert problems == [
        "m.py:14 imports httpx2, which no core module may import (allowed: the standard library, pydantic, "
        "pydantic_core, typing_extensions, chatkit_client.types, chatkit_client.{_exceptions,_constants,"
        "_sentinels,_lazy,_version} and chatkit_client._core.*)",
        "m.py:20 imports chatkit_client._transport, which no core module may import (allowed: the standard "
        "library, pydantic, pydantic_core, typing_extensions, chatkit_client.types, chatkit_client.{_exceptions,"
        "_constants,_sentinels,_lazy,_version} and chatkit_client._core.*)",
        "m.py:3: imports chatkit_client.types (line 16), chatkit_client._core.reply (line 21) not stated; "
        "change that line to: Imports: stdlib, types, and core: reply, sse.",
    ]


def test_the_import_rule_reports_a_stale_or_missing_line() -> None:
    stale = '"""A module.\n\nImports: stdlib, pydantic, and core: reply.\n"""\n\nimport json\n'
    assert rule_violations("m.py", stale) == [
        "m.py:3: states core:reply, pydantic it no longer imports; change that line to: Imports: stdlib."
    ]
    missing = '"""A module."""\n\nfrom .._exceptions import InvalidInputError\n'
    assert rule_violations("m.py", missing) == [
        "m.py: its docstring does not end with a one-line `Imports: ...` paragraph; add this line as its last "
        "paragraph: Imports: _exceptions."
    ]
    assert imports_line({"core:sse"}) == "Imports: core: sse."
    assert imports_line({"stdlib", "core:sse"}) == "Imports: stdlib and core: sse."
    assert imports_line({"_exceptions", "pydantic", "stdlib", "types", "core:sse", "core:reply"}) == (
        "Imports: stdlib, pydantic, types, _exceptions, and core: reply, sse."
    )
    assert stated_imports(imports_line({"stdlib", "types", "core:reply", "core:sse"}).join(['"""X.\n\n', '\n"""']))
