"""Print the package's import graph: which modules import which, and which reach httpx2.

Reads the source with `ast` (nothing is imported), counting imports inside functions and under
`TYPE_CHECKING` too, since those are real couplings even when deferred.

Usage:
    python scripts/import_graph.py            # one line a module: its imports inside the package
    python scripts/import_graph.py --layers   # the same, summarised by layer (_core, _async, _sync, ...)
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "chatkit_client"
ROOT = Path(__file__).resolve().parent.parent / "src" / PACKAGE
HTTP = ("httpx2", "httpcore2", "h11", "anyio")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.add(stem)
            # `from . import _render` names a module, not an attribute.
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(path): path for path in paths}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            if imported in modules and imported != name:
                targets.add(imported)
            elif imported.split(".")[0] in HTTP:
                targets.add(imported.split(".")[0])
        edges[name] = targets
    return edges


def reaches_http(edges: dict[str, set[str]]) -> dict[str, bool]:
    memo: dict[str, bool] = {}

    def visit(name: str, seen: frozenset[str]) -> bool:
        if name in HTTP:
            return True
        if name in memo:
            return memo[name]
        result = any(visit(target, seen | {name}) for target in edges.get(name, ()) if target not in seen)
        memo[name] = result
        return result

    return {name: visit(name, frozenset()) for name in edges}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and not parts[1].startswith("_")) else "(root)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", action="store_true", help="summarise by layer")
    args = parser.parse_args(argv)
    edges = graph()
    http = reaches_http(edges)
    short = {name: name.removeprefix(PACKAGE + ".") or PACKAGE for name in edges}
    if args.layers:
        by_layer: dict[str, set[str]] = defaultdict(set)
        for name, targets in edges.items():
            for target in targets:
                if target in HTTP:
                    by_layer[layer(name)].add(target)
                elif layer(target) != layer(name):
                    by_layer[layer(name)].add(layer(target))
        for name in sorted({layer(n) for n in edges}):
            print(f"{name:<14} -> {', '.join(sorted(by_layer[name])) or '-'}")
        return 0
    for name in sorted(edges):
        direct = sorted(t for t in edges[name] if t in HTTP)
        inside = sorted(short[t] for t in edges[name] if t not in HTTP)
        mark = "httpx2 directly" if direct else ("httpx2 via imports" if http[name] else "no HTTP")
        print(f"{short[name]:<40} [{mark}] -> {', '.join(inside) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
