"""The `chatkit` click group and its commands.

Only click is imported at module level: the client (pydantic, httpx2) and rich load inside the commands
that need them, so `chatkit --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .._version import __version__
from ._conformance import conformance
from ._errors import EXIT_INTERRUPTED, describe_error

if TYPE_CHECKING:
    from .._chat import Chat
    from .._client import ChatKit

__all__ = ["Target", "cli"]

_LARGE_FILE = 1024 * 1024
# Where the bytes were to be sent: spent once the upload is done, and no use to whoever reads the output.
_SPENT_UPLOAD_FIELDS = {"upload_descriptor", "upload_url"}


class Target:
    """Which backend the command talks to, from the global options; builds the client on first use.

    >>> Target(server_url="http://127.0.0.1:8000/chatkit").client().is_self_hosted  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        *,
        server_url: str | None = None,
        headers: dict[str, str] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        workflow: str | None = None,
        user: str | None = None,
        client_secret: str | None = None,
        debug: bool = False,
    ) -> None:
        self.server_url = server_url
        self.headers = headers or {}
        self.api_key = api_key
        self.base_url = base_url
        self.workflow = workflow
        self.user = user
        self.client_secret = client_secret
        self.debug = debug
        self._client: ChatKit | None = None

    def __repr__(self) -> str:
        # The API key and client secret stay out of reprs (and so out of --debug tracebacks' locals).
        return f"Target(server_url={self.server_url!r}, base_url={self.base_url!r}, workflow={self.workflow!r})"

    @property
    def self_hosted(self) -> bool:
        return self.server_url is not None

    def client(self) -> ChatKit:
        if self._client is None:
            from .._client import ChatKit

            if self.server_url is not None:
                self._client = ChatKit(server_url=self.server_url, headers=self.headers or None)
            else:
                if not self.api_key and not self.client_secret:
                    raise click.UsageError(
                        "no ChatKit backend given: pass --server-url URL (or set CHATKIT_SERVER_URL) for your own "
                        "server, or --api-key KEY (or set OPENAI_API_KEY) for OpenAI's hosted API"
                    )
                self._client = ChatKit(api_key=self.api_key or None, base_url=self.base_url)
        return self._client

    def user_id(self) -> str:
        """The hosted user; generated (and shown, so it can be reused) when none was given."""
        if not self.user:
            import secrets

            self.user = f"cli-{secrets.token_hex(4)}"
            click.echo(f"user: {self.user} (pass --user or set CHATKIT_USER to keep using these threads)", err=True)
        return self.user

    def workflow_id(self) -> str:
        if not self.workflow:
            raise click.UsageError(
                "hosted conversations need a workflow: pass --workflow wf_... or set CHATKIT_WORKFLOW_ID"
            )
        return self.workflow

    def chat(self, *, thread_id: str | None = None, uploads: bool = False) -> Chat:
        """A conversation on the target: self-hosted, an existing session, or sessions created for --user."""
        client = self.client()
        if self.self_hosted:
            return client.chat(thread_id=thread_id)
        if self.client_secret:
            return client.chat(client_secret=self.client_secret, thread_id=thread_id)
        workflow = self.workflow_id()
        config: Any = {"file_upload": {"enabled": True}} if uploads else None
        return client.chat(user=self.user_id(), workflow=workflow, thread_id=thread_id, chatkit_configuration=config)

    def require_api_key(self, what: str) -> ChatKit:
        if self.self_hosted:
            raise click.UsageError(f"{what} is part of OpenAI's hosted API; it does not apply to --server-url")
        if not self.api_key:
            raise click.UsageError(f"{what} needs an API key: pass --api-key or set OPENAI_API_KEY")
        return self.client()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


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


