"""How a turn, a thread or a list looks in the terminal: rich when stdout is a terminal, plain text otherwise.

Imported only by commands that print, so `chatkit --help` never pays for rich or pydantic.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import click

if TYPE_CHECKING:
    from rich.console import Console

    from ..types import ThreadItem, ThreadMetadata, ThreadStreamEvent

__all__ = [
    "LiveView",
    "PlainView",
    "TurnView",
    "console",
    "echo_json",
    "item_summary",
    "items_table",
    "render_event",
    "stdout_is_terminal",
    "thread_table",
    "widget_summary",
]

_NOTICE_STYLES = {"info": "cyan", "warning": "yellow", "danger": "bold red", "error": "bold red"}


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def echo_json(value: Any) -> None:
    """One compact JSON document on one line, for `jq` and friends."""
    click.echo(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


class TurnView(Protocol):
    """Where a streamed turn goes: answer text, a transient status line and notes that stand out."""

    def text(self, delta: str) -> None: ...
    def new_message(self) -> None: ...
    def status(self, line: str | None) -> None: ...
    def note(self, line: str, style: str) -> None: ...
    def finish(self) -> None: ...


class PlainView:
    """Text to stdout as it arrives; status lines and notes to stderr, so stdout stays the answer alone."""

    def __init__(self) -> None:
        self._wrote_text = False
        self._pending_break = False
        self._last_status: str | None = None

    def text(self, delta: str) -> None:
        if self._pending_break and self._wrote_text:
            click.echo("\n", nl=False)
        self._pending_break = False
        click.echo(delta, nl=False)
        self._wrote_text = True

    def new_message(self) -> None:
        self._pending_break = True

    def status(self, line: str | None) -> None:
        # A status repeats as tasks update; print each distinct line once.
        if line and line != self._last_status:
            self._break_line()
            click.echo(f"… {line}", err=True)
        self._last_status = line

    def note(self, line: str, style: str) -> None:
        self._break_line()
        click.echo(line, err=True)

    def finish(self) -> None:
        self._break_line()

    def _break_line(self) -> None:
        if self._wrote_text:
            click.echo()
            self._wrote_text = False
            self._pending_break = True


class LiveView:
    """The answer re-rendered as Markdown as it grows, with a status line under it (rich.live)."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self._console = console
        self._done: list[str] = []
        self._current = ""
        self._status: str | None = None
        self._live = Live(console=console, refresh_per_second=12, transient=False, auto_refresh=False)
        self._live.start()

    def _renderable(self) -> Any:
        from rich.console import Group
        from rich.markdown import Markdown
        from rich.text import Text

        parts: list[Any] = [Markdown(self._current)] if self._current else []
        if self._status:
            parts.append(Text(f"… {self._status}", style="dim italic"))
        return Group(*parts)

    def _refresh(self) -> None:
        self._live.update(self._renderable(), refresh=True)

    def text(self, delta: str) -> None:
        self._current += delta
        self._refresh()

    def new_message(self) -> None:
        self._flush_message()

    def status(self, line: str | None) -> None:
        self._status = line
        self._refresh()

    def note(self, line: str, style: str) -> None:
        from rich.text import Text

        self._flush_message()
        self._console.print(Text(line, style=style))

    def _flush_message(self) -> None:
        # Finished text moves above the live region, so the region only ever redraws the message in progress.
        if self._current:
            from rich.markdown import Markdown

            current, self._current = self._current, ""
            self._live.update(self._renderable(), refresh=True)
            self._console.print(Markdown(current))

    def finish(self) -> None:
        self._status = None
        self._live.update(self._renderable(), refresh=True)
        self._live.stop()


