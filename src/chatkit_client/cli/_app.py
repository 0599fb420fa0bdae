"""The `chatkit` click group and its commands.

Only click and the small CLI modules (`_target`, `_threads_backend`, ...) are imported at module level:
`_render`, the client (pydantic, httpx2) and rich load when a command first needs them, so `chatkit --help`
starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .._version import __version__
from ._conformance import conformance
from ._errors import EXIT_INTERRUPTED, describe_error
from ._load import load
from ._target import TARGET_OPTIONS as TARGET_OPTIONS
from ._target import Target, accept_target_options, check_url, parse_headers, pass_target
from ._threads_backend import threads_backend, uses_admin_api

__all__ = ["Target", "cli"]


class _OnFirstUse:
    """Stands in for a module and imports it at the first attribute look-up."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            import importlib

            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


if TYPE_CHECKING:
    from types import ModuleType

    from . import _render
else:
    # The one import of the output helpers: type-checked as the module, loaded only by a command that prints.
    _render = _OnFirstUse(f"{__package__}._render")

_LARGE_FILE = 1024 * 1024
# Where the bytes were to be sent: spent once the upload is done, and no use to whoever reads the output.
_SPENT_UPLOAD_FIELDS = {"upload_descriptor", "upload_url"}


class _Group(click.Group):
    """Turns every failure into one `Error: ...` line (exit 1) and Ctrl-C into exit 130.

    Every command or group added to it (`@cli.command()`, `@threads.command()`, `cli.add_command(...)`) also
    accepts the target options after its name (`chatkit send hi --server-url URL`); see `TARGET_OPTIONS`.
    Sub-groups made with `@group.group()` are `_Group`s too, so this holds at any depth.
    """

    group_class = type

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        accept_target_options(cmd)
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`chatkit ... | head`): nothing left to say, and nowhere to say it.
            _silence_stdout()
            ctx.exit(1)
        except Exception as err:
            target = ctx.obj
            if isinstance(target, Target) and target.debug:
                raise
            from .._exceptions import ConfigurationError, InvalidInputError

            # Refused before any request: the command line asked for something impossible.
            _fail(describe_error(err), code=2 if isinstance(err, ConfigurationError | InvalidInputError) else 1)


def _silence_stdout() -> None:
    import os

    try:
        # Python flushes stdout again at exit; pointing it at /dev/null keeps that from raising a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _fail(message: str, *, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise click.exceptions.Exit(code)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog="""\b
Examples:
  chatkit --server-url http://127.0.0.1:8000/chatkit chat
  OPENAI_API_KEY=sk-... chatkit --workflow wf_123 send "Hello"
  chatkit dev-server        # a local server and hosted-API emulator to try it all offline
""",
)
@click.version_option(__version__, "--version", prog_name="chatkit")
@click.option(
    "--server-url",
    envvar="CHATKIT_SERVER_URL",
    show_envvar=True,
    metavar="URL",
    callback=check_url,
    help="Your ChatKit server URL.",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    callback=parse_headers,
    help="A header for the self-hosted server; repeatable.",
)
@click.option("--api-key", envvar="OPENAI_API_KEY", metavar="KEY", help="OpenAI API key (hosted).", show_envvar=True)
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    metavar="URL",
    callback=check_url,
    help="Hosted API base URL.",
    show_envvar=True,
)
@click.option("--workflow", envvar="CHATKIT_WORKFLOW_ID", metavar="ID", help="Workflow id (hosted).", show_envvar=True)
@click.option("--user", envvar="CHATKIT_USER", metavar="ID", help="End-user id (hosted).", show_envvar=True)
@click.option(
    "--client-secret",
    envvar="CHATKIT_CLIENT_SECRET",
    metavar="SECRET",
    show_envvar=True,
    help="Use an existing hosted session instead of creating one.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context,
    server_url: str | None,
    headers: dict[str, str],
    api_key: str | None,
    base_url: str | None,
    workflow: str | None,
    user: str | None,
    client_secret: str | None,
    debug: bool,
) -> None:
    """Talk to a ChatKit backend from the terminal: OpenAI's hosted API or your own ChatKit server.

    The options above may also follow the command (`chatkit send hi --server-url URL`); given in both
    places, the one after the command wins.
    """
    target = Target(
        server_url=server_url,
        headers=headers,
        api_key=api_key,
        base_url=base_url,
        workflow=workflow,
        user=user,
        client_secret=client_secret,
        debug=debug,
    )
    ctx.obj = target
    ctx.call_on_close(target.close)


cli.add_command(conformance)


# -- chat ------------------------------------------------------------------------------------------
@cli.command(
    epilog="""\b
Example:
  chatkit --server-url http://127.0.0.1:8000/chatkit chat
  you> hello
  You said: hello
  you> /help
