"""A headless ChatKit provider for evaluation tools: no browser, just the protocol.

promptfoo's Python provider interface is a function `call_api(prompt, options, context)` that
returns `{"output": ...}` or `{"error": ...}`; this file implements it with chatkit-client, so an
eval suite drives a ChatKit server (self-hosted, or OpenAI's hosted API) directly, as many prompts
at a time as the tool asks for.

    # promptfooconfig.yaml
    providers:
      - id: file://examples/chatkit_eval_provider.py
        config:
          server_url: http://localhost:8000/chatkit     # your ChatKit server
          headers: {Authorization: "Bearer test-token"}
          # or, for a hosted workflow: workflow: wf_..., user: eval-bot (OPENAI_API_KEY from the environment)

Each call sends the prompt on a new thread and returns the answer's text, with the thread id,
the items the server produced and the time to its first event as metadata. A server that ends the
stream with an `error` event, or fails, gives `{"error": ...}` (with what arrived in `output`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from chatkit_client import ChatKit, ChatKitError, StreamError

_clients: dict[tuple[Any, ...], ChatKit] = {}
_lock = threading.Lock()


def _client(config: Mapping[str, Any]) -> ChatKit:
    """One pooled client per configuration, kept for the life of the (persistent) provider process."""
    headers = dict(config.get("headers") or {})
    key = (config.get("server_url"), tuple(sorted(headers.items())), config.get("base_url"), config.get("timeout"))
    with _lock:
        if key not in _clients:
            options: dict[str, Any] = {"timeout": config.get("timeout", 120)}
            if config.get("server_url"):
                options.update(server_url=config["server_url"], headers=headers)
            else:
                options.update(api_key=config.get("api_key"), base_url=config.get("base_url"))
            _clients[key] = ChatKit(**options)
        return _clients[key]


def call_api(prompt: str, options: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Send `prompt` on a new thread; promptfoo's provider contract.

    >>> call_api("Hello", {"config": {"server_url": "http://localhost:8000/chatkit"}}, {})  # doctest: +SKIP
    {'output': 'You said: Hello', 'metadata': {...}}
    """
    config = dict(options.get("config") or {})
    try:
        client = _client(config)
        if client.is_self_hosted:
            chat = client.chat()
        else:
            chat = client.chat(user=config.get("user", "eval"), workflow=config["workflow"])
        started = time.perf_counter()
        first_event: float | None = None
        with chat.stream(prompt) as stream:
            for _event in stream:
                if first_event is None:
                    first_event = time.perf_counter() - started
        reply = stream.reply
    except StreamError as err:
        partial = err.reply.text if err.reply is not None else ""
        return {"output": partial, "error": f"the server ended the answer with an error: {err.error_message}"}
    except (ChatKitError, KeyError) as err:
        return {"error": f"{type(err).__name__}: {err}"}
    metadata = {
        "thread_id": reply.thread_id,
        "items": dict(Counter(item.type for item in reply.items)),
        "time_to_first_event_ms": round((first_event or 0.0) * 1000, 1),
        "total_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return {"output": reply.text, "metadata": metadata}


def close_clients() -> None:
    """Close the pooled clients (the provider process does it at exit; tests call it)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
