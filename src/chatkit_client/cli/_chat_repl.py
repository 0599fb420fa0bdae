"""`chatkit chat`: the interactive loop, its slash commands and the pending client tool calls."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import click

from . import _render
from ._errors import describe_error

if TYPE_CHECKING:
    from .._sync.chat import Chat, ChatStream
    from ..types import StructuredInputItem, StructuredInputQuestion
    from ._target import Target

__all__ = ["HELP", "Repl"]

HELP = """\
Type a message and press Enter. Slash commands:
  /new            start a new thread
  /threads        list your threads
  /open ID        continue thread ID
  /file PATH      attach a file to the next message
  /retry          answer the last message again
  /rename TITLE   rename this thread
  //TEXT          send /TEXT (a message that starts with a slash)
  /help           this help
  /quit           leave (or Ctrl-D)
Ctrl-C stops the answer being streamed."""

PROMPT = "you> "


class Repl:
    """The conversation loop: one prompt per turn, answers streamed, slash commands handled in between.

    >>> Repl(target).run()  # doctest: +SKIP
    """

    def __init__(self, target: Target, *, thread_id: str | None = None, read: Callable[[str], str] = input) -> None:
        self._target = target
        self._read = read
        self._files: list[str] = []
        # Piped into a script, a failed turn must show in the exit status, as `chatkit send` does.
        self.failed = False
        self._chat: Chat = target.chat(thread_id=thread_id, uploads=True)
        self._live = _render.stdout_is_terminal()
        self._out = _render.console()
        try:
            # Importing readline is what gives input() line editing and history for this session.
            import readline  # noqa: F401
        except ImportError:  # pragma: no cover - Windows without pyreadline
            pass

    # -- output helpers ----------------------------------------------------------------------------
    def _say(self, line: str, style: str = "") -> None:
        if self._live:
            from rich.text import Text

            self._out.print(Text(line, style=style))
        else:
            click.echo(line)

    def _error(self, err: BaseException) -> None:
        self.failed = True
        self._say(f"Error: {describe_error(err)}", "bold red")

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        if self._chat.thread_id:
            self._say(f"continuing thread {self._chat.thread_id}", "dim")
        self._say("Type /help for commands, Ctrl-D to leave.", "dim")
        while True:
            try:
                line = self._read(PROMPT)
            except EOFError:
                click.echo()
                return
            except KeyboardInterrupt:
                # At the prompt Ctrl-C only clears the line, as in a shell.
                click.echo()
                continue
            line = line.strip()
            if not line:
                continue
            if line.startswith("//"):
                line = line[1:]
            elif line.startswith("/"):
                if self._command(line) is False:
                    return
                continue
            files, self._files = self._files, []
            self._turn(partial(self._chat.stream, line, files=files or None))

    # -- slash commands ----------------------------------------------------------------------------
    def _command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        try:
            if name in ("/quit", "/exit"):
                return False
            if name == "/help":
                self._say(HELP)
            elif name == "/new":
                self._chat.new_thread()
                self._files = []
                self._say("new thread: the next message starts it", "dim")
            elif name == "/threads":
                self._threads()
            elif name == "/open":
                self._open(arg)
            elif name == "/file":
                self._attach(arg)
            elif name == "/retry":
                if not self._chat.thread_id:
                    self._say("nothing to retry yet", "yellow")
                else:
                    self._turn(self._chat.stream_retry)
            elif name == "/rename":
                if not arg:
                    self._say("usage: /rename TITLE", "yellow")
                elif not self._chat.thread_id:
                    self._say("no thread yet: send a message first", "yellow")
                else:
                    thread = self._chat.rename(arg)
                    self._say(f"renamed: {_render.safe(thread.title)}", "dim")
            else:
                self._say(f"unknown command {name}; /help lists them", "yellow")
        except Exception as err:
            if self._target.debug:
                raise
            self._error(err)
        return True

    def _threads(self) -> None:
        from itertools import islice

        found = list(islice(self._chat.threads(limit=20), 20))
        if not found:
            self._say("no threads yet", "dim")
            return
        current = self._chat.thread_id
        for thread in found:
            marker = "*" if thread.id == current else " "
            self._say(f"{marker} {_render.safe(thread.id)}  {_render.safe(thread.title) or '(untitled)'}")

    def _open(self, thread_id: str) -> None:
        if not thread_id:
            self._say("usage: /open ID", "yellow")
            return
        # Checked first, so a typo leaves the current conversation alone.
        thread = self._chat.get_thread(thread_id)
        self._chat = self._target.chat(thread_id=thread.id, uploads=True)
        self._say(f"opened {_render.safe(thread.id)}: {_render.safe(thread.title) or '(untitled)'}", "dim")

    def _attach(self, path: str) -> None:
        path = os.path.expanduser(path)
        if not path:
            self._say("usage: /file PATH", "yellow")
        elif not os.path.isfile(path):
            self._say(f"no such file: {path}", "yellow")
        else:
            self._files.append(path)
            self._say(f"attached {os.path.basename(path)} to the next message", "dim")

    # -- turns -----------------------------------------------------------------------------------
    def _turn(self, open_stream: Callable[[], ChatStream]) -> None:
        view: _render.TurnView = _render.LiveView(self._out) if self._live else _render.PlainView()
        stream: ChatStream | None = None
        try:
            stream = open_stream()
            with stream:
                for event in stream:
                    _render.render_event(view, event)
        except KeyboardInterrupt:
            view.finish()
            # Leaving the `with` closed the response, so the server sees the client go away.
            self._say("[stopped]", "yellow")
            return
        except Exception as err:
            view.finish()
            if self._target.debug:
                raise
            self._error(err)
            return
        view.finish()
        pending = stream.reply.pending_client_tool_call
        if pending is not None:
            self._answer_tool_call(pending.name, pending.arguments)
            return
        questions = stream.reply.pending_structured_input
        if questions is not None:
            self._answer_structured_input(questions)

    def _answer_structured_input(self, item: StructuredInputItem) -> None:
        """Ask each question of a pending structured input, then send the answers.

        Options are picked by number or typed out (several, comma-separated, when the question allows it);
        an empty answer skips the question; Ctrl-D or Ctrl-C leaves the whole input pending.
        """
        answers: dict[str, list[str] | None] = {}
        for question in item.inputs:
            self._say(_printable(question.question) or question.id, "bold yellow")
            if question.description:
                self._say("  " + _printable(question.description), "dim")
            for number, option in enumerate(question.options, start=1):
                self._say(f"  {number}) {_printable(option.value)}")
            hint = "numbers or text, comma-separated" if question.multiple else "a number or text"
            try:
                raw = self._read(f"answer ({hint}, empty to skip)> ").strip()
            except (EOFError, KeyboardInterrupt):
                click.echo()
                self._say("not answered: the questions stay pending", "dim")
                return
            answers[question.id] = _parse_answer(question, raw) if raw else None
        skipped = all(value is None for value in answers.values())
        self._turn(lambda: self._chat.stream_structured_input(item.id, answers, skipped=skipped))

    def _answer_tool_call(self, name: str, arguments: dict[str, Any]) -> None:
        """Ask the user for the client tool's result; an empty line leaves the call pending."""
        self._say(f"client tool {_render.safe(name)} called with {_render.json_text(arguments)}", "yellow")
        while True:
            try:
                raw = self._read("result (JSON, empty to skip)> ").strip()
            except (EOFError, KeyboardInterrupt):
                click.echo()
                raw = ""
            if not raw:
                self._say("skipped: the call stays pending", "dim")
                return
            try:
                result = json.loads(raw)
            except ValueError as err:
                self._say(f"not JSON ({err}); try again", "yellow")
                continue
            break
        self._turn(lambda: self._chat.stream_tool_output(result))


def _printable(text: str, limit: int = 500) -> str:
    """Server text for the terminal: no control characters (escape sequences), bounded length."""
    shown = "".join(char if char.isprintable() else " " for char in text[:limit])
    return shown if len(text) <= limit else shown + "..."


def _parse_answer(question: StructuredInputQuestion, raw: str) -> list[str]:
    """The values of one typed answer: option numbers become their values, anything else is kept as text."""
    parts = [part.strip() for part in raw.split(",")] if question.multiple else [raw]
    values = []
    for part in parts:
        if part.isdigit() and 1 <= int(part) <= len(question.options):
            values.append(question.options[int(part) - 1].value)
        elif part:
            values.append(part)
    return values
