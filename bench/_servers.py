"""The test servers, each in a child process, so their CPU does not share the GIL with the client measured.

`dev_server()` starts `chatkit_client.testing.serve_dev` (the hosted emulator under `/v1` and the local
ChatKit server at `/chatkit`, on one free loopback port) in a fresh interpreter and yields where it listens.

```python
with dev_server() as server:
    ChatKit(server_url=server.server_url).chat().send("hi")
    ChatKit(api_key=server.api_key, base_url=server.base_url).sessions.create(user="u", workflow={"id": "wf"})
```
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DevServer", "dev_server", "run_child"]

# The child prints where it listens, then serves until its stdin closes: the parent dying closes it too,
# so no server outlives a crashed benchmark.
_CHILD = """
import json, sys
from chatkit_client.testing import serve_dev
with serve_dev() as running:
    print(json.dumps({"origin": running.origin, "api_key": running.api_key}), flush=True)
    sys.stdin.read()
"""

_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class DevServer:
    """Where the child listens: `server_url` for self-hosted clients, `base_url` + `api_key` for hosted ones."""

    origin: str
    pid: int
    api_key: str = field(repr=False)

    @property
    def server_url(self) -> str:
        return self.origin + "/chatkit"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"


@contextmanager
def child_server(args: list[str], *, cwd: str | None = None, stop_timeout: float = 15) -> Iterator[dict[str, Any]]:
    """Run a server in a child process that prints one JSON line (where it listens) and stops when its
    stdin closes; yields that line, and stops the child (killing it if it lingers) when the block ends."""
    child = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        info: dict[str, Any] = json.loads(_read_line(child, _START_TIMEOUT))
        info["pid"] = child.pid
        yield info
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()


@contextmanager
def dev_server() -> Iterator[DevServer]:
    """Serve the emulator and the local server in a child process until the block ends."""
    with child_server(["-c", _CHILD]) as info:
        yield DevServer(origin=info["origin"], pid=info["pid"], api_key=info["api_key"])


def _read_line(child: subprocess.Popen[str], timeout: float) -> str:
    # A thread, because a pipe's readline has no timeout and a child stuck on import would hang the run.
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(child.stdout.readline() if child.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    if not result or not result[0].strip():
        child.kill()
        raise RuntimeError(f"the benchmark server did not start within {timeout:.0f} s (exit code {child.poll()})")
    return result[0]


def run_child(module: str, function: str, **kwargs: Any) -> dict[str, Any]:
    """Call `bench.<module>.<function>(**kwargs)` in a fresh interpreter and return the dict it returns.

    Peak RSS (`ru_maxrss`) only ever grows, so a measurement of memory needs a process of its own.
    """
    code = (
        "import json, sys\n"
        f"from bench.{module} import {function}\n"
        f"print(json.dumps({function}(**json.loads(sys.argv[1]))))\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.{module}.{function} failed in its child process:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _status_mb(field_name: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def current_rss_mb() -> float:
    """This process's resident memory now, in MiB (Linux)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MiB (Linux).

    `VmHWM` rather than `getrusage().ru_maxrss`: Linux carries `ru_maxrss` over from the parent through fork
    and exec, so a child started by a big parent would report the parent's peak; `VmHWM` starts afresh with
    the new program's memory.
    """
    return _status_mb("VmHWM")


def reset_peak_rss() -> None:
    """Make the peak equal to the current RSS, when the kernel allows it (`clear_refs` 5), so growth is exact."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
