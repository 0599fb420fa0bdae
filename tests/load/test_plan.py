"""Load plans: bad input is refused before anything runs, naming the field; the load models' clocks."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_client import InvalidInputError
from chatkit_client.load import LoadPlan, fixed_tool_answer, parse_duration
from chatkit_client.load._plan import open_schedule, spawn_delays


@pytest.mark.parametrize(
    ("text", "seconds"), [("60s", 60.0), ("2m", 120.0), ("1.5h", 5400.0), ("250ms", 0.25), ("90", 90.0), (" 3 s ", 3.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "5 minutes", "-3s", "1d", "s"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInputError, match="duration") as caught:
        parse_duration(text)
    assert caught.value.field == "duration"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"users": 2, "rate": 3.0}, "users/rate"),
        ({}, "users/rate"),
        ({"users": 0}, "users"),
        ({"users": True}, "users"),
        ({"rate": -1.0}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": 5.0, "spawn_rate": 2.0}, "spawn_rate"),
        ({"users": 2, "turns": 0}, "turns"),
        ({"users": 2, "messages": []}, "messages"),
        ({"users": 2, "messages": "hello"}, "messages"),
        ({"users": 2, "messages": ["  "]}, "messages"),
        ({"users": 2, "think_time": -1.0}, "think_time"),
        ({"users": 2, "turn_timeout": 0.0}, "turn_timeout"),
        ({"users": 2, "tool_answer": "{}"}, "tool_answer"),
        ({"users": 2, "duration": 0.0}, "duration"),
        ({"users": 2, "duration": 10 * 24 * 3600.0}, "duration"),
    ],
)
def test_bad_plans_are_refused_naming_the_field(options: dict[str, Any], field: str) -> None:
    options.setdefault("duration", 1.0)
    with pytest.raises(InvalidInputError) as caught:
        LoadPlan(**options)
    assert caught.value.field == field


def test_a_tool_answer_must_be_json() -> None:
    with pytest.raises(InvalidInputError, match="tool_answer"):
        fixed_tool_answer({"when": object()})
    assert fixed_tool_answer([1, "a"])("any", {}) == [1, "a"]


def test_users_spawn_at_the_spawn_rate() -> None:
    assert spawn_delays(4, None) == [0.0] * 4
    assert spawn_delays(4, 4.0) == [0.0, 0.25, 0.5, 0.75]


def test_the_open_schedule_is_fixed_and_ends_with_the_duration() -> None:
    start_of = open_schedule(10.0, 0.5)
    assert [start_of(i) for i in range(6)] == [0.0, 0.1, 0.2, 0.3, 0.4, None]
