"""`chatkit conformance`: does a server speak ChatKit? Numbered cases, run against any ChatKit server.

Each case checks one rule of `docs/protocol.md` (its `section`), at a level: a failed *required* case fails
the run, a failed *recommended* one only with `strict`. Every failure comes with a reproducer: the request
body and a `curl` command sending it, with credential-looking headers masked.

>>> from chatkit_client.conformance import run_conformance, format_table
>>> report = run_conformance("http://127.0.0.1:8000/chatkit", messages=["tool:get_weather {}"])  # doctest: +SKIP
>>> print(format_table(report))  # doctest: +SKIP
case                  level  result  title / why
stream.content-type   req    PASS    Streaming requests answer 200 text/event-stream
...
"""

from ._cases import CASES
from ._model import Case, CaseResult, Level, Outcome, Report, Reproducer
from ._probe import Exchange, Probe
from ._report import format_failures, format_table, to_json, to_junit
from ._runner import run_cases, run_conformance, select_cases
from ._target import load_app, open_target

__all__ = [
    "CASES",
    "Case",
    "CaseResult",
    "Exchange",
    "Level",
    "Outcome",
    "Probe",
    "Report",
    "Reproducer",
    "format_failures",
    "format_table",
    "load_app",
    "open_target",
    "run_cases",
    "run_conformance",
    "select_cases",
    "to_json",
    "to_junit",
]
