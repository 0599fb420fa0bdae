"""`LoadPlan`: what a load run does, checked before anything starts; duration strings; the load models' clocks.

Two load models:

- closed: `users` virtual users, each sending its next turn when the previous one has finished (plus
  `think_time`); started `spawn_rate` per second (all at once by default). A slow server slows the load.
- open: turns start `rate` per second on a fixed schedule whatever the server does; a turn's latency counts
  from its scheduled start, so time spent queueing behind a slow server (or a busy client) is measured
  instead of hidden (the coordinated-omission trap of closed-loop testers).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import InvalidInputError

__all__ = [
    "LoadPlan",
    "ToolAnswer",
    "echo_tool_answer",
    "empty_tool_answer",
    "fixed_tool_answer",
    "open_schedule",
    "parse_duration",
    "spawn_delays",
]

ToolAnswer = Callable[[str, Mapping[str, Any]], object]
"""Answers a client tool call during a load run: `(tool name, arguments) -> JSON-serialisable result`."""

MAX_DURATION = 24 * 3600.0
MAX_USERS = 100_000
MAX_TURNS = 10_000

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, *, field_name: str = "duration") -> float:
    """Seconds from `"60s"`, `"2m"`, `"1.5h"`, `"250ms"` or a bare number of seconds.

    >>> parse_duration("2m"), parse_duration("90"), parse_duration("250ms")
    (120.0, 90.0, 0.25)
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInputError(field_name, f"expected a duration like 60s, 2m, 1h or 500ms, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def empty_tool_answer(name: str, arguments: Mapping[str, Any]) -> object:
    """The default answer to every client tool call: `{}`."""
    return {}


def echo_tool_answer(name: str, arguments: Mapping[str, Any]) -> object:
    """Answers a client tool call with its own arguments."""
    return dict(arguments)


def fixed_tool_answer(value: object) -> ToolAnswer:
    """Answers every client tool call with `value` (checked to be JSON once, here)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise InvalidInputError("tool_answer", f"must be JSON-serialisable ({err})") from None

    def answer(name: str, arguments: Mapping[str, Any]) -> object:
        return value

    return answer


def _positive(name: str, value: float | None, *, allow_zero: bool = False, upper: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(name, f"must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInputError(name, f"must be {'0 or more' if allow_zero else 'more than 0'}, got {value!r}")
    if upper is not None and value > upper:
        raise InvalidInputError(name, f"must be at most {upper:g}, got {value!r}")


@dataclass(frozen=True)
class LoadPlan:
    """A load run: the model (`users` closed, or `rate` open), how long, and what each conversation says.

    Every virtual conversation opens a new thread and sends `turns` messages in it (taken in turn from
    `messages`), answering client tool calls with `tool_answer`; then it starts a new thread.

    >>> LoadPlan(duration=10, users=5, turns=3).model
    'closed'
    >>> LoadPlan(duration=10, rate=20).model
    'open'
    """

    duration: float
    users: int | None = None
    rate: float | None = None
    spawn_rate: float | None = None
    messages: Sequence[str] = ("Hello! This is a load test.",)
    turns: int = 1
    think_time: float = 0.0
    turn_timeout: float = 60.0
    max_in_flight: int = 1000
    tool_answer: ToolAnswer = field(default=empty_tool_answer, repr=False)
    max_tool_rounds: int = 10

    def __post_init__(self) -> None:
        if (self.users is None) == (self.rate is None):
            raise InvalidInputError("users/rate", "give exactly one: users (closed model) or rate (open model)")
        _positive("duration", self.duration, upper=MAX_DURATION)
        if self.users is not None and (
            isinstance(self.users, bool) or not isinstance(self.users, int) or not 1 <= self.users <= MAX_USERS
        ):
            raise InvalidInputError("users", f"must be a whole number from 1 to {MAX_USERS}, got {self.users!r}")
        _positive("rate", self.rate, upper=1_000_000)
        _positive("spawn_rate", self.spawn_rate)
        if self.spawn_rate is not None and self.users is None:
            raise InvalidInputError("spawn_rate", "applies to the closed model (users); the open model has rate")
        if (
            isinstance(self.messages, str)
            or not self.messages
            or not all(isinstance(m, str) and m.strip() for m in self.messages)
        ):
            raise InvalidInputError("messages", "must be a non-empty list of non-empty strings")
        for name, value, upper in (
            ("turns", self.turns, MAX_TURNS),
            ("max_in_flight", self.max_in_flight, MAX_USERS),
            ("max_tool_rounds", self.max_tool_rounds, 1000),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
                raise InvalidInputError(name, f"must be a whole number from 1 to {upper}, got {value!r}")
        _positive("think_time", self.think_time, allow_zero=True, upper=3600)
        _positive("turn_timeout", self.turn_timeout, upper=3600)
        if not callable(self.tool_answer):
            raise InvalidInputError("tool_answer", "must be a callable (tool name, arguments) -> result")

    @property
    def model(self) -> str:
        return "closed" if self.users is not None else "open"

    def describe(self) -> dict[str, Any]:
        """The plan as JSON-ready facts (for the report)."""
        return {
            "model": self.model,
            "duration_s": self.duration,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "rate": self.rate,
            "turns_per_thread": self.turns,
            "think_time_s": self.think_time,
            "turn_timeout_s": self.turn_timeout,
            "max_in_flight": self.max_in_flight,
            "messages": len(self.messages),
        }


def spawn_delays(users: int, spawn_rate: float | None) -> list[float]:
    """When each user of the closed model starts, in seconds after the run's start.

    >>> spawn_delays(3, 2.0)
    [0.0, 0.5, 1.0]
    """
    if spawn_rate is None:
        return [0.0] * users
    return [index / spawn_rate for index in range(users)]


def open_schedule(rate: float, duration: float) -> Callable[[int], float | None]:
    """The open model's clock: the start of turn `i` (seconds after the run's start), None past the end.

    >>> at = open_schedule(4.0, 1.0)
    >>> [at(i) for i in range(5)]
    [0.0, 0.25, 0.5, 0.75, None]
    """

    def start_of(index: int) -> float | None:
        at = index / rate
        return at if at < duration else None

    return start_of
