"""`chatkit conformance` through click's CliRunner, against real servers on loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner, Result

from chatkit_client.cli._app import cli
from chatkit_client.conformance import CASES
from chatkit_client.testing import serve_local_server

_CLEAN_ENV: dict[str, str | None] = {"CHATKIT_SERVER_URL": None, "OPENAI_API_KEY": None}


@pytest.fixture(autouse=True)
def quiet_server_errors() -> Iterator[None]:
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, env=_CLEAN_ENV, prog_name="chatkit")


def rows(output: str) -> dict[str, str]:
    """case id -> its result, from the printed table."""
    found = {}
    for line in output.split("Reproducers:")[0].splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] in {case.id for case in CASES}:
            found[words[0]] = words[2]
    return found


def test_the_local_server_passes_with_reports_written(tmp_path: Path) -> None:
    json_path, junit_path = tmp_path / "report.json", tmp_path / "report.xml"
    with serve_local_server() as server:
        args = ["conformance", "--server-url", server.url, "--json", str(json_path), "--junit", str(junit_path)]
        for text in ("tool:get_weather {}", "widget", "ask"):
            args += ["--message", text]
        result = run(args)
    assert result.exit_code == 0, result.output
    assert rows(result.output) == {case.id: "PASS" for case in CASES}
    assert f"{len(CASES)} cases: {len(CASES)} pass, 0 fail, 0 warn, 0 skip" in result.output
    report = json.loads(json_path.read_text())
    assert report["passed"] is True and report["counts"]["PASS"] == len(CASES)
    suite = ElementTree.parse(junit_path).getroot()
    assert suite.get("tests") == str(len(CASES)) and suite.get("failures") == "0"


def test_a_required_failure_exits_1_and_prints_a_masked_reproducer() -> None:
    result = run(
        [
            "conformance",
            "--app",
            "tests.conformance.apps:feedback_500",
            "--header",
            "Authorization: Bearer sekrit",
            "--case",
            "items",
        ]
    )
    assert result.exit_code == 1, result.output
    assert rows(result.output) == {
        "items.list": "PASS",
        "items.list-order": "PASS",
        "items.list-pagination": "PASS",
        "items.feedback": "FAIL",
    }
    assert "Reproducers:" in result.output
    assert '"type":"items.feedback"' in result.output
    assert "-H 'Authorization: ***'" in result.output
    assert "sekrit" not in result.output
    assert "FAILED" in result.output


def test_recommended_failures_exit_1_only_with_strict() -> None:
    args = ["conformance", "--app", "tests.conformance.apps:documented", "--case", "errors.unknown-type"]
    relaxed = run(args)
    assert relaxed.exit_code == 0, relaxed.output
    assert rows(relaxed.output) == {"errors.unknown-type": "FAIL"}
    strict = run([*args, "--strict"])
    assert strict.exit_code == 1
    assert "FAILED (strict)" in strict.output


def test_the_groups_server_url_and_headers_apply() -> None:
    with serve_local_server(required_headers={"Authorization": "Bearer t"}) as server:
        denied = run(["--server-url", server.url, "conformance", "--case", "threads.get"])
        header = ["--header", "Authorization: Bearer t"]
        allowed = run(["--server-url", server.url, *header, "conformance", "--case", "threads.get"])
    assert denied.exit_code == 1
    assert "401" in denied.output
    assert allowed.exit_code == 0, allowed.output
    assert rows(allowed.output) == {"threads.get": "PASS"}


def test_list_needs_no_server() -> None:
    result = run(["conformance", "--list"])
    assert result.exit_code == 0
    assert all(case.id in result.output for case in CASES)
    assert "§3.1" in result.output
    assert "required (agent)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["conformance"], "nothing to test: pass --server-url URL"),
        (["conformance", "--server-url", "http://127.0.0.1:9/chatkit", "--app", "x:y"], "not both"),
        (["conformance", "--server-url", "http://127.0.0.1:9/chatkit", "--case", "nope"], "'nope' matches no case"),
        (["conformance", "--app", "tests.conformance.apps:not_an_app"], "not an ASGI application"),
        (["conformance", "--app", "no_such_module_here:app"], "cannot import 'no_such_module_here'"),
        (["conformance", "--app", "nocolon"], "expected 'module:attr'"),
        (["conformance", "--server-url", "http://127.0.0.1:9/chatkit", "--header", "oops"], "expected 'Name: value'"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = run(args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output
