"""How a turn, a thread or a list looks in the terminal: rich when stdout is a terminal, plain text otherwise.

Imported only by commands that print, so `chatkit --help` never pays for rich or pydantic.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import click

from ._terminal_text import DeltaNeutraliser, neutralise

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions

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

_JSON_UNESCAPED = re.compile("[\x7f-\x9f]")
_REFRESHES_PER_SECOND = 10
# The live preview of a very long paragraph parses only its end (the part on the screen).
_PREVIEW_CHARS = 8000
_NOTICE_STYLES = {"info": "cyan", "warning": "yellow", "danger": "bold red", "error": "bold red"}


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def echo_json(value: Any) -> None:
    """One compact JSON document on one line, for `jq` and friends."""
    click.echo(json_text(value, separators=(",", ":")))


def json_text(value: Any, **options: Any) -> str:
    """JSON with every control character escaped: JSON escapes C0 itself, and DEL and C1 here.

    Those can only stand inside strings, so `\\u009b` for U+009B is the same document, safe for a terminal.
    """
    text = json.dumps(value, ensure_ascii=False, default=str, **options)
    return _JSON_UNESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def safe(text: str | None, *, multiline: bool = False) -> str:
    """Server text for one line of output (a title, an id, a cell); `multiline` keeps newlines and tabs."""
    return neutralise(text or "", multiline=multiline)


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
        self._pieces = DeltaNeutraliser()

    def text(self, delta: str) -> None:
        if self._pending_break and self._wrote_text:
            click.echo("\n", nl=False)
        self._pending_break = False
        click.echo(self._pieces.feed(delta), nl=False)
        self._wrote_text = True

    def new_message(self) -> None:
        self._pieces.end()
        self._pending_break = True

    def status(self, line: str | None) -> None:
        # A status repeats as tasks update; print each distinct line once.
        if line and line != self._last_status:
            self._break_line()
            click.echo(f"… {neutralise(line, multiline=False)}", err=True)
        self._last_status = line

    def note(self, line: str, style: str) -> None:
        self._break_line()
        click.echo(neutralise(line), err=True)

    def finish(self) -> None:
        self._break_line()

    def _break_line(self) -> None:
        if self._wrote_text:
            click.echo()
            self._wrote_text = False
            self._pending_break = True


class _Tail:
    """The block of Markdown being streamed: drawn by rich.live at its own pace, never once per delta.

    Only the last screenful shows (the newest text is what a reader follows), and only the block's last
    `_PREVIEW_CHARS` are parsed, so one refresh costs the same however long the answer grows.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line = ""
        self.status: str | None = None

    def text(self) -> str:
        return "".join(self.lines) + self.line

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        from rich.markdown import Markdown
        from rich.segment import Segment
        from rich.text import Text

        text = self.text()
        room = max(1, options.size.height - 2)
        # A screenful of rendered lines never holds more text than this: the rest would be cut off anyway.
        bound = min(_PREVIEW_CHARS, options.size.width * room)
        if len(text) > bound:
            cut = text.find("\n", len(text) - bound)
            text = text[cut + 1 :] if 0 <= cut < len(text) - 1 else text[-bound:]
        if text.strip():
            lines = console.render_lines(Markdown(text), options.update(height=None), pad=False)
            for line in lines[-room:]:
                yield from line
                yield Segment.line()
        if self.status:
            yield Text(f"… {self.status}", style="dim italic")


