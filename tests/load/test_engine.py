"""The load engine against the local ChatKit server over loopback: both load models, conversations, client
tool calls, errors by kind, and a report raw enough to compare runs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chatkit_client import ChatKit
from chatkit_client.load import LoadPlan, LoadReport, LoadTarget, Progress, echo_tool_answer, run
from chatkit_client.testing import serve_local_server
from chatkit_client.testing._server import RunningLocalServer


@pytest.fixture
def server() -> Iterator[RunningLocalServer]:
    with serve_local_server() as running:
        yield running


def load(server: RunningLocalServer, **options: object) -> LoadReport:
    options.setdefault("duration", 0.6)
    return run(LoadPlan(**options), LoadTarget(server_url=server.url))  # type: ignore[arg-type]


def test_closed_model_users_hold_conversations_of_several_turns(server: RunningLocalServer) -> None:
    report = load(server, users=2, turns=3, messages=["first words here", "second"])
    m = report.metrics
    assert m.failed == 0 and m.turns >= 2
    # "You said: first words here" streams one delta per word: 5; "You said: second": 3.
    assert m.deltas == sum(s.deltas for s in m.samples) and all(s.deltas in (3, 5) for s in m.samples)
    assert m.first_delta.count == m.turns == m.turn.count == m.first_event.count
    threads = server.store.thread_ids()
    # Each conversation keeps its thread for 3 turns: at most one thread per 3 turns, plus one unfinished per user.
    assert len(threads) <= m.turns // 3 + 2
    user_messages = sum(1 for t in threads for i in server.store.item_ids(t) if i.startswith("msg"))
    assert user_messages >= m.turns  # the assistant's messages are items too
    for sample in m.samples:
        assert sample.first_event is not None and sample.first_delta is not None
        assert 0 <= sample.first_event <= sample.first_delta <= sample.turn
    assert m.delta_gap.count == m.deltas - m.turns  # one gap between each two deltas of a turn


def test_client_tool_calls_are_answered_with_the_tool_answer(server: RunningLocalServer) -> None:
    report = load(server, users=1, messages=['tool:lookup {"city": "Paris"}'], tool_answer=echo_tool_answer)
    m = report.metrics
    assert m.failed == 0 and m.turns >= 1 and m.deltas > 0
    thread = server.store.thread_ids()[0]
    with ChatKit(server_url=server.url) as client:
        items = list(client.chat(thread_id=thread).items(thread))
    texts = [part.text for item in items for part in getattr(item, "content", []) if hasattr(part, "text")]
    assert 'Tool lookup returned: {"city":"Paris"}' in texts


@pytest.mark.parametrize(
    ("message", "options", "kind"),
    [
        ("error", {}, "stream error: custom"),
        ("crash", {}, "interrupted stream"),
        ("slow 50", {"turn_timeout": 0.2}, "timeout"),
    ],
)
def test_failed_turns_are_counted_by_kind(
    server: RunningLocalServer, message: str, options: dict[str, float], kind: str
) -> None:
    report = load(server, users=2, messages=[message], **options)
    m = report.metrics
    assert m.turns == 0 and m.failed >= 2
    assert dict(m.errors) == {kind: m.failed}
    assert report.summary()["errors"] == {kind: m.failed}
    assert all(s.error == kind for s in m.samples)


def test_a_status_error_is_counted_by_its_code() -> None:
    with serve_local_server(required_headers={"Authorization": "Bearer right"}) as running:
        target = LoadTarget(server_url=running.url, headers={"Authorization": "Bearer wrong"})
        report = run(LoadPlan(duration=0.3, users=1), target)
    assert report.metrics.failed >= 1 and dict(report.metrics.errors) == {"status 401": report.metrics.failed}


def test_an_unreachable_server_is_a_connection_error_and_the_run_still_ends() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        report = run(LoadPlan(duration=0.3, rate=10.0), LoadTarget(server_url=f"http://127.0.0.1:{port}/chatkit"))
    assert report.metrics.turns == 0 and set(report.metrics.errors) == {"connection error"}


def test_open_model_starts_turns_on_schedule_whatever_the_server_does(server: RunningLocalServer) -> None:
    report = load(server, rate=20.0, duration=0.5, turns=2, messages=["hello"])
    starts = sorted(s.start for s in report.metrics.samples)
    assert starts == pytest.approx([i / 20 for i in range(10)])
    assert report.metrics.failed == 0
    # Conversations continue: 10 turns of 2-turn conversations need fewer than 10 threads.
    assert len(server.store.thread_ids()) < 10


def test_open_model_counts_queueing_from_the_scheduled_start(server: RunningLocalServer) -> None:
    # `slow 3` takes at least 150 ms on the server; with one turn in flight at a time, turn k (scheduled at
    # k * 50 ms) cannot end before (k + 1) * 150 ms: its latency includes the queue a closed loop would hide.
    report = load(server, rate=20.0, duration=0.5, max_in_flight=1, messages=["slow 3"])
    samples = sorted(report.metrics.samples, key=lambda s: s.start)
    assert len(samples) == 10 and report.metrics.failed == 0
    for k, sample in enumerate(samples):
        assert sample.turn >= (k + 1) * 0.15 - k * 0.05 - 0.001


def test_progress_is_reported_while_the_run_goes_on(server: RunningLocalServer) -> None:
    seen: list[Progress] = []
    report = run(LoadPlan(duration=0.8, users=2), LoadTarget(server_url=server.url), on_progress=seen.append)
    assert len(seen) >= 2
    assert [p.elapsed for p in seen] == sorted(p.elapsed for p in seen)
    assert seen[-1].turns == report.metrics.turns and seen[-1].in_flight == 0


def test_the_json_report_holds_histograms_seconds_and_samples(server: RunningLocalServer) -> None:
    report = load(server, users=2, duration=1.2)
    data = json.loads(json.dumps(report.to_dict()))
    summary = data["summary"]
    assert summary["turns"] == report.metrics.turns > 0
    assert set(data["histograms"]) == {"first_event_ms", "first_delta_ms", "delta_gap_ms", "turn_ms"}
    assert data["histograms"]["first_delta_ms"]["count"] == summary["turns"]
    assert [b["second"] for b in data["seconds"]] == list(range(len(data["seconds"])))
    assert sum(b["turns"] for b in data["seconds"]) == summary["turns"]
    assert sum(b["bytes"] for b in data["seconds"]) == summary["bytes"] > 0
    assert len(data["samples"]) == summary["turns"] and data["sample_fields"][0] == "start_s"
    for key in ("p50", "p90", "p99", "max", "mean"):
        assert summary["first_delta_ms"][key] >= 0
    assert summary["first_delta_ms"]["p50"] <= summary["first_delta_ms"]["p99"] <= summary["first_delta_ms"]["max"]
    text = report.render_text()
    assert "time to first text delta (ms)" in text and "distribution of time to first delta" in text