"""
)
@click.option("--thread", "thread_id", metavar="ID", help="Continue this thread.")
@pass_target
def chat(target: Target, thread_id: str | None) -> None:
    """An interactive conversation (type /help for the slash commands; Ctrl-D leaves).

    With its input piped, the exit status is 1 when a turn or a command failed.
    """
    from ._chat_repl import Repl

    repl = Repl(target, thread_id=thread_id)
    repl.run()
    if repl.failed and not sys.stdin.isatty():
        # Typed at a terminal, the error was seen and the conversation went on; from a script, it must show.
        click.get_current_context().exit(1)


# -- send ------------------------------------------------------------------------------------------
@cli.command(
    epilog="""\b
Examples:
  chatkit send "What's in this file?" --file report.pdf
  echo "Hello" | chatkit send - --json | jq -c .type
  THREAD=$(chatkit send "Hi" 2>&1 >/dev/null | sed -n 's/^thread: //p')
"""
)
@click.argument("text")
@click.option(
    "--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False), help="Attach a file; repeatable."
)
@click.option("--thread", "thread_id", metavar="ID", help="Continue this thread instead of starting one.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line (NDJSON).")
@pass_target
def send(target: Target, text: str, files: tuple[str, ...], thread_id: str | None, as_json: bool) -> None:
    """Send one message (TEXT, or `-` to read it from stdin); the answer streams to stdout, the thread id to stderr."""
    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    if not text.strip() and not files:
        raise click.UsageError("nothing to send: TEXT is empty and no --file was given")
    conversation = target.chat(thread_id=thread_id, uploads=bool(files))
    view = _render.PlainView()
    stream = conversation.stream(text or None, files=list(files) or None)
    try:
        with stream:
            for event in stream:
                if as_json:
                    _render.echo_json(event.model_dump(mode="json", exclude_none=True))
                else:
                    _render.render_event(view, event)
    finally:
        view.finish()
        thread = conversation.thread_id or stream.reply.thread_id
        if thread:
            click.echo(f"thread: {_render.safe(thread)}", err=True)
    pending = stream.reply.pending_client_tool_call
    if pending is not None and not as_json:
        click.echo(
            f"the thread waits for the output of client tool {_render.safe(pending.name)!r}; "
            f"answer it with `chatkit chat --thread {_render.safe(conversation.thread_id)}`",
            err=True,
        )


# -- threads ---------------------------------------------------------------------------------------
@cli.group(
    cls=_Group,
    epilog="""\b
Examples:
  chatkit --server-url http://127.0.0.1:8000/chatkit threads list
  chatkit --user user_123 threads list --json | jq -r .id     # hosted admin API (API key)
  chatkit threads items cthr_123
""",
)
def threads() -> None:
    """List, show, rename and delete threads.

    Over the conversation protocol for self-hosted servers and hosted sessions (--client-secret), or through
    the hosted admin API when only an API key is given (--user filters).
    """


def _json_option(func: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line).")(func)


@threads.command(
    "list",
    epilog="""\b
Example:
  chatkit threads list --limit 5
""",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many threads.")
@_json_option
@pass_target
def threads_list(target: Target, limit: int, as_json: bool) -> None:
    """The newest threads first."""
    from itertools import islice

    found = list(islice(threads_backend(target).list(page_size=min(limit, 100)), limit))
    if as_json:
        for thread in found:
            _render.echo_json(thread.model_dump(mode="json", exclude_none=True, exclude={"items"}))
    elif not found:
        click.echo("no threads", err=True)
    else:
        _render.thread_table(found, _render.console())


@threads.command(
    "show",
    epilog="""\b
Example:
  chatkit threads show cthr_123 --json
""",
)
@click.argument("thread_id", metavar="ID")
@_json_option
@pass_target
def threads_show(target: Target, thread_id: str, as_json: bool) -> None:
    """A thread's id, title, creation time and status."""
    thread = threads_backend(target).show(thread_id)
    if as_json:
        _render.echo_json(thread.model_dump(mode="json", exclude_none=True, exclude={"items"}))
        return
    rows = {
        "id": thread.id,
        "title": thread.title or "",
        "created": thread.created_at.isoformat() if thread.created_at else "",
        "status": thread.status.type,
    }
    user = getattr(thread, "user", None)  # the admin API's threads name their user; the protocol's do not
    if user:
        rows["user"] = user
    for key, value in rows.items():
        click.echo(f"{key + ':':9}{_render.safe(value)}")


@threads.command(
    "items",
    epilog="""\b
Example:
  chatkit threads items cthr_123 --json | jq -r .type
""",
)
@click.argument("thread_id", metavar="ID")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many items.")
@_json_option
@pass_target
def threads_items(target: Target, thread_id: str, limit: int, as_json: bool) -> None:
    """A thread's items, oldest first."""
    from itertools import islice

    found = list(islice(threads_backend(target).items(thread_id, page_size=min(limit, 100)), limit))
    if as_json:
        for item in found:
            _render.echo_json(item.model_dump(mode="json", exclude_none=True))
    else:
        _render.items_table(found, _render.console())


