"""Which backend a command talks to: `Target`, the options that fill it, and `pass_target` to hand it over.

Imports click only at module level (the client loads on first use), so `chatkit --help` stays fast. Every
command module takes `Target` from here, so none of them imports `_app`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .._sync.chat import Chat
    from .._sync.client import ChatKit

__all__ = ["TARGET_OPTIONS", "Target", "accept_target_options", "check_url", "parse_headers", "pass_target"]


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
            from .._sync.client import ChatKit

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


pass_target = click.make_pass_decorator(Target)
"""Hands a command the `Target` the root group made: `@pass_target def cmd(target: Target, ...)`."""


def parse_headers(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            # Only the name is shown: the value is usually a credential.
            raise click.BadParameter(f"expected 'Name: value', got {value.split(':')[0]!r}...", ctx, param)
        headers[name.strip()] = rest.strip()
    return headers


def check_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
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
    (("--server-url",), "server_url", {"metavar": "URL", "help": "Your ChatKit server URL.", "callback": check_url}),
    (
        ("--header", "headers"),
        "headers",
        {
            "multiple": True,
            "metavar": "'NAME: VALUE'",
            "callback": parse_headers,
            "help": "A header for the self-hosted server; repeatable.",
        },
    ),
    (("--api-key",), "api_key", {"metavar": "KEY", "help": "OpenAI API key (hosted)."}),
    (("--base-url",), "base_url", {"metavar": "URL", "help": "Hosted API base URL.", "callback": check_url}),
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
