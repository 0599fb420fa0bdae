"""`chatkit load`: drive virtual conversations against the target and report latencies and throughput."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ._target import Target, pass_target

__all__ = ["load"]

_MAX_MESSAGES_FILE = 10 * 1024 * 1024


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    from ..load import parse_duration

    try:
        return parse_duration(value)
    except ValueError:
        raise click.BadParameter(f"expected a duration like 60s, 2m, 1h or 500ms, got {value!r}", ctx, param) from None


def _tool_answer(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    from ..load import echo_tool_answer, fixed_tool_answer

    if value == "echo":
        return echo_tool_answer
    try:
        return fixed_tool_answer(json.loads(value))
    except ValueError:
        message = f"expected JSON (e.g. '{{}}' or '{{\"ok\": true}}') or 'echo', got {value!r}"
        raise click.BadParameter(message, ctx, param) from None


def _read_messages(path: str) -> list[str]:
    file = Path(path)
    if file.stat().st_size > _MAX_MESSAGES_FILE:
        raise click.BadParameter(f"{path} is larger than 10 MiB", param_hint="--messages")
    messages = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not messages:
        raise click.BadParameter(f"{path} has no messages (one per line)", param_hint="--messages")
    return messages


@click.command(
    epilog="""\b
Examples:
  chatkit --server-url http://127.0.0.1:8000/chatkit load --users 20 --duration 60s --turns 3
  chatkit --server-url URL load --rate 50 --duration 2m --messages prompts.txt --json run.json
  chatkit --workflow wf_123 load --users 5 --duration 30s     # hosted: one session per virtual user

\b
--users N is the closed model (each user waits for its answer, then thinks --think-time);
--rate R the open model (R turns start per second whatever the server does; latency counts from the
scheduled start, so queueing shows). Client tool calls are answered with --tool-result (JSON, or
'echo' for the call's own arguments).
"""
)
@click.option("--users", type=click.IntRange(1, 100_000), help="Closed model: this many virtual users.")
@click.option("--spawn-rate", type=click.FloatRange(min=0, min_open=True), help="Users started per second.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), help="Open model: turns started per second.")
@click.option(
    "--duration", default="60s", show_default=True, metavar="DURATION", callback=_duration, help="How long turns start."
)
@click.option("--message", "message_texts", multiple=True, metavar="TEXT", help="A message to send; repeatable.")
@click.option(
    "--messages",
    "messages_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A file of messages, one per line, sent in turn.",
)
@click.option("--turns", type=click.IntRange(1, 10_000), default=1, show_default=True, help="Messages per thread.")
@click.option(
    "--think-time", default="0s", show_default=True, metavar="DURATION", callback=_duration, help="Between turns."
)
@click.option(
    "--timeout",
    "turn_timeout",
    default="60s",
    show_default=True,
    metavar="DURATION",
    callback=_duration,
    help="The longest a turn may take (open model: from its scheduled start).",
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="Open model: at most this many turns at once (later ones wait, and their wait counts).",
)
@click.option(
    "--tool-result",
    "tool_answer",
    default="{}",
    show_default=True,
    metavar="JSON|echo",
    callback=_tool_answer,
    help="The answer to every client tool call.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the full report (JSON) here.")
@pass_target
def load(
    target: Target,
    users: int | None,
    spawn_rate: float | None,
    rate: float | None,
    duration: float,
    message_texts: tuple[str, ...],
    messages_file: str | None,
    turns: int,
    think_time: float,
    turn_timeout: float,
    max_in_flight: int,
    tool_answer: Any,
    json_path: str | None,
) -> None:
    """Load-test the target: virtual users hold conversations; latencies, throughput and errors are reported."""
    from ..load import LoadPlan, LoadTarget, run

    if (users is None) == (rate is None):
        raise click.UsageError("give --users N (closed model) or --rate R (open model)")
    if spawn_rate is not None and users is None:
        raise click.UsageError("--spawn-rate goes with --users; the open model's pace is --rate")
    if message_texts and messages_file:
        raise click.UsageError("give --message or --messages FILE, not both")
    messages = _read_messages(messages_file) if messages_file else [m for m in message_texts if m.strip()]
    if message_texts and not messages:
        raise click.BadParameter("messages must not be empty", param_hint="--message")

    if target.server_url is None and not target.api_key and not target.client_secret:
        raise click.UsageError(
            "no ChatKit backend given: pass --server-url URL (or set CHATKIT_SERVER_URL) for your own "
            "server, or --api-key KEY (or set OPENAI_API_KEY) for OpenAI's hosted API"
        )
    if target.server_url is None and not target.client_secret and not target.workflow:
        raise click.UsageError("hosted load needs a workflow: pass --workflow wf_... or set CHATKIT_WORKFLOW_ID")
    plan = LoadPlan(
        duration=duration,
        users=users,
        rate=rate,
        spawn_rate=spawn_rate,
        turns=turns,
        think_time=think_time,
        turn_timeout=turn_timeout,
        max_in_flight=max_in_flight,
        tool_answer=tool_answer,
        messages=messages or LoadPlan.messages,
    )
    load_target = LoadTarget(
        server_url=target.server_url,
        headers=target.headers,
        api_key=target.api_key,
        base_url=target.base_url,
        workflow=target.workflow,
        user=target.user or "load",
        client_secret=target.client_secret,
    )
    if sys.stdout.isatty():
        from ..load._live import LiveView

        with LiveView(duration=duration) as view:
            report = run(plan, load_target, on_progress=view.update)
    else:
        report = run(plan, load_target)
    click.echo(report.render_text())
    if json_path:
        with open(json_path, "w", encoding="utf-8") as out:
            json.dump(report.to_dict(), out)
        click.echo(f"report: {json_path}", err=True)
    summary = report.summary()
    if summary["turns"] == 0 and summary["failed_turns"]:
        kinds = ", ".join(f"{kind} ×{n}" for kind, n in summary["errors"].items())
        click.echo(f"Error: every turn failed ({kinds})", err=True)
        raise click.exceptions.Exit(1)