def render_event(view: TurnView, event: ThreadStreamEvent) -> None:
    """Show one stream event; events with nothing to show (stream options, item bookkeeping) are skipped."""
    from ..types import (
        AssistantMessageContentPartTextDelta,
        AssistantMessageItem,
        ClientEffectEvent,
        ClientToolCallItem,
        NoticeEvent,
        ProgressUpdateEvent,
        ThreadItemAddedEvent,
        ThreadItemDoneEvent,
        ThreadItemUpdatedEvent,
        WidgetItem,
        WorkflowItem,
        WorkflowTaskAdded,
        WorkflowTaskUpdated,
    )

    if isinstance(event, ThreadItemUpdatedEvent):
        update = event.update
        if isinstance(update, AssistantMessageContentPartTextDelta):
            view.text(update.delta)
        elif isinstance(update, WorkflowTaskAdded | WorkflowTaskUpdated):
            task = update.task
            view.status(task.title or task.content or task.type)
    elif isinstance(event, ThreadItemAddedEvent) and isinstance(event.item, AssistantMessageItem):
        view.new_message()
    elif isinstance(event, ProgressUpdateEvent):
        view.status(event.text or None)
    elif isinstance(event, NoticeEvent):
        title = f"{event.title}: " if event.title else ""
        view.note(f"[{event.level}] {title}{event.message}", _NOTICE_STYLES.get(event.level, "cyan"))
    elif isinstance(event, ClientEffectEvent):
        view.note(f"[effect] {event.name} {json.dumps(event.data, ensure_ascii=False)}", "magenta")
    elif isinstance(event, ThreadItemDoneEvent):
        item = event.item
        if isinstance(item, WidgetItem):
            view.note(f"[widget] {widget_summary(item.widget)}", "green")
        elif isinstance(item, WorkflowItem):
            view.status(None)
            view.note(f"[workflow] {_workflow_summary(item)}", "blue")
        elif isinstance(item, ClientToolCallItem) and item.output is None:
            args = json.dumps(item.arguments, ensure_ascii=False)
            view.note(f"[client tool call] {item.name} {args}", "yellow")


def _workflow_summary(item: Any) -> str:
    workflow = item.workflow
    titles = [task.title or task.content or task.type for task in workflow.tasks]
    summary = workflow.summary
    tail = ""
    if summary is not None:
        tail = f" ({summary.title})" if summary.title else f" ({summary.duration} s)" if summary.duration else ""
    if not titles:
        return "done" + tail
    return f"{len(titles)} task(s): " + "; ".join(titles) + tail


def _widget_texts(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        kind = node.get("type")
        if kind == "Button":
            label = node.get("label")
            if isinstance(label, str) and label:
                yield f"[{label}]"
        else:
            for key in ("title", "value", "label"):
                value = node.get(key)
                if isinstance(value, str) and value.strip():
                    yield value.strip()
                    break
        for child in node.get("children") or ():
            yield from _widget_texts(child)
    elif isinstance(node, list):
        for child in node:
            yield from _widget_texts(child)


def widget_summary(widget: Mapping[str, Any], *, limit: int = 160) -> str:
    """A widget as one readable line: its type, then its texts and [buttons] in reading order."""
    kind = widget.get("type", "widget")
    text = " · ".join(_widget_texts(widget.get("children") or []))
    line = f"{kind}: {text}" if text else str(kind)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def item_summary(item: ThreadItem) -> str:
    """The gist of a thread item, for tables."""
    from ..types import (
        AssistantMessageItem,
        ClientToolCallItem,
        UserMessageItem,
        WidgetItem,
        WorkflowItem,
    )

    if isinstance(item, UserMessageItem):
        text = " ".join(part.text for part in item.content)
        names = [a.name or a.id for a in item.attachments]
        return text + (f" (+ {', '.join(names)})" if names else "")
    if isinstance(item, AssistantMessageItem):
        return "\n\n".join(part.text for part in item.content)
    if isinstance(item, ClientToolCallItem):
        return f"{item.name} {json.dumps(item.arguments)} -> {json.dumps(item.output)}"
    if isinstance(item, WidgetItem):
        return widget_summary(item.widget)
    if isinstance(item, WorkflowItem):
        return _workflow_summary(item)
    return ""


def _when(thread: ThreadMetadata | ThreadItem) -> str:
    created = thread.created_at
    return created.strftime("%Y-%m-%d %H:%M") if created is not None else ""


def thread_table(threads: Iterable[ThreadMetadata], console: Console) -> None:
    from rich.table import Table

    threads = list(threads)
    table = Table(box=None, pad_edge=False)
    # Ids are what people copy into the next command: never cut or wrapped, whatever the width.
    table.add_column("id", no_wrap=True, min_width=max((len(t.id) for t in threads), default=2))
    table.add_column("title")
    table.add_column("created", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for thread in threads:
        table.add_row(thread.id, thread.title or "", _when(thread), thread.status.type)
    console.print(table)


def items_table(items: Iterable[ThreadItem], console: Console) -> None:
    from rich.table import Table

    items = list(items)
    table = Table(box=None, pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=max((len(i.id) for i in items), default=2))
    table.add_column("type", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("content")
    for item in items:
        table.add_row(item.id, str(getattr(item, "type", "")), _when(item), item_summary(item))
    console.print(table)


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    # Looked up now, not at import, so a redirected sys.stdout (CliRunner, pipes) is the one written to.
    stream = sys.stderr if stderr else sys.stdout
    # Piped output has no width to fit; rich's 80 columns would wrap rows that scripts read line by line.
    return Console(file=stream, highlight=False, width=None if stream.isatty() else 200)
