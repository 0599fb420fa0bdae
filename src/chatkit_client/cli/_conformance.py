"""`chatkit conformance`: run the numbered conformance cases against a ChatKit server and print the table.

Only click (and `_target`) at module level, like the other commands: the suite, httpx2 and rich load when it
runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from ._target import Target, parse_headers

if TYPE_CHECKING:
    from ..conformance import Report

__all__ = ["conformance"]

_STYLES = {"PASS": "green", "FAIL": "bold red", "WARN": "yellow", "SKIP": "dim"}


@click.command(
    epilog="""\b
Examples:
  chatkit conformance --server-url http://127.0.0.1:8000/chatkit
  chatkit conformance --app myserver.main:app --strict --junit conformance.xml
  chatkit conformance --server-url URL --header 'Authorization: Bearer t' --case stream --case 4.2
  chatkit conformance --server-url URL --message 'What is the weather in Paris?'   # a client tool call
  chatkit conformance --list
"""
)
@click.option("--server-url", metavar="URL", help="The ChatKit endpoint to test (default: the global --server-url).")
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    callback=parse_headers,
    help="A header for every request (auth, ...); repeatable. Masked in reproducers.",
)
@click.option("--app", metavar="MODULE:ATTR", help="Test this ASGI app (its endpoint at /chatkit) instead of a URL.")
@click.option(
    "--case", "cases", multiple=True, metavar="ID", help="Run only this case, id prefix or section; repeatable."
)
@click.option(
    "--message",
    "messages",
    multiple=True,
    metavar="TEXT",
    help="Also send TEXT in a new thread (to make the agent call a client tool, show a widget...); repeatable.",
)
@click.option("--strict", is_flag=True, help="Fail (exit 1) on recommended cases and warnings too.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="FILE", help="Write the report as JSON.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), metavar="FILE", help="Write JUnit XML.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True, help="Seconds per request.")
@click.option("--list", "list_only", is_flag=True, help="List the cases and exit.")
@click.pass_context
def conformance(
    ctx: click.Context,
    server_url: str | None,
    headers: dict[str, str],
    app: str | None,
    cases: tuple[str, ...],
    messages: tuple[str, ...],
    strict: bool,
    json_path: str | None,
    junit_path: str | None,
    timeout: float,
    list_only: bool,
) -> None:
    """Does this server speak ChatKit? Run numbered cases and print PASS / FAIL / WARN / SKIP for each.

    Exit status 1 when a required case fails (with --strict: any failure or warning). Each case names the
    section of the protocol notes (docs/protocol.md) it checks; each failure shows the request and a curl
    command that sends it again.
    """
    from ..conformance import run_conformance, select_cases, to_json, to_junit

    if list_only:
        _print_cases(select_cases(cases))
        return
    # The group's --server-url/--header (or CHATKIT_SERVER_URL) apply when the command has none of its own.
    group = ctx.find_object(Target)
    if server_url is None and app is None and group is not None:
        server_url = group.server_url
    if not headers and group is not None:
        headers = dict(group.headers)
    if server_url is not None and app is not None:
        raise click.UsageError("pass --server-url or --app, not both")
    if server_url is None and app is None:
        raise click.UsageError("nothing to test: pass --server-url URL (your ChatKit endpoint) or --app module:attr")
    select_cases(cases)  # a bad --case is a usage error before anything is sent
    report = run_conformance(server_url, headers=headers, app=app, cases=cases, messages=messages, timeout=timeout)
    _print_report(report, strict=strict)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as file:
            json.dump(to_json(report, strict=strict), file, indent=2, ensure_ascii=False)
            file.write("\n")
    if junit_path:
        with open(junit_path, "w", encoding="utf-8") as file:
            file.write(to_junit(report, strict=strict))
    ctx.exit(report.exit_code(strict=strict))


def _print_cases(cases: Sequence[Any]) -> None:
    from rich.table import Table

    from . import _render

    table = Table(box=None, pad_edge=False)
    for column in ("case", "level", "section", "title"):
        table.add_column(column, no_wrap=column != "title")
    for case in cases:
        level = case.level.value + (" (agent)" if case.trigger else "")
        table.add_row(case.id, level, f"§{case.section}", case.title)
    _render.console().print(table)


def _print_report(report: Report, *, strict: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..conformance import format_failures
    from . import _render

    console = _render.console()
    console.print(Text(f"ChatKit conformance of {report.target}", style="bold"))
    table = Table(box=None, pad_edge=False)
    table.add_column("case", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("title / why")
    for result in report.results:
        outcome = result.outcome.value
        detail = Text(result.case.title)
        if result.why:
            # Server text is untrusted: Text never interprets markup, and the report removed control characters.
            detail.append(" — " + " ".join(result.why.split()), style="dim" if outcome == "SKIP" else "")
        level = "required" if result.case.level.value == "required" else "recommended"
        table.add_row(result.case.id, level, Text(outcome, style=_STYLES[outcome]), detail)
    console.print(table)
    failures = format_failures(report)
    if failures:
        # Plain echo, never wrapped: the curl commands are meant to be copied whole.
        click.echo("\nReproducers:\n" + failures)
    verdict = "FAILED" if report.exit_code(strict=strict) else "passed"
    mode = " (strict)" if strict else ""
    console.print(Text(f"\n{report.summary()}: {verdict}{mode}", style="bold"))
