"""The headless evaluation examples (`examples/chatkit_eval_provider.py`, `chatkit_eval.py`) on the local server."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from chatkit_client import AsyncChatKit
from chatkit_client.testing import RunningLocalServer, serve_local_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def running() -> Iterator[RunningLocalServer]:
    with serve_local_server(required_headers={"Authorization": "Bearer eval"}) as served:
        yield served


def test_provider_answers_promptfoo_calls(running: RunningLocalServer) -> None:
    provider = load("chatkit_eval_provider")
    options = {"config": {"server_url": running.url, "headers": {"Authorization": "Bearer eval"}, "timeout": 10}}
    try:
        ok = provider.call_api("hello eval", options, {"vars": {}})
        widget = provider.call_api("widget", options, {"vars": {}})
        failed = provider.call_api("error", options, {})
        refused = provider.call_api("hello", {"config": {"server_url": running.url, "timeout": 10}}, {})
    finally:
        provider.close_clients()
    assert ok["output"] == "You said: hello eval"
    assert ok["metadata"]["thread_id"] in running.store.thread_ids()
    assert ok["metadata"]["items"] == {"user_message": 1, "assistant_message": 1}
    assert widget["metadata"]["items"]["widget"] == 1
    assert failed["error"] == "the server ended the answer with an error: Scripted error"
    assert failed["output"]  # the deltas that arrived before the error
    assert "AuthenticationError" in refused["error"] and "output" not in refused


@pytest.mark.anyio
async def test_runner_drives_many_prompts_concurrently(running: RunningLocalServer) -> None:
    runner = load("chatkit_eval")
    cases = [runner.Case(prompt=f"slow 2 case {n}") for n in range(12)]
    cases += [runner.Case(prompt=f"echo {n}", expect=f"You said: echo {n}") for n in range(12)]
    cases += [runner.Case(prompt="hello", expect="goodbye"), runner.Case(prompt="error")]
    async with AsyncChatKit(server_url=running.url, headers={"Authorization": "Bearer eval"}, timeout=10) as client:
        run = await runner.run_eval(client, cases, concurrency=6)
    assert [result.prompt for result in run.results] == [case.prompt for case in cases]
    assert run.passed == 24
    assert run.max_in_flight == 6
    wrong, failed = run.results[-2:]
    assert not wrong.passed and wrong.error is None and wrong.output == "You said: hello"
    assert not failed.passed and failed.error == "error event: Scripted error"
    assert len(running.store.thread_ids()) == len(cases)


def test_runner_command_line(running: RunningLocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = load("chatkit_eval")
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"prompt": "hi", "expect": "You said: hi"}\n\n{"prompt": "bye", "expect": "nope"}\n')
    report = tmp_path / "results.json"
    status = runner.main(
        [str(cases), "--server-url", running.url, "--header", "Authorization: Bearer eval", "--json", str(report)]
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0].startswith("PASS") and out[1].startswith("FAIL") and "answer lacks the expected text" in out[1]
    assert json.loads(out[2])["passed"] == 1
    assert [result["passed"] for result in json.loads(report.read_text())] == [True, False]
    assert "Bearer eval" not in "\n".join(out)
