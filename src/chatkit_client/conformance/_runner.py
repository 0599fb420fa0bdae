"""Choosing cases and running them against one server."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import InvalidInputError
from ._cases import CASES, CHECKS, STREAM_CASES
from ._context import CaseOutcome, RunContext
from ._model import Case, CaseResult, Outcome, Report
from ._probe import Probe, mask_url, reproducer
from ._target import open_target

__all__ = ["run_cases", "run_conformance", "select_cases"]


def select_cases(patterns: Sequence[str] | None) -> list[Case]:
    """The cases matching any of `patterns`, in catalogue order: an id (`stream.framing`), the first part of
    ids (`stream`, `threads`) or a `docs/protocol.md` section (`3`, `3.1`, `§4.2`). None or empty: all.

    >>> [case.id for case in select_cases(["4.2"])]
    ['threads.list', 'threads.list-order', 'threads.list-pagination']
    """
    if not patterns:
        return list(CASES)
    chosen: list[Case] = []
    for pattern in patterns:
        key = pattern.strip().lstrip("§")
        matched = [case for case in CASES if case.id == key] or [
            case
            for case in CASES
            if case.id.startswith(key + ".") or case.section == key or case.section.startswith(key + ".")
        ]
        if not matched:
            known = ", ".join(case.id for case in CASES)
            raise InvalidInputError("case", f"{pattern!r} matches no case, section or prefix; the ids are: {known}")
        chosen += [case for case in matched if case not in chosen]
    return [case for case in CASES if case in chosen]


def run_cases(probe: Probe, cases: Sequence[Case] | None = None, *, messages: Sequence[str] = ()) -> Report:
    """Run `cases` (default: all) against the endpoint `probe` talks to."""
    chosen = list(cases) if cases is not None else list(CASES)
    ctx = RunContext(probe, messages=messages)
    started = time.monotonic()
    # Stream cases judge every stream of the run, so they go after the cases that add streams.
    order = [case for case in chosen if case.id not in STREAM_CASES] + [c for c in chosen if c.id in STREAM_CASES]
    results: dict[str, CaseResult] = {}
    for case in order:
        results[case.id] = _run_one(case, ctx)
    return Report(
        target=mask_url(probe.url),
        results=[results[case.id] for case in chosen],
        seconds=time.monotonic() - started,
    )


def _run_one(case: Case, ctx: RunContext) -> CaseResult:
    started = time.monotonic()
    try:
        CHECKS[case.id](ctx)
    except CaseOutcome as outcome:
        reproducers = tuple(reproducer(exchange) for exchange in outcome.exchanges)
        if outcome.outcome is Outcome.SKIP:
            reproducers = ()
        return CaseResult(case, outcome.outcome, outcome.why, reproducers, time.monotonic() - started)
    except Exception as err:  # a server answer the check did not expect must not end the whole run
        why = f"the suite could not judge this case ({type(err).__name__}: {err})"
        return CaseResult(case, Outcome.FAIL, why, (), time.monotonic() - started)
    return CaseResult(case, Outcome.PASS, "", (), time.monotonic() - started)


def run_conformance(
    server_url: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    app: Any = None,
    cases: Sequence[str] | None = None,
    messages: Sequence[str] = (),
    timeout: float = 30.0,
) -> Report:
    """Run the conformance suite against a ChatKit server: its URL, or an ASGI app (`module:attr` or the app).

    `cases` picks cases by id, id prefix or section (default: all); `messages` are extra user messages, each
    sent in a new thread, that make the agent produce what some cases need (a client tool call, a widget,
    a structured question).

    >>> from chatkit_client.conformance import run_conformance
    >>> report = run_conformance("http://127.0.0.1:8000/chatkit")  # doctest: +SKIP
    >>> report.exit_code()  # doctest: +SKIP
    0
    """
    chosen = select_cases(cases)
    with open_target(server_url=server_url, headers=headers, app=app, timeout=timeout) as probe:
        return run_cases(probe, chosen, messages=messages)
