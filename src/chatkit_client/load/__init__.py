"""Load testing for ChatKit servers: virtual conversations, measured turn by turn (`chatkit load`).

>>> from chatkit_client.load import LoadPlan, LoadTarget, run
>>> target = LoadTarget(server_url="http://127.0.0.1:8000/chatkit")
>>> report = run(LoadPlan(duration=10, users=20, turns=3), target)  # doctest: +SKIP
>>> print(report.render_text())  # doctest: +SKIP

`LoadPlan(users=N)` is the closed model (each user waits for its answer), `LoadPlan(rate=R)` the open one
(turns start on a schedule; latency counts from the scheduled start). For more than one machine, see
`chatkit_client.locust`.
"""

from ._engine import LoadTarget, Progress, run, run_load
from ._histogram import Histogram
from ._metrics import Metrics, TurnSample, error_kind
from ._plan import (
    LoadPlan,
    ToolAnswer,
    echo_tool_answer,
    empty_tool_answer,
    fixed_tool_answer,
    parse_duration,
)
from ._report import LoadReport

__all__ = [
    "Histogram",
    "LoadPlan",
    "LoadReport",
    "LoadTarget",
    "Metrics",
    "Progress",
    "ToolAnswer",
    "TurnSample",
    "echo_tool_answer",
    "empty_tool_answer",
    "error_kind",
    "fixed_tool_answer",
    "parse_duration",
    "run",
    "run_load",
]
