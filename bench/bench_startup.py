"""Benchmark 6 (first half): `python -c "import chatkit_client"` against `python -c "import openai"`.

Each command runs in a fresh interpreter, interleaved, many times; a `python -c "pass"` row gives the
interpreter's own start-up, which is subtracted to get the import time proper (the goal compares imports,
and both pay the same interpreter start). `chatkit --help` is measured by `bench_cli.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Any

FULL_RUNS = 21
SMOKE_RUNS = 2
COMMANDS = {
    "python -c pass": "pass",
    "import chatkit_client": "import chatkit_client",
    "import openai": "import openai",
    # `import chatkit_client` loads its submodules lazily, so the literal command measures little; these two
    # rows are what a program actually pays before its first call.
    "ChatKit": "from chatkit_client import ChatKit; ChatKit",
    "OpenAI": "from openai import OpenAI; OpenAI",
    # Issue 9: the client against its own HTTP layer, and the pydantic it cannot start without.
    "httpx2": "import httpx2",
    "pydantic": "from pydantic import BaseModel",
}


def _time(code: str) -> float:
    # No PYTHONPATH games: the installed package, as a user's interpreter sees it; bytecode already cached.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def run(runs: int = FULL_RUNS) -> dict[str, Any]:
    for code in COMMANDS.values():  # fills the bytecode caches and the OS file cache
        _time(code)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, code in COMMANDS.items():
            samples[name].append(_time(code))
    median = {name: statistics.median(values) for name, values in samples.items()}
    base = median["python -c pass"]
    net = {name: max(median[name] - base, 0.0) for name in COMMANDS}
    ratio = net["import chatkit_client"] / net["import openai"] if net["import openai"] else float("inf")
    usable = net["ChatKit"] / net["OpenAI"] if net["OpenAI"] else float("inf")
    over_httpx2 = net["ChatKit"] / net["httpx2"] if net["httpx2"] else float("inf")
    table = [
        {"command": f'python -c "{code}"', "median ms": median[name], "import ms (minus bare start)": net[name]}
        for name, code in COMMANDS.items()
    ]
    return {
        "title": f"Start-up: fresh interpreters, median of {runs}",
        "table": table,
        "import ratio chatkit_client/openai (goal < 0.5)": f"{ratio:.2f} {'met' if ratio < 0.5 else 'NOT met'}",
        "client class ratio ChatKit/OpenAI (goal < 0.5)": f"{usable:.2f} {'met' if usable < 0.5 else 'NOT met'}",
        "client class ratio ChatKit/httpx2 (goal ≤ 1.5)": f"{over_httpx2:.2f} {_met(over_httpx2 <= 1.5)}",
        "httpx2_ratio": over_httpx2,
        "runs": runs,
        "imports_ok": True,
        "ratio": ratio,
        "client_class_ratio": usable,
    }


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(smoke: bool = False) -> dict[str, Any]:
    return run(SMOKE_RUNS if smoke else FULL_RUNS)


if __name__ == "__main__":
    from bench.__main__ import main as run_all

    sys.exit(run_all(["startup", *sys.argv[1:]]))
