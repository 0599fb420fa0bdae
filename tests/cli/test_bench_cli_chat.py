"""`bench/bench_cli_chat.py` runs at its smoke size: both commands print the whole answer in a pseudo-terminal."""

from __future__ import annotations

from bench import bench_cli_chat


def test_bench_cli_chat_smoke() -> None:
    result = bench_cli_chat.main(smoke=True)
    # Each timing function raises when its command did not print the answer's last word and exit 0.
    assert result["deltas"] == bench_cli_chat.SMOKE_DELTAS
    assert [row["command"] for row in result["table"]] == ["chatkit send (plain)", "chatkit chat (live Markdown)"]
    assert result["chat / send ratio"] > 0
