"""What a conformance run is made of: cases, their levels and outcomes, results and the report.

Pure data; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Case", "CaseResult", "Level", "Outcome", "Report", "Reproducer"]


class Level(StrEnum):
    """How much a case matters: a failed required case fails the run; recommended ones only with `--strict`."""

    REQUIRED = "required"
    RECOMMENDED = "recommended"


class Outcome(StrEnum):
    """PASS: the rule holds. FAIL: it is broken. WARN: doubtful (e.g. garbage accepted). SKIP: could not apply."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Case:
    """One numbered rule: a stable `id`, the `docs/protocol.md` section it checks, and its level.

    >>> Case("stream.framing", Level.REQUIRED, "3.1", "Each event is one `data:` line of JSON").section
    '3.1'
    """

    id: str
    level: Level
    section: str
    title: str
    trigger: str | None = None
    """For cases that need something from the agent: how to make the agent produce it."""


@dataclass(frozen=True)
class Reproducer:
    """The request that showed a failure: its JSON body and a `curl` command sending it (secrets masked)."""

    request_type: str
    body: str
    curl: str


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case, why (for anything but a pass), and reproducers for a failure."""

    case: Case
    outcome: Outcome
    why: str = ""
    reproducers: tuple[Reproducer, ...] = ()
    seconds: float = 0.0

    def counts_as_failure(self, *, strict: bool) -> bool:
        """Whether this result fails the run: a required FAIL; with `strict`, any FAIL or WARN."""
        if self.outcome is Outcome.FAIL:
            return strict or self.case.level is Level.REQUIRED
        return strict and self.outcome is Outcome.WARN


@dataclass(frozen=True)
class Report:
    """All the results of a run against one server.

    >>> report.exit_code(strict=False)  # doctest: +SKIP
    0
    """

    target: str
    results: Sequence[CaseResult]
    seconds: float = 0.0
    notes: Sequence[str] = field(default_factory=tuple)

    def failures(self, *, strict: bool = False) -> list[CaseResult]:
        return [result for result in self.results if result.counts_as_failure(strict=strict)]

    def exit_code(self, *, strict: bool = False) -> int:
        """1 when a required case failed (with `strict`, any failure or warning), else 0."""
        return 1 if self.failures(strict=strict) else 0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    def outcomes(self) -> dict[str, Outcome]:
        """Case id -> outcome, for assertions."""
        return {result.case.id: result.outcome for result in self.results}

    def summary(self) -> str:
        parts = [f"{self.count(outcome)} {outcome.value.lower()}" for outcome in Outcome]
        return f"{len(self.results)} cases: " + ", ".join(parts) + f" ({self.seconds:.1f} s)"
