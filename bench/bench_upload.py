"""Benchmark 5: memory of a large upload, hosted (`files.upload`) and self-hosted (two-phase upload).

One file of 256 MB (smoke: 8 MB) is written to a temporary directory. Each upload runs in a fresh child
process (so its memory starts clean) against the dev server in another child: the hosted emulator for
`client.files.upload`, the local ChatKit server for `Chat.upload` (`attachments.create`, then the bytes to the
upload descriptor's URL). RSS growth is the child's peak RSS after the upload (`VmHWM`, reset to the
current RSS just before the upload where the kernel allows) minus its RSS just before it, with the client
built and a first request done. A peer row does the same with httpx2 and the file read into memory first
(`files={"file": (name, f.read(), mime)}`), the naive way the project must beat.

Checks: the hosted upload returns a file id for the right name and type; the self-hosted attachment is then
sent in a message and the local server's agent must report exactly the number of bytes it received.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from bench._servers import current_rss_mb, dev_server, peak_rss_mb, reset_peak_rss, run_child

FULL_MB = 256
SMOKE_MB = 8
GROWTH_GOAL_MB = 64
_NAME = "bench-upload.pdf"


def _session(client: Any, size_mb: int) -> str:
    session = client.sessions.create(
        user="user_bench",
        workflow="wf_bench",
        chatkit_configuration={"file_upload": {"enabled": True, "max_file_size": max(size_mb + 1, 16)}},
    )
    return str(session.client_secret)


def hosted_child(base_url: str, api_key: str, path: str, size_mb: int) -> dict[str, Any]:
    """Runs in its own process: one `files.upload` to the emulator."""
    from chatkit_client import ChatKit

    with ChatKit(api_key=api_key, base_url=base_url, max_retries=0, timeout=300) as client:
        secret = _session(client, size_mb)
        reset_peak_rss()
        before = current_rss_mb()
        started = time.perf_counter()
        uploaded = client.files.upload(path, client_secret=secret)
        seconds = time.perf_counter() - started
    ok = bool(uploaded.id) and uploaded.name == _NAME and uploaded.mime_type == "application/pdf"
    return {"before_mb": before, "peak_mb": peak_rss_mb(), "seconds": seconds, "ok": ok, "detail": repr(uploaded)}


def self_hosted_child(server_url: str, path: str, size_mb: int) -> dict[str, Any]:
    """Runs in its own process: one two-phase upload to the local server, then a message that uses it."""
    from chatkit_client import ChatKit

    with ChatKit(server_url=server_url, max_retries=0, timeout=300) as client:
        chat = client.chat()
        chat.send("warm up")
        reset_peak_rss()
        before = current_rss_mb()
        started = time.perf_counter()
        attachment = chat.upload(path)
        seconds = time.perf_counter() - started
        peak = peak_rss_mb()
        reply = chat.send("check", attachments=[attachment.id])
    size = os.path.getsize(path)
    ok = f"{_NAME} (application/pdf, {size} bytes)" in reply.text
    return {"before_mb": before, "peak_mb": peak, "seconds": seconds, "ok": ok, "detail": reply.text[-200:]}


def naive_child(base_url: str, api_key: str, path: str, size_mb: int) -> dict[str, Any]:
    """Runs in its own process: the peer, httpx2 with the whole file read into memory."""
    import httpx2

    from chatkit_client import ChatKit

    with ChatKit(api_key=api_key, base_url=base_url, max_retries=0) as client:
        secret = _session(client, size_mb)
    headers = {"authorization": f"Bearer {secret}", "openai-beta": "chatkit_beta=v1"}
    with httpx2.Client(timeout=300) as http:
        reset_peak_rss()
        before = current_rss_mb()
        started = time.perf_counter()
        with open(path, "rb") as handle:
            files = {"file": (_NAME, handle.read(), "application/pdf")}
        response = http.post(base_url + "/chatkit/files", headers=headers, files=files)
        seconds = time.perf_counter() - started
    ok = response.status_code == 200 and response.json().get("name") == _NAME
    return {"before_mb": before, "peak_mb": peak_rss_mb(), "seconds": seconds, "ok": ok, "detail": response.text[:200]}


def _write_file(path: str, size_mb: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as handle:
        handle.write(b"%PDF-1.7\n")
        for _ in range(size_mb):
            handle.write(block)


def run(size_mb: int = FULL_MB) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-") as folder:
        path = os.path.join(folder, _NAME)
        _write_file(path, size_mb)
        with dev_server() as server:
            hosted = {"base_url": server.base_url, "api_key": server.api_key, "path": path, "size_mb": size_mb}
            rows = {
                "project: files.upload (hosted)": run_child("bench_upload", "hosted_child", **hosted),
                "project: Chat.upload (self-hosted, two-phase)": run_child(
                    "bench_upload", "self_hosted_child", server_url=server.server_url, path=path, size_mb=size_mb
                ),
                "peer: httpx2, file read into memory (hosted)": run_child("bench_upload", "naive_child", **hosted),
            }
    failed = [f"{name}: {got['detail']}" for name, got in rows.items() if not got["ok"]]
    if failed:
        raise AssertionError("uploads not received correctly: " + "; ".join(failed))
    table = []
    growth: dict[str, float] = {}
    for name, got in rows.items():
        growth[name] = got["peak_mb"] - got["before_mb"]
        is_project = name.startswith("project")
        table.append(
            {
                "upload": name,
                "file MB": size_mb,
                "seconds": got["seconds"],
                "RSS before MB": got["before_mb"],
                "peak RSS MB": got["peak_mb"],
                "growth MB": growth[name],
                f"goal < {GROWTH_GOAL_MB} MB": ("met" if growth[name] < GROWTH_GOAL_MB else "NOT met")
                if is_project
                else "(peer)",
            }
        )
    return {
        "title": f"Upload memory: one {size_mb} MB file, each upload in a fresh client process",
        "table": table,
        "file_mb": size_mb,
        "uploads_correct": True,
        "growth_mb": growth,
    }


def main(smoke: bool = False) -> dict[str, Any]:
    return run(SMOKE_MB if smoke else FULL_MB)


if __name__ == "__main__":
    import sys

    from bench.__main__ import main as run_all

    sys.exit(run_all(["upload", *sys.argv[1:]]))
