"""The conformance suite, tested: the reference server passes, and each mutant is caught by its case alone."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import httpx2
import pytest

from chatkit_client import InvalidInputError
from chatkit_client.conformance import (
    CASES,
    Level,
    Outcome,
    Probe,
    Report,
    format_failures,
    format_table,
    run_cases,
    run_conformance,
    select_cases,
    to_json,
    to_junit,
)
from chatkit_client.conformance._probe import reproducer
from chatkit_client.conformance._stream import parse_stream
from chatkit_client.testing import serve_app, serve_local_server
from tests.conformance.mutants import ASK, MUTANTS, TOOL, WIDGET, Mutant, all_mutants_app, documented_app, mutant_app

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
TRIGGERS = [TOOL, WIDGET, ASK]
AGENT_CASES = {"tool.output", "structured-input.answer", "widget.action"}


@pytest.fixture(autouse=True)
def quiet_server_errors() -> Iterator[None]:
    # Mutants and the guide's hosting make uvicorn log tracebacks on purpose; they are not test output.
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def not_passed(report: Report) -> dict[str, Outcome]:
    return {case_id: outcome for case_id, outcome in report.outcomes().items() if outcome is not Outcome.PASS}


def test_the_test_kits_server_passes_every_case() -> None:
    with serve_local_server() as server:
        report = run_conformance(server.url, messages=TRIGGERS)
    assert not_passed(report) == {}, format_failures(report)
    assert [result.case.id for result in report.results] == [case.id for case in CASES]
    assert report.exit_code(strict=True) == 0


def test_without_triggers_the_agent_cases_skip_and_say_how_to_trigger_them() -> None:
    with serve_local_server() as server:
        report = run_conformance(server.url, cases=sorted(AGENT_CASES))
    assert not_passed(report) == dict.fromkeys(AGENT_CASES, Outcome.SKIP)
    hints = {result.case.id: result.why for result in report.results}
    assert "tool:get_weather" in hints["tool.output"]
    assert "'ask'" in hints["structured-input.answer"]
    assert "'widget'" in hints["widget.action"]
    assert report.exit_code(strict=True) == 0


def test_openai_chatkit_hosted_as_its_guide_shows_passes_every_required_case() -> None:
    report = run_conformance(app=documented_app(), messages=TRIGGERS)
    # What the reference does with bad requests: `process()` raises and the guide's route leaves it to
    # Starlette (500 text/plain), and a missing thread is found inside the stream (200, then a dropped body).
    assert not_passed(report) == {
        "errors.malformed-json": Outcome.FAIL,
        "errors.unknown-type": Outcome.FAIL,
        "errors.invalid-params": Outcome.FAIL,
        "errors.missing-thread": Outcome.FAIL,
        "errors.missing-thread-stream": Outcome.FAIL,
    }, format_failures(report)
    assert all(result.case.level is Level.RECOMMENDED for result in report.failures(strict=True))
    assert report.exit_code() == 0
    assert report.exit_code(strict=True) == 1
    why = {result.case.id: result.why for result in report.results}
    assert "500 text/plain" in why["errors.malformed-json"]
    assert "answered 200, then dropped the connection" in why["errors.missing-thread-stream"]


@pytest.fixture(scope="module")
def mutants_origin() -> Iterator[str]:
    with serve_app(all_mutants_app()) as origin:
        yield origin


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.name)
def test_each_mutant_is_caught_by_its_case_and_no_other(mutant: Mutant, mutants_origin: str) -> None:
    report = run_conformance(f"{mutants_origin}/{mutant.name}/chatkit", messages=mutant.messages)
    broken = {case_id: o for case_id, o in report.outcomes().items() if o in (Outcome.FAIL, Outcome.WARN)}
    assert broken == mutant.caught_by, format_failures(report)
    for result in report.results:
        if result.case.id in mutant.caught_by:
            assert result.why
            assert result.reproducers, "every failure carries the request that shows it"


def test_every_case_but_attachments_create_has_a_mutant() -> None:
    caught = {case_id for mutant in MUTANTS for case_id in mutant.caught_by}
    # A broken attachments.create blocks the upload and delete cases too, so no mutant can break it alone.
    assert {case.id for case in CASES} - caught == {"attachments.create"}


def test_case_ids_are_unique_and_cite_sections_of_the_protocol_notes() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    headings = set(re.findall(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", PROTOCOL_DOC.read_text(encoding="utf-8"), re.MULTILINE))
    missing = {case.id: case.section for case in CASES if case.section not in headings}
    assert missing == {}
    assert all(re.fullmatch(r"[a-z-]+\.[a-z-]+", case_id) for case_id in ids)


def test_the_case_table_of_the_protocol_notes_matches_the_cases() -> None:
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z.-]+)` \| (required|recommended)[^|]* \| ([\d.]+) \| (.+?) \|$", text, re.MULTILINE)
    assert [(case_id, level, section) for case_id, level, section, _ in rows] == [
        (case.id, case.level.value, case.section) for case in CASES
    ]
    assert [title for *_, title in rows] == [case.title for case in CASES]


def test_select_cases_by_id_prefix_and_section() -> None:
    assert [case.id for case in select_cases(["threads.list"])] == ["threads.list"]
    assert [case.id for case in select_cases(["4.2"])] == [
        "threads.list",
        "threads.list-order",
        "threads.list-pagination",
    ]
    assert {case.id for case in select_cases(["stream"])} == {
        case.id for case in CASES if case.id.startswith("stream.")
    }
    assert {case.id for case in select_cases(["§7"])} == {case.id for case in CASES if case.section == "7"}
    assert {case.id for case in select_cases(["3.1"])} == {"stream.content-type", "stream.framing", "stream.ends"}
    assert select_cases(None) == CASES
    with pytest.raises(InvalidInputError, match="'nope' matches no case"):
        select_cases(["nope"])


def test_a_chosen_case_runs_only_what_it_needs() -> None:
    with serve_local_server() as server:
        report = run_conformance(server.url, cases=["errors.unknown-type"])
        listed = httpx2.post(server.url, json={"type": "threads.list", "params": {}}).json()
    assert report.outcomes() == {"errors.unknown-type": Outcome.PASS}
    assert listed["data"] == []  # no conversation was started for it


def test_reproducers_never_show_a_secret_header() -> None:
    secret = "Bearer sekrit-token-123"
    feedback_500 = next(mutant for mutant in MUTANTS if mutant.name == "feedback-500")
    app = mutant_app(feedback_500, required_headers={"Authorization": secret, "X-Api-Key": "k-456"})
    report = run_conformance(app=app, headers={"Authorization": secret, "X-Api-Key": "k-456", "X-Tenant": "acme"})
    assert report.failures(strict=True)[0].case.id == "items.feedback", format_failures(report)
    assert len(report.failures(strict=True)) == 1
    failed = next(result for result in report.results if result.case.id == "items.feedback")
    curl = failed.reproducers[0].curl
    assert "-H 'Authorization: ***'" in curl
    assert "-H 'X-Api-Key: ***'" in curl
    assert "-H 'X-Tenant: acme'" in curl
    assert '"type":"items.feedback"' in failed.reproducers[0].body
    for text in (json.dumps(to_json(report)), to_junit(report), format_failures(report), format_table(report)):
        assert "sekrit" not in text
        assert "k-456" not in text


def test_reports_as_json_and_junit() -> None:
    title_not_saved = next(mutant for mutant in MUTANTS if mutant.name == "title-not-saved")
    report = run_conformance(app=mutant_app(title_not_saved), cases=["threads", "tool"])
    document = to_json(report)
    assert document["passed"] is False
    assert document["counts"] == {"PASS": 6, "FAIL": 1, "WARN": 0, "SKIP": 1}
    failed = [result for result in document["results"] if result["outcome"] == "FAIL"]
    assert [result["id"] for result in failed] == ["threads.update"]
    assert failed[0]["level"] == "required" and failed[0]["section"] == "4.4"
    # An app runs in process (no port is opened), at the in-process client's origin.
    assert failed[0]["reproducers"][0]["curl"].startswith("curl -sS -N -X POST http://testserver/chatkit ")

    suite = ElementTree.fromstring(to_junit(report))
    assert suite.get("tests") == "8" and suite.get("failures") == "1" and suite.get("skipped") == "1"
    failures = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name", "").split()[0] for case in failures] == ["threads.update"]
    skipped = [case for case in suite.iter("testcase") if case.find("skipped") is not None]
    assert [case.get("name", "").split()[0] for case in skipped] == ["tool.output"]


def test_warnings_fail_only_a_strict_run() -> None:
    garbage = next(mutant for mutant in MUTANTS if mutant.name == "garbage-accepted")
    report = run_conformance(app=mutant_app(garbage), cases=["errors.malformed-json"])
    assert report.exit_code() == 0
    assert report.exit_code(strict=True) == 1
    suite = ElementTree.fromstring(to_junit(report, strict=False))
    assert suite.get("failures") == "0"
    assert ElementTree.fromstring(to_junit(report, strict=True)).get("failures") == "1"


def test_an_unreachable_server_fails_the_run_with_a_reason() -> None:
    with socket.socket() as bound_not_listening:  # connections to it are refused, and no one else can take it
        bound_not_listening.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound_not_listening.getsockname()[1]}/chatkit"
        report = run_conformance(url, cases=["threads.get", "stream.framing"], timeout=2)
    assert set(not_passed(report).values()) == {Outcome.FAIL}
    assert all("could not run" in result.why for result in report.results)
    assert report.exit_code() == 1


def test_an_endpoint_that_is_not_chatkit_fails_fast_with_reproducers() -> None:
    async def not_chatkit(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<h1>Not here</h1>"})

    with serve_app(not_chatkit) as origin:
        probe = Probe(origin + "/chatkit")
        try:
            report = run_cases(probe)
        finally:
            probe.close()
    assert report.exit_code() == 1
    results = {result.case.id: result for result in report.results}
    assert results["stream.content-type"].outcome is Outcome.FAIL
    assert "404 text/html" in results["stream.content-type"].why
    assert results["errors.unknown-type"].outcome is Outcome.FAIL  # a 4xx, but not JSON
    assert report.seconds < 30


def test_framing_is_judged_strictly_and_events_recovered_leniently() -> None:
    good = b'data: {"type":"a"}\n\ndata: {"type":"b"}\n\n'
    assert parse_stream(good).framing_problems == []
    assert [event["type"] for event in parse_stream(good).events] == ["a", "b"]
    one_newline = b'data: {"type":"a"}\ndata: {"type":"b"}\n'
    parsed = parse_stream(one_newline)
    assert parsed.framing_problems and "not one JSON object" in parsed.framing_problems[0]
    assert [event["type"] for event in parsed.events] == ["a", "b"]
    unterminated = b'data: {"type":"a"}'
    assert parse_stream(unterminated).framing_problems == ["the last event is not ended by a blank line"]
    crlf = b'data: {"type":"a"}\r\n\r\n'
    assert parse_stream(crlf).framing_problems == []


def test_urls_in_reports_hide_passwords_and_signed_parameters() -> None:
    from chatkit_client.conformance import Exchange

    url = "http://user:pw@127.0.0.1:1/upload?X-Amz-Signature=s3cr3t&token=t0k&part=2"
    command = reproducer(Exchange("PUT", url, "upload", b"x", {}, multipart=("a.txt", "text/plain"))).curl
    assert "http://user:***@127.0.0.1:1/upload?X-Amz-Signature=***&token=***&part=2" in command
    assert "s3cr3t" not in command and "t0k" not in command and ":pw@" not in command
    report = run_conformance("http://127.0.0.1:9/chatkit?api_key=k3y", cases=["errors.unknown-type"], timeout=2)
    assert report.target == "http://127.0.0.1:9/chatkit?api_key=***"
    assert "k3y" not in json.dumps(to_json(report)) + to_junit(report) + format_failures(report)


def test_a_reproducer_of_raw_bytes_quotes_them_for_the_shell() -> None:
    from chatkit_client.conformance import Exchange

    exchange = Exchange("POST", "http://127.0.0.1:1/chatkit", "(raw bytes)", b"{'x': \"it's\"", {"Cookie": "a=b"})
    command = reproducer(exchange).curl
    assert "-H 'Cookie: ***'" in command
    assert "--data-binary '{'\"'\"'x'\"'\"': \"it'\"'\"'s\"'" in command