@threads.command(
    "rename",
    epilog="""\b
Example:
  chatkit threads rename cthr_123 "Trip to Lisbon"
""",
)
@click.argument("thread_id", metavar="ID")
@click.argument("title")
@_json_option
@pass_target
def threads_rename(target: Target, thread_id: str, title: str, as_json: bool) -> None:
    """Set a thread's title (over the protocol: self-hosted, or hosted with --client-secret)."""
    thread = threads_backend(target).rename(thread_id, title)
    if as_json:
        _render.echo_json(thread.model_dump(mode="json", exclude_none=True, exclude={"items"}))
    else:
        click.echo(f"renamed {_render.safe(thread.id)}: {_render.safe(thread.title)}")


@threads.command(
    "delete",
    epilog="""\b
Example:
  chatkit threads delete cthr_123
""",
)
@click.argument("thread_id", metavar="ID")
@_json_option
@pass_target
def threads_delete(target: Target, thread_id: str, as_json: bool) -> None:
    """Delete a thread and its items."""
    threads_backend(target).delete(thread_id)
    if as_json:
        _render.echo_json({"id": thread_id, "deleted": True})
    else:
        click.echo(f"deleted {thread_id}")


@threads.command(
    "export",
    epilog="""\b
Examples:
  chatkit --server-url http://127.0.0.1:8000/chatkit threads export --all --output backup.jsonl
  chatkit --user user_123 threads export --output user_123.jsonl      # hosted admin API (API key)
  chatkit threads export cthr_1 cthr_2 --output two.jsonl
""",
)
@click.argument("thread_ids", nargs=-1, metavar="[THREAD_ID]...")
@click.option("--all", "export_all", is_flag=True, help="Every thread the backend lists (all users with an API key).")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    metavar="FILE.jsonl",
    help="Where to write (- for stdout).",
)
@pass_target
def threads_export(target: Target, thread_ids: tuple[str, ...], export_all: bool, output: str) -> None:
    """Write threads with all of their items to FILE.jsonl, one JSON object per line.

    Give THREAD_IDs, or --all, or (hosted admin API) --user USER for that user's threads. Over the protocol
    (self-hosted, or --client-secret) every thread the server lists for this caller is exported. A progress bar
    shows on stderr in a terminal. The file appears only once the export is complete.
    """
    import os

    from .._core.export import export_line

    if thread_ids and export_all:
        raise click.UsageError("pass THREAD_IDs or --all, not both")
    admin_api = uses_admin_api(target)
    by_user = not thread_ids and not export_all and admin_api and bool(target.user)
    if not thread_ids and not export_all and not by_user:
        with_user = ", --user USER" if admin_api else ""
        raise click.UsageError(f"say which threads to export: THREAD_ID...{with_user} or --all")
    ids = list(thread_ids) or None
    backend = threads_backend(target)
    with _export_progress(len(thread_ids) or None) as advance:
        records = backend.export(ids, user=target.user if by_user else None)
        count = items = 0
        if output == "-":
            for record in records:
                click.echo(export_line(record), nl=False)
                count, items = count + 1, items + len(record["items"])
                advance(items)
        else:
            partial = output + ".partial"
            try:
                with open(partial, "w", encoding="utf-8") as out:
                    for record in records:
                        out.write(export_line(record))
                        count, items = count + 1, items + len(record["items"])
                        advance(items)
                os.replace(partial, output)
            finally:
                if os.path.exists(partial):
                    os.remove(partial)
    where = "stdout" if output == "-" else output
    click.echo(f"exported {count} threads ({items} items) to {where}", err=True)


@contextmanager
def _export_progress(total: int | None) -> Iterator[Callable[[int], None]]:
    """`advance(items_so_far)` after each thread; a progress bar on stderr only when it is a terminal."""
    if not sys.stderr.isatty():
        yield lambda items: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    columns = (
        SpinnerColumn(),
        TextColumn("exporting threads"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[items]} items"),
    )
    with Progress(*columns, console=_render.console(stderr=True), transient=False) as progress:
        task = progress.add_task("export", total=total, items=0)
        yield lambda items: progress.update(task, advance=1, items=items)


# -- sessions --------------------------------------------------------------------------------------
@cli.group(
    cls=_Group,
    epilog="""\b
Examples:
  chatkit sessions create --workflow wf_123 --user user_123 --expires-in 600
  chatkit sessions cancel cksess_123
""",
)
def sessions() -> None:
    """Create and cancel hosted ChatKit sessions (API key)."""


