"""Every benchmark runs at its smoke size and its correctness checks hold (never its timings).

Each benchmark raises AssertionError when a row's output is wrong (payloads, reply texts, sessions,
uploaded bytes), so a returned result already means the checks passed; the asserts here pin the counts.
"""

from __future__ import annotations

from typing import Any

from bench import __main__ as runner
from bench import (
    bench_concurrency,
    bench_decode,
    bench_floor,
    bench_load,
    bench_loopback,
    bench_overhead,
    bench_scaling,
    bench_startup,
    bench_upload,
)


def _numbers_are_positive(table: list[dict[str, Any]]) -> None:
    for row in table:
        for key, value in row.items():
            if isinstance(value, float) and "×" not in key and "ratio" not in key:
                assert value >= 0, (key, row)


def test_decode_rows_agree_and_typed_reply_is_whole() -> None:
    result = bench_decode.main(smoke=True)
    assert result["payloads_identical"] and result["typed_reply_correct"]
    names = [row["decoder"] for row in result["table"]]
    assert names[0] == bench_decode.TYPED and bench_decode.DECODER_ONLY in names
    assert bench_decode.OPENAI in names and bench_decode.FLOOR in names
    _numbers_are_positive(result["table"])


def test_typed_path_reply_matches_the_stream_for_any_chunking() -> None:
    stream = bench_decode.build_stream(50)
    want = bench_decode.expected_text(50)
    for size in (1, 7, 1024, len(stream)):
        assert bench_decode.decode_typed(bench_decode.chunked(stream, size)).text == want


def test_loopback_both_clients_get_the_scripted_reply() -> None:
    result = bench_loopback.main(smoke=True)
    assert result["replies_correct"]
    assert result["events"] > result["deltas"]  # deltas plus the turn's opening and closing events
    assert len(result["table"]) == 2


def test_overhead_sessions_are_created_by_both_clients() -> None:
    result = bench_overhead.main(smoke=True)
    assert result["sessions_correct"] and result["calls"] == bench_overhead.SMOKE_CALLS
    assert [row["client"] for row in result["table"]][1].startswith("openai")


def test_concurrency_every_reply_correct() -> None:
    result = bench_concurrency.main(smoke=True)
    row = result["table"][0]
    assert row["correct"] == row["turns"] == bench_concurrency.SMOKE_TURNS
    assert row["errors"] == 0
    assert row["peak RSS MB"] >= row["RSS before MB"] > 0


def test_upload_bytes_arrive_and_memory_is_reported() -> None:
    result = bench_upload.main(smoke=True)
    assert result["uploads_correct"]
    growth = result["growth_mb"]
    # The peer reads the file into memory, so its growth is at least the file: proof the measure sees memory.
    peer = next(v for k, v in growth.items() if k.startswith("peer"))
    assert peer >= bench_upload.SMOKE_MB * 0.9


def test_scaling_replies_correct_at_both_sizes() -> None:
    result = bench_scaling.main(smoke=True)
    assert result["replies_correct"]
    assert set(result["ratios"]) == {"assembly", "typed path"}


def test_startup_imports_run() -> None:
    result = bench_startup.main(smoke=True)
    assert result["imports_ok"] and len(result["table"]) == len(bench_startup.COMMANDS)


def test_load_engine_and_both_baselines_drive_correct_turns() -> None:
    result = bench_load.main(smoke=True)
    assert result["replies_correct"]
    assert [row["measure"] for row in result["table"]] == ["turns/s", "turns per CPU s"]
    _numbers_are_positive(result["table"])


def test_floor_every_row_reads_the_whole_turn_and_is_compared_with_the_floor() -> None:
    result = bench_floor.main(smoke=True)
    assert result["replies_correct"]
    paths = {row["path"] for row in result["table"]}
    assert {bench_floor.FLOOR, bench_floor.SEND, bench_floor.STREAM, bench_floor.ASYNC_SEND} <= paths
    assert {row["body"] for row in result["table"]} == {"content-length", "chunked"}
    assert set(result["goals"]) == set(bench_floor.GOALS)
    assert {row["path"] for row in result["first_event"]} >= {bench_floor.FLOOR, bench_floor.STREAM}
    assert [row["path"] for row in result["memory"]] == [bench_floor.FLOOR, bench_floor.SEND]
    assert [row["way"] for row in result["concurrency"]] == [
        "async floor",
        "async AsyncChat.send",
        "threads floor",
        "threads Chat.send",
    ]
    _numbers_are_positive(result["table"])


def test_runner_renders_a_result_table() -> None:
    text = runner.render("scaling", bench_scaling.main(smoke=True))
    assert "assembly" in text and "typed path" in text
