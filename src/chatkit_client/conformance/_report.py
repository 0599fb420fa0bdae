"""A report as plain text, as JSON, and as JUnit XML (what CI systems read)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from ._model import CaseResult, Outcome, Report

__all__ = ["format_failures", "format_table", "to_json", "to_junit"]

_LEVEL = {"required": "req", "recommended": "rec"}


def _clean(text: str) -> str:
    """Server text is untrusted: no control characters reach a terminal or a report."""
    return "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)


def to_json(report: Report, *, strict: bool = False) -> dict[str, Any]:
    """The report as one JSON document (the `--json` file)."""
    return {
        "target": report.target,
        "strict": strict,
        "passed": report.exit_code(strict=strict) == 0,
        "seconds": round(report.seconds, 3),
        "counts": {outcome.value: report.count(outcome) for outcome in Outcome},
        "results": [
            {
                "id": result.case.id,
                "level": result.case.level.value,
                "section": result.case.section,
                "title": result.case.title,
                "needs_agent": result.case.trigger,
                "outcome": result.outcome.value,
                "why": _clean(result.why),
                "seconds": round(result.seconds, 3),
                "reproducers": [
                    {"request_type": r.request_type, "body": _clean(r.body), "curl": _clean(r.curl)}
                    for r in result.reproducers
                ],
            }
            for result in report.results
        ],
    }


def to_junit(report: Report, *, strict: bool = False) -> str:
    """The report as JUnit XML: FAIL is a failure, SKIP skipped, WARN a failure only with `strict`."""
    suite = ElementTree.Element(
        "testsuite",
        name="chatkit-conformance",
        tests=str(len(report.results)),
        failures=str(sum(1 for r in report.results if _is_junit_failure(r, strict))),
        skipped=str(report.count(Outcome.SKIP)),
        time=f"{report.seconds:.3f}",
    )
    ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property", name="target", value=report.target)
    for result in report.results:
        case = result.case
        element = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{case.level.value}",
            name=f"{case.id} (§{case.section}) {case.title}",
            time=f"{result.seconds:.3f}",
        )
        details = _clean("\n\n".join(f"{r.body}\n$ {r.curl}" for r in result.reproducers))
        if _is_junit_failure(result, strict):
            failure = ElementTree.SubElement(element, "failure", message=_clean(result.why), type=result.outcome.value)
            failure.text = details
        elif result.outcome is Outcome.SKIP:
            ElementTree.SubElement(element, "skipped", message=_clean(result.why))
        elif result.outcome is Outcome.WARN:
            ElementTree.SubElement(element, "system-out").text = f"WARN: {_clean(result.why)}\n{details}"
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _is_junit_failure(result: CaseResult, strict: bool) -> bool:
    return result.outcome is Outcome.FAIL or (strict and result.outcome is Outcome.WARN)


def format_table(report: Report) -> str:
    """A plain-text table: case id, level, outcome, title, and why for anything but a pass."""
    rows = [("case", "level", "result", "title / why")]
    for result in report.results:
        text = result.case.title + (f" — {_clean(result.why)}" if result.why else "")
        rows.append((result.case.id, _LEVEL[result.case.level.value], result.outcome.value, text))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    return "\n".join(lines)


def format_failures(report: Report) -> str:
    """The reproducers of every failed or warned case: the request body and a curl command."""
    blocks = []
    for result in report.results:
        if result.outcome not in (Outcome.FAIL, Outcome.WARN) or not result.reproducers:
            continue
        lines = [f"{result.case.id} ({result.outcome.value}): {_clean(result.why)}"]
        for r in result.reproducers:
            lines.append(f"  request ({r.request_type}): {_clean(r.body)}")
            lines.append(f"  $ {_clean(r.curl)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