class LiveView:
    """The answer as Markdown, in time linear in its length, with a status line under it (rich.live).

    A finished block (a paragraph, list or code block: text up to a blank line outside a code fence) is
    printed once above the live region and never drawn again; the live region holds only the block in
    progress and is redrawn at most `_REFRESHES_PER_SECOND` times a second, whatever the rate of deltas.
    """

    def __init__(self, console: Console) -> None:
        from rich.live import Live

        self._console = console
        self._tail = _Tail()
        self._in_fence = False
        self._printed_block = False
        self._pieces = DeltaNeutraliser()
        self._live = Live(
            self._tail,
            console=console,
            refresh_per_second=_REFRESHES_PER_SECOND,
            transient=False,
            auto_refresh=True,
        )
        self._live.start()

    def text(self, delta: str) -> None:
        tail = self._tail
        pieces = self._pieces.feed(delta).split("\n")
        for piece in pieces[:-1]:
            self._end_line(tail.line + piece + "\n")
            tail.line = ""
        tail.line += pieces[-1]

    def _end_line(self, line: str) -> None:
        tail = self._tail
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            self._in_fence = not self._in_fence
        if not stripped and not self._in_fence and any(part.strip() for part in tail.lines):
            # A blank line outside a fence ends the block: it will not change any more.
            self._print_block()
        else:
            tail.lines.append(line)

    def _print_block(self) -> None:
        from rich.markdown import Markdown
        from rich.segment import Segment, Segments

        tail = self._tail
        block = "".join(tail.lines)
        tail.lines = []
        if not block.strip():
            return
        lines = self._console.render_lines(Markdown(block), self._console.options)
        # Rendered alone, a block may begin or end with rich's spacing: exactly one blank line separates
        # blocks, as when the whole answer is rendered at once.
        while lines and _is_blank(lines[0]):
            lines.pop(0)
        while lines and _is_blank(lines[-1]):
            lines.pop()
        segments: list[Segment] = [Segment.line()] if self._printed_block else []
        for line in lines:
            segments += [*line, Segment.line()]
        self._console.print(Segments(segments), end="")
        self._printed_block = True

    def new_message(self) -> None:
        self._flush_message()

    def status(self, line: str | None) -> None:
        self._tail.status = neutralise(line, multiline=False) if line else None

    def note(self, line: str, style: str) -> None:
        from rich.text import Text

        self._flush_message()
        self._console.print(Text(neutralise(line), style=style))

    def _flush_message(self) -> None:
        # The whole of what is left is rendered once, at its full size, above the live region.
        tail = self._tail
        if tail.line:
            tail.lines.append(tail.line)
            tail.line = ""
        self._in_fence = False
        self._pieces.end()
        self._print_block()
        self._printed_block = False

    def finish(self) -> None:
        self._flush_message()
        self._tail.status = None
        self._live.stop()


def _is_blank(line: list[Any]) -> bool:
    """A rendered line with nothing on it (a code block's padding has a background, so it is not blank)."""
    return all(not segment.text.strip() and not (segment.style and segment.style.bgcolor) for segment in line)


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
    rows = [[thread.id, thread.title or "", _when(thread), thread.status.type] for thread in threads]
    _table(console, ["id", "title", "created", "status"], rows, wrap={"title"})


def items_table(items: Iterable[ThreadItem], console: Console) -> None:
    rows = [[item.id, str(getattr(item, "type", "")), _when(item), item_summary(item)] for item in items]
    _table(console, ["id", "type", "created", "content"], rows, wrap={"content"})


def _table(console: Console, columns: list[str], rows: list[list[str]], *, wrap: set[str]) -> None:
    """A terminal gets a rich table fitted to its width; a pipe gets one line per row, nothing padded."""
    if not console.is_terminal:
        # Scripts read this line by line: a cell never wraps, and no line ends in padding.
        cells = [columns, *([safe(" ".join(cell.splitlines())) for cell in row] for row in rows)]
        widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
        for line in cells:
            console.out("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        return

    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for index, name in enumerate(columns):
        if name in wrap:
            table.add_column(name)
        else:
            # Ids are what people copy into the next command: never cut or wrapped, whatever the width.
            widest = max((len(row[index]) for row in rows), default=len(name))
            table.add_column(name, no_wrap=True, min_width=widest if name == "id" else None)
    for row in rows:
        # Text, not str: rich would read `[link=...]` or `[blink]` in a server's title as its own markup.
        table.add_row(*(Text(safe(cell, multiline=name in wrap)) for cell, name in zip(row, columns, strict=True)))
    console.print(table)


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    # Looked up now, not at import, so a redirected sys.stdout (CliRunner, pipes) is the one written to.
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False)
