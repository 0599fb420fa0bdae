"""Runs every `bench/bench_*.py` module's `main()` and prints a table per benchmark.

```
python -m bench                 # every benchmark, full size
python -m bench --smoke         # every benchmark, tiny size (a quick check that they still run)
python -m bench decode          # only bench_decode.py
python -m bench --json          # the returned dicts as JSON
```
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_SCALARS = (str, int, float, bool)


def discover() -> list[str]:
    """The names (without the `bench_` prefix) of the benchmark modules, sorted."""
    folder = Path(__file__).resolve().parent
    return sorted(m.name[len("bench_") :] for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_"))


def run(name: str, *, smoke: bool) -> dict[str, Any]:
    module = importlib.import_module(f"bench.bench_{name}")
    result: dict[str, Any] = module.main(smoke=smoke)
    return result


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [[_cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    # Numbers line up on the right, names on the left, as in any table of results.
    numeric = [all(isinstance(row.get(c), int | float) for row in rows if c in row) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(c) for c in cells)]).rstrip()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def render(name: str, result: dict[str, Any]) -> str:
    parts = [f"== {result.get('title', name)} =="]
    table = result.get("table")
    if isinstance(table, list) and table:
        parts.append(format_table(table))
    for key, value in result.items():
        # Further tables (a list of row dicts under any other key) follow the main one, titled by their key.
        if key != "table" and isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            parts.append(f"-- {key} --\n{format_table(value)}")
    notes = [f"{k}: {_cell(v)}" for k, v in result.items() if k not in ("title", "table") and isinstance(v, _SCALARS)]
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run chatkit-client's benchmarks.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all); e.g. 'decode'")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check that the benchmarks run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    args = parser.parse_args(argv)

    available = discover()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
    results: dict[str, Any] = {}
    for name in args.names or available:
        started = time.perf_counter()
        results[name] = run(name, smoke=args.smoke)
        if not args.json:
            print(render(name, results[name]))
            print(f"({time.perf_counter() - started:.1f} s)\n", flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
