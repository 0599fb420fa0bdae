"""The Ctrl-C tests hold when the shell that runs the suite ignores SIGINT (a background job, nohup, CI).

An ignored signal stays ignored across fork and exec, so without care the `chatkit` children of those tests
would never see the Ctrl-C they are sent. Here the process tests run in a pytest started with SIGINT
ignored, as `bash -c 'trap "" INT; make test'` would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_tests_pass_with_sigint_ignored_by_the_calling_shell() -> None:
    here = Path(__file__).resolve().parent
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(here / "test_cli_processes.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "ctrl_c or pseudo_terminal",
        ],
        preexec_fn=_ignore_sigint,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=here.parent.parent,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