@sessions.command(
    "create",
    epilog="""\b
Example:
  SECRET=$(chatkit sessions create --workflow wf_123 | jq -r .client_secret)
""",
)
@click.option("--user", metavar="ID", help="End-user id (default: the global --user, else generated).")
@click.option("--workflow", metavar="ID", help="Workflow id (default: the global --workflow).")
@click.option("--expires-in", type=click.IntRange(1, 600), metavar="SECONDS", help="Lifetime of the client secret.")
@click.option("--uploads/--no-uploads", default=None, help="Allow file uploads in the session.")
@click.option("--max-requests", type=click.IntRange(min=1), metavar="N", help="Rate limit: requests per minute.")
@pass_target
def sessions_create(
    target: Target,
    user: str | None,
    workflow: str | None,
    expires_in: int | None,
    uploads: bool | None,
    max_requests: int | None,
) -> None:
    """Create a session and print it as JSON, client secret included (hand that to a front end)."""
    client = target.require_api_key("sessions create")
    if user:
        target.user = user
    if workflow:
        target.workflow = workflow
    session = client.sessions.create(
        user=target.user_id(),
        workflow=target.workflow_id(),
        expires_after={"anchor": "created_at", "seconds": expires_in} if expires_in else None,
        chatkit_configuration={"file_upload": {"enabled": uploads}} if uploads is not None else None,
        rate_limits={"max_requests_per_1_minute": max_requests} if max_requests else None,
    )
    click.echo(_render.json_text(session.model_dump(mode="json", exclude_none=True), indent=2))


@sessions.command(
    "cancel",
    epilog="""\b
Example:
  chatkit sessions cancel cksess_123
""",
)
@click.argument("session_id", metavar="ID")
@pass_target
def sessions_cancel(target: Target, session_id: str) -> None:
    """Cancel a session: its client secret stops working at once."""
    client = target.require_api_key("sessions cancel")
    session = client.sessions.cancel(session_id)
    _render.echo_json(session.model_dump(mode="json", exclude_none=True, exclude={"client_secret"}))


# -- upload ----------------------------------------------------------------------------------------
@cli.command(
    epilog="""\b
Examples:
  chatkit --server-url http://127.0.0.1:8000/chatkit upload notes.txt
  chatkit upload big.pdf --client-secret ek_...     # hosted, with a session's secret
"""
)
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--client-secret", metavar="SECRET", help="Upload with this hosted session (default: a new session).")
@pass_target
def upload(target: Target, paths: tuple[str, ...], client_secret: str | None) -> None:
    """Upload files and print each one's id (as JSON lines); a progress bar shows for large files."""
    if target.self_hosted:
        conversation = target.chat()
        for path in paths:
            uploaded: Any = _upload(conversation.upload, path)
            _render.echo_json(uploaded.model_dump(mode="json", exclude_none=True, exclude=_SPENT_UPLOAD_FIELDS))
        return
    if client_secret:
        target.client_secret = client_secret
    secret = target.client_secret
    client = target.client()
    if not secret:
        session = target.require_api_key("upload").sessions.create(
            user=target.user_id(),
            workflow=target.workflow_id(),
            chatkit_configuration={"file_upload": {"enabled": True}},
        )
        click.echo(f"session: {session.id}", err=True)
        secret = session.client_secret
    for path in paths:
        uploaded = _upload(
            lambda file, on_progress=None: client.files.upload(file, client_secret=secret, on_progress=on_progress),
            path,
        )
        _render.echo_json(uploaded.model_dump(mode="json", exclude_none=True, exclude=_SPENT_UPLOAD_FIELDS))


def _upload(send: Callable[..., Any], path: str) -> Any:
    """`send(path, on_progress=...)`, with a progress bar on stderr for large files."""
    import os

    from .._core.files import prepare_file

    prepare_file(path)  # a name that is not UTF-8, a FIFO, a device: one error line, before any progress bar
    if os.path.getsize(path) <= _LARGE_FILE:
        return send(path)

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=_render.console(stderr=True), transient=False) as progress:
        task = progress.add_task(os.path.basename(path), total=os.path.getsize(path))

        def on_progress(sent: int, total: int | None) -> None:
            progress.update(task, completed=sent, total=total)

        return send(path, on_progress=on_progress)


# -- dev-server ------------------------------------------------------------------------------------
@cli.command(
    "dev-server",
    epilog="""\b
Example:
  chatkit dev-server --port 8000 &
  chatkit --server-url http://127.0.0.1:8000/chatkit send "hello"
""",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
def dev_server(port: int, host: str) -> None:
    """Serve a local ChatKit server (at /chatkit) and the hosted-API emulator (under /v1) until Ctrl-C."""
    from ._dev_server import run_dev_server

    run_dev_server(host, port, _fail)


# -- load ------------------------------------------------------------------------------------------
cli.add_command(load)
