"""Evaluate a ChatKit server headlessly: many test prompts at once through one `AsyncChatKit`.

Each case is a prompt and what its answer must contain; every case runs on its own thread, at
most `--concurrency` at a time, and the run prints one line per case, a summary (pass count,
time to first event and total time per case), and exits 1 when a case fails.

    python examples/chatkit_eval.py --server-url http://localhost:8000/chatkit cases.jsonl --concurrency 8

`cases.jsonl` holds one JSON object a line: `{"prompt": "...", "expect": "substring"}` (`expect`
optional: without it a case passes when the server answers without an error).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatkit_client import AsyncChatKit, ChatKitError, StreamError


@dataclass(frozen=True)
class Case:
    prompt: str
    expect: str | None = None


@dataclass(frozen=True)
class Result:
    prompt: str
    passed: bool
    output: str
    error: str | None
    time_to_first_event_ms: float
    total_ms: float


@dataclass
class Run:
    results: list[Result]
    max_in_flight: int

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    def summary(self) -> dict[str, Any]:
        first = [result.time_to_first_event_ms for result in self.results]
        total = [result.total_ms for result in self.results]
        return {
            "cases": len(self.results),
            "passed": self.passed,
            "max_in_flight": self.max_in_flight,
            "time_to_first_event_ms": {"median": statistics.median(first), "max": max(first)} if first else None,
            "total_ms": {"median": statistics.median(total), "max": max(total)} if total else None,
        }


async def _one(client: AsyncChatKit, case: Case) -> Result:
    started = time.perf_counter()
    first_event: float | None = None
    error: str | None = None
    stream = client.chat().stream(case.prompt)
    try:
        async for _event in stream:
            if first_event is None:
                first_event = time.perf_counter() - started
    except StreamError as err:
        error = f"error event: {err.error_message}"
    except ChatKitError as err:
        error = f"{type(err).__name__}: {err}"
    finally:
        await stream.close()
    output = stream.reply.text
    passed = error is None and (case.expect is None or case.expect in output)
    return Result(
        prompt=case.prompt,
        passed=passed,
        output=output,
        error=error,
        time_to_first_event_ms=round((first_event or 0.0) * 1000, 1),
        total_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def run_eval(client: AsyncChatKit, cases: Sequence[Case], *, concurrency: int = 8) -> Run:
    """Run every case, at most `concurrency` at a time; results come back in the order of `cases`.

    >>> run = await run_eval(AsyncChatKit(server_url=url), [Case("hello", expect="hello")])  # doctest: +SKIP
    """
    if concurrency < 1:
        raise ValueError("concurrency must be 1 or more")
    gate = asyncio.Semaphore(concurrency)
    in_flight = 0
    most = 0

    async def bounded(case: Case) -> Result:
        nonlocal in_flight, most
        async with gate:
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await _one(client, case)
            finally:
                in_flight -= 1

    results = await asyncio.gather(*(bounded(case) for case in cases))
    return Run(results=list(results), max_in_flight=most)


def load_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        data = json.loads(line)
        if not isinstance(data, dict) or not isinstance(data.get("prompt"), str):
            raise SystemExit(f"{path}:{number}: each line needs a JSON object with a string 'prompt'")
        cases.append(Case(prompt=data["prompt"], expect=data.get("expect")))
    return cases


async def _main(args: argparse.Namespace) -> int:
    headers = dict(header.split(":", 1) for header in args.header)
    headers = {name.strip(): value.strip() for name, value in headers.items()}
    cases = load_cases(args.cases)
    async with AsyncChatKit(server_url=args.server_url, headers=headers, timeout=args.timeout) as client:
        run = await run_eval(client, cases, concurrency=args.concurrency)
    for result in run.results:
        mark = "PASS" if result.passed else "FAIL"
        why = result.error or ("" if result.passed else f"answer lacks the expected text: {result.output[:80]!r}")
        print(f"{mark}  {result.total_ms:8.1f} ms  {result.prompt[:50]!r}  {why}")
    print(json.dumps(run.summary()))
    if args.json:
        args.json.write_text(json.dumps([asdict(result) for result in run.results], indent=2))
    return 0 if run.passed == len(run.results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("cases", type=Path, help="JSON lines: {'prompt': ..., 'expect': ...}")
    parser.add_argument("--server-url", required=True, help="the ChatKit endpoint, e.g. http://localhost:8000/chatkit")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path, help="write every result to this file")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
