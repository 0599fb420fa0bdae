"""The main job of `make demo`: chatkit-client end to end, offline.

1. OpenAI's hosted API, emulated on loopback: create, inspect and cancel a session; the Ruby gem's
   Quick Start and file-attachment examples; threads; a file upload.
2. A self-hosted ChatKit server (the real openai-chatkit SDK) on loopback: a streamed turn with a
   client tool answered from Python, then the conformance suite run against it (the CLI demo prints
   its table).
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile

from chatkit_client import ChatKit
from chatkit_client.conformance import run_conformance
from chatkit_client.testing import serve_emulator, serve_local_server

# A 1x1 PNG, so the file examples upload a real image.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def say(text: str) -> None:
    print(text, flush=True)


def hosted_part(image_path: str) -> None:
    with serve_emulator() as hosted:
        say(f"== Hosted ChatKit API (emulated at {hosted.base_url})")
        client = ChatKit(api_key=hosted.api_key, base_url=hosted.base_url)

        session = client.sessions.create(
            user="user_123",
            workflow={"id": "wf_your_workflow_id", "state_variables": {"plan": "pro"}},
            chatkit_configuration={"file_upload": {"enabled": True, "max_file_size": 16, "max_files": 5}},
            expires_after={"anchor": "created_at", "seconds": 600},
        )
        say(f"created session {session.id} for {session.user}, status {session.status}")
        hidden = session.client_secret not in repr(session)
        say(f"  expires at {session.expires_at_datetime:%Y-%m-%d %H:%M:%S %Z}; secret hidden from repr: {hidden}")
        uploaded = client.files.upload(image_path, client_secret=session.client_secret)
        say(f"uploaded {uploaded.name} as {uploaded.id} ({uploaded.mime_type})")
        cancelled = client.sessions.cancel(session.id)
        say(f"cancelled {cancelled.id}: status {cancelled.status}")

        say("-- Quick Start (the Ruby gem's example, in Python)")
        client.create_session(
            user_id="user_123",
            workflow_id="wf_your_workflow_id",
            chatkit_configuration={"file_upload": {"enabled": True}},
        )
        response = client.send_message(text="Hello, how are you?")
        say(f"answer: {response.text}")

        say("-- Sending messages with file attachments")
        with open(image_path, "rb") as file:
            response = client.send_message(text="Could you describe this image?", files=[file])
        say(f"answer: {response.text}")

        say("-- Streaming a turn as it arrives")
        chat = client.chat(user="user_123", workflow="wf_your_workflow_id")
        with chat.stream("Stream this answer word by word") as stream:
            sys.stdout.write("answer: ")
            for piece in stream.text_deltas():
                sys.stdout.write(piece)
                sys.stdout.flush()
            reply = stream.get_final_reply()
        say(f"\n  thread {reply.thread_id}, title {reply.thread.title if reply.thread else None!r}")

        say("-- Threads, through the admin API")
        for thread in client.threads.list(user="user_123"):
            items = list(client.threads.list_items(thread.id))
            say(f"  {thread.id}  {thread.title!r}  {len(items)} items")
        client.close()


def self_hosted_part() -> None:
    with serve_local_server() as server:
        say(f"== Self-hosted ChatKit server (openai-chatkit at {server.url})")
        client = ChatKit(server_url=server.url)
        chat = client.chat()

        @chat.client_tool("get_weather")
        def get_weather(arguments: dict[str, object]) -> dict[str, object]:
            say(f"\n  [client tool get_weather called with {arguments}]")
            return {"city": arguments.get("city"), "forecast": "sunny", "celsius": 21}

        with chat.stream('tool:get_weather {"city": "Paris"}') as stream:
            sys.stdout.write("answer: ")
            for piece in stream.text_deltas():
                sys.stdout.write(piece)
                sys.stdout.flush()
            reply = stream.get_final_reply()
        call = reply.client_tool_calls[0]
        say(f"\n  the tool call {call.name} was answered in the same turn; thread {reply.thread_id}")
        say(f"answer: {chat.send('Thanks!').text}")
        client.close()

        say("-- Conformance of the local server (`chatkit conformance` prints the whole table)")
        report = run_conformance(server.url, messages=["tool:get_weather {}", "widget", "ask"])
        say(f"  {report.summary()}; exit status {report.exit_code(strict=True)} with --strict")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        image_path = os.path.join(folder, "image.png")
        with open(image_path, "wb") as handle:
            handle.write(PNG)
        hosted_part(image_path)
    self_hosted_part()
    say("demo finished")


if __name__ == "__main__":
    main()