def _parse_headers(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected 'Name: value', got {value.split(':')[0]!r}...", ctx, param)
        headers[name.strip()] = rest.strip()
    return headers


def _check_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from urllib.parse import urlsplit

    if value is None:
        return None
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise click.BadParameter(f"expected an http:// or https:// URL with a host, got {value!r}", ctx, param)
    return value


# -- the target options, accepted before or after the command ------------------------------------
# (option names, the Target attribute it sets, click.Option settings)
TARGET_OPTIONS: tuple[tuple[tuple[str, ...], str, dict[str, Any]], ...] = (
    (("--server-url",), "server_url", {"metavar": "URL", "help": "Your ChatKit server URL.", "callback": _check_url}),
    (
        ("--header", "headers"),
        "headers",
        {
            "multiple": True,
            "metavar": "'NAME: VALUE'",
            "callback": _parse_headers,
            "help": "A header for the self-hosted server; repeatable.",
        },
    ),
    (("--api-key",), "api_key", {"metavar": "KEY", "help": "OpenAI API key (hosted)."}),
    (("--base-url",), "base_url", {"metavar": "URL", "help": "Hosted API base URL.", "callback": _check_url}),
    (("--workflow",), "workflow", {"metavar": "ID", "help": "Workflow id (hosted)."}),
    (("--user",), "user", {"metavar": "ID", "help": "End-user id (hosted)."}),
    (
        ("--client-secret",),
        "client_secret",
        {"metavar": "SECRET", "help": "Use an existing hosted session instead of creating one."},
    ),
    (("--debug",), "debug", {"is_flag": True, "help": "Show tracebacks."}),
)
"""The options that say which backend to talk to.

The root group declares them (with their environment variables); every command added to a `_Group` gets a
copy without environment variables (`accept_target_options`), so they can also follow the command's name. A
value given after the command wins over one given before it (headers merge, a later header of the same name
winning); a command that declares an option of the same name itself (`sessions create --user`) keeps its own.
"""


def accept_target_options(command: click.Command) -> None:
    """Let `command` take the target options after its name: `chatkit send hi --server-url URL`.

    Done by `_Group.add_command` for every command and sub-group, so a new command needs nothing more.
    """
    taken = {opt for param in command.params for opt in param.opts}
    for decls, attribute, settings in TARGET_OPTIONS:
        if taken.intersection(decl for decl in decls if decl.startswith("-")):
            continue
        command.params.append(
            click.Option(
                decls,
                **{key: value for key, value in settings.items() if key != "callback"},
                expose_value=False,
                callback=_late_target_option(attribute, settings.get("callback")),
            )
        )


def _late_target_option(attribute: str, check: Any) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def apply(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or value is False or value == ():
            return value  # not given here: what came before the command stands
        if check is not None:
            value = check(ctx, param, value)
        target = ctx.find_object(Target)
        if target is None:  # pragma: no cover - the root group always makes one first
            return value
        if attribute == "headers":
            target.headers = {**target.headers, **value}
        else:
            setattr(target, attribute, value)
        return value

    return apply


def _target(ctx: click.Context) -> Target:
    target = ctx.find_object(Target)
    assert target is not None
    return target


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
    callback=_check_url,
    help="Your ChatKit server URL.",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    callback=_parse_headers,
    help="A header for the self-hosted server; repeatable.",
)
@click.option("--api-key", envvar="OPENAI_API_KEY", metavar="KEY", help="OpenAI API key (hosted).", show_envvar=True)
@click.option(
    "--base-url",
    envvar="OPENAI_BASE_URL",
    metavar="URL",
    callback=_check_url,
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
@click.pass_context
def chat(ctx: click.Context, thread_id: str | None) -> None:
    """An interactive conversation (type /help for the slash commands; Ctrl-D leaves).

    With its input piped, the exit status is 1 when a turn or a command failed.
    """
    from ._chat_repl import Repl

    target = _target(ctx)
    repl = Repl(target, thread_id=thread_id)
    repl.run()
    if repl.failed and not sys.stdin.isatty():
        # Typed at a terminal, the error was seen and the conversation went on; from a script, it must show.
        ctx.exit(1)


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
@click.pass_context
def send(ctx: click.Context, text: str, files: tuple[str, ...], thread_id: str | None, as_json: bool) -> None:
    """Send one message (TEXT, or `-` to read it from stdin); the answer streams to stdout, the thread id to stderr."""
    from . import _render

    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    if not text.strip() and not files:
        raise click.UsageError("nothing to send: TEXT is empty and no --file was given")
    target = _target(ctx)
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


@contextmanager
def _threads_backend(ctx: click.Context) -> Iterator[tuple[Chat | None, ChatKit]]:
    """A Chat for protocol calls, or None when the hosted admin REST API is the way."""
    target = _target(ctx)
    if target.self_hosted or target.client_secret:
        conversation = target.chat()
        yield conversation, target.client()
    else:
        yield None, target.require_api_key("the threads admin API")


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
@click.pass_context
def threads_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The newest threads first."""
    from itertools import islice

    from . import _render

    with _threads_backend(ctx) as (conversation, client):
        page: Any
        if conversation is not None:
            page = conversation.threads(limit=min(limit, 100))
        else:
            page = client.threads.list(user=_target(ctx).user, limit=min(limit, 100))
        found = list(islice(page, limit))
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
@click.pass_context
def threads_show(ctx: click.Context, thread_id: str, as_json: bool) -> None:
    """A thread's id, title, creation time and status."""
    from . import _render

    with _threads_backend(ctx) as (conversation, client):
        thread: Any = conversation.get_thread(thread_id) if conversation else client.threads.retrieve(thread_id)
    if as_json:
        _render.echo_json(thread.model_dump(mode="json", exclude_none=True, exclude={"items"}))
        return
    rows = {
        "id": thread.id,
        "title": thread.title or "",
        "created": thread.created_at.isoformat() if thread.created_at else "",
        "status": thread.status.type,
    }
    if getattr(thread, "user", None):
        rows["user"] = thread.user
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
@click.pass_context
def threads_items(ctx: click.Context, thread_id: str, limit: int, as_json: bool) -> None:
    """A thread's items, oldest first."""
    from itertools import islice

    from . import _render

    with _threads_backend(ctx) as (conversation, client):
        page: Any
        if conversation is not None:
            page = conversation.items(thread_id, limit=min(limit, 100))
        else:
            page = client.threads.list_items(thread_id, limit=min(limit, 100), order="asc")
        found = list(islice(page, limit))
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
@click.pass_context
def threads_rename(ctx: click.Context, thread_id: str, title: str, as_json: bool) -> None:
    """Set a thread's title (over the protocol: self-hosted, or hosted with --client-secret)."""
    from . import _render

    with _threads_backend(ctx) as (conversation, _client):
        if conversation is None:
            raise click.UsageError(
                "the hosted admin API cannot rename threads; pass --client-secret of a session of the thread's user"
            )
        thread = conversation.rename(title, thread_id=thread_id)
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
@click.pass_context
def threads_delete(ctx: click.Context, thread_id: str, as_json: bool) -> None:
    """Delete a thread and its items."""
    from . import _render

    with _threads_backend(ctx) as (conversation, client):
        if conversation is not None:
            conversation.delete_thread(thread_id)
        else:
            client.threads.delete(thread_id)
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
@click.pass_context
def threads_export(ctx: click.Context, thread_ids: tuple[str, ...], export_all: bool, output: str) -> None:
    """Write threads with all of their items to FILE.jsonl, one JSON object per line.

    Give THREAD_IDs, or --all, or (hosted admin API) --user USER for that user's threads. Over the protocol
    (self-hosted, or --client-secret) every thread the server lists for this caller is exported. A progress bar
    shows on stderr in a terminal. The file appears only once the export is complete.
    """
    import os

    from .._export import export_line

    target = _target(ctx)
    if thread_ids and export_all:
        raise click.UsageError("pass THREAD_IDs or --all, not both")
    admin_api = not target.self_hosted and not target.client_secret
    by_user = not thread_ids and not export_all and admin_api and bool(target.user)
    if not thread_ids and not export_all and not by_user:
        with_user = ", --user USER" if admin_api else ""
        raise click.UsageError(f"say which threads to export: THREAD_ID...{with_user} or --all")
    ids = list(thread_ids) or None
    with _threads_backend(ctx) as (conversation, client), _export_progress(len(thread_ids) or None) as advance:
        records = (
            conversation.export_threads(ids)
            if conversation is not None
            else client.threads.export(ids, user=target.user if by_user else None)
        )
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

    from . import _render

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
@click.pass_context
def sessions_create(
    ctx: click.Context,
    user: str | None,
    workflow: str | None,
    expires_in: int | None,
    uploads: bool | None,
    max_requests: int | None,
) -> None:
    """Create a session and print it as JSON, client secret included (hand that to a front end)."""
    from . import _render

    target = _target(ctx)
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
@click.pass_context
def sessions_cancel(ctx: click.Context, session_id: str) -> None:
    """Cancel a session: its client secret stops working at once."""
    from . import _render

    client = _target(ctx).require_api_key("sessions cancel")
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
@click.pass_context
def upload(ctx: click.Context, paths: tuple[str, ...], client_secret: str | None) -> None:
    """Upload files and print each one's id (as JSON lines); a progress bar shows for large files."""

    from . import _render

    target = _target(ctx)
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

    from .._files import prepare_file

    prepare_file(path)  # a name that is not UTF-8, a FIFO, a device: one error line, before any progress bar
    if os.path.getsize(path) <= _LARGE_FILE:
        return send(path)

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from . import _render

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
def _register_load() -> None:
    from ._load import load

    cli.add_command(load)


_register_load()
