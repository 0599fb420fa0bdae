"""Locust, distributed: a master and two workers on loopback drive `ChatKitUser`s against the local server.

Locust runs as subprocesses only: importing it here would let gevent monkey-patch the test process.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from chatkit_client.testing import LocalChatKitServer, serve_local_server

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile_two_workers.py"
LOCUST = [sys.executable, "-m", "locust"]


def _free_port() -> int:
    # Locust binds the port itself; asking the kernel for a free one keeps us off fixed ports.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def test_master_and_two_workers_report_every_turn_the_server_served(tmp_path: Path) -> None:
    turns_served: list[float] = []
    lock = threading.Lock()
    server = LocalChatKitServer()

    def served(at: float) -> None:
        with lock:
            turns_served.append(at)

    server.on_first_delta = served
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with serve_local_server(server=server) as running:
        common = ["-f", str(LOCUSTFILE), "--host", running.url, "--loglevel", "WARNING"]
        master_command = [
            *LOCUST, *common, "--headless", "--master", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port), "--expect-workers", "2", "--expect-workers-max-wait", "60",
            "-u", "4", "-r", "4", "-t", "5s", "--stop-timeout", "10", "--csv", str(tmp_path / "run"),
        ]  # fmt: skip
        worker_command = [*LOCUST, *common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        master = subprocess.Popen(
            master_command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        workers = [subprocess.Popen(worker_command, env=env, cwd=tmp_path, **quiet) for _ in range(2)]
        try:
            output, _ = master.communicate(timeout=150)
            for worker in workers:
                worker.wait(timeout=30)
        finally:
            for process in (master, *workers):
                _stop(process)
    log = output.decode(errors="replace")
    with (tmp_path / "run_stats.csv").open(newline="") as stats:
        rows = list(csv.DictReader(stats))
    by_name = {(row["Type"], row["Name"]): row for row in rows}

    reporters = [row["Name"] for row in rows if row["Type"] == "worker"]
    assert len(reporters) == 2 and len(set(reporters)) == 2, log[-3000:]
    turn = by_name[("chatkit", "turn")]
    assert int(turn["Failure Count"]) == 0, log[-3000:]
    assert int(turn["Request Count"]) > 0
    # Each turn of the locustfile streams text (the tool round's answer too), so one first delta each.
    assert int(turn["Request Count"]) == len(turns_served), log[-3000:]
    assert int(by_name[("chatkit", "first text delta")]["Request Count"]) == int(turn["Request Count"])
