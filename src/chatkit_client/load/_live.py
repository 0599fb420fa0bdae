"""The live view of a running load test (rich; only used when stdout is a terminal)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from ._engine import Progress

__all__ = ["LiveView"]


class LiveView:
    """A progress bar of the duration and one line of running numbers, redrawn on each `update`.

    >>> with LiveView(duration=60) as view:  # doctest: +SKIP
    ...     report = run(plan, target, on_progress=view.update)
    """

    def __init__(self, *, duration: float, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._console = console if console is not None else Console()
        self._progress = Progress(
            TextColumn("load"),
            BarColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=self._console,
            transient=True,
        )
        self._task = self._progress.add_task("load", total=duration, status="starting")

    def update(self, progress: Progress) -> None:
        status = (
            f"{progress.rate:7.1f} turns/s  first delta p50 {progress.first_delta_p50_ms:7.1f} ms  "
            f"p99 {progress.first_delta_p99_ms:7.1f} ms  in flight {progress.in_flight:4d}  "
            f"turns {progress.turns}  errors {progress.errors}"
        )
        if progress.elapsed > progress.duration:
            status += "  (finishing turns in flight)"
        self._progress.update(self._task, completed=min(progress.elapsed, progress.duration), status=status)

    def __enter__(self) -> LiveView:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
