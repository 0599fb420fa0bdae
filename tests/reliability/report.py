"""Run the reliability suite for ChatKit and AsyncChatKit, and write RELIABILITY.md and BENCHMARKS.md's section.

    .venv/bin/python -m tests.reliability.report

Three parts: the scenarios of issue 13's 25 items (the pytest modules named in `ITEMS`, run in a child
pytest whose JUnit XML is read back and grouped by item), the HTTP fault cases of `faults.py` (played here
with both clients) and the soak.
"""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from chatkit_client import ChatKit
from chatkit_client.testing import serve_local_server
from tests.reliability.faults import CASES, Outcome, capture_logs, run_case
from tests.reliability.misbehaving_server import MisbehavingServer
from tests.reliability.test_soak import TURNS, WARM_UP, open_fds, rss_bytes, settled_fds

ROOT = Path(__file__).resolve().parents[2]
# A bound for the child pytest as a whole; each test inside is bounded by its own timeouts.
SUITE_TIMEOUT = 1800

TRANSPORT = "tests/reliability/test_transport_faults.py"
INPUT = "tests/reliability/test_input_and_secrets.py"
CORE = "tests/reliability/test_core_bounds.py"
PAGINATION = "tests/reliability/test_pagination_faults.py"
RETRY_AFTER = "tests/reliability/test_retry_after_faults.py"
RETRY_UNIT = "tests/unit/test_retry.py"
CLI_TERMINAL = "tests/cli/test_cli_terminal_safety.py"  # on the `cli` branch until it is merged


@dataclass(frozen=True)
class Item:
    """One numbered item of issue 13 and the tests that hold it (all in `module`).

    `data` lists the tests whose assertions check data: the bytes an upload stored, a message or action
    reaching the server exactly once, the events and Reply kept (also after a break), every page of a
    listing, the answer given to the request that asked for it, the thread a delete acts on. A failure
    of one of them is counted as data lost. `checks` are the other tests (refusals, error messages,
    secrets, bounds, controls). No names at all means every test of the module.
    """

    number: str
    what: str
    module: str
    data: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()

    @property
    def tests(self) -> tuple[str, ...]:
        return self.data + self.checks


# Issue 13 item -> tests, from the notes of the helpers who fixed them (rel-transport, rel-input, rel-core,
# protocol, cli). The one place to edit when a test is added or renamed: `main` lists any test of the suite's
# modules that no item names, and any name here that matched no test.
ITEMS: list[Item] = [
    Item(
        "1",
        "upload from a drained stream not resent as an empty file",
        TRANSPORT,
        data=(
            "test_an_upload_from_a_drained_stream_is_not_resent_as_an_empty_file",
            "test_a_hosted_upload_from_a_drained_stream_is_not_resent",
            "test_a_stream_of_unknown_size_is_uploaded_whole",
            "test_a_seekable_upload_is_rewound_and_resent_whole",
        ),
    ),
    Item(
        "2",
        "a message the server took is not resent after a read timeout or a 504",
        TRANSPORT,
        data=(
            "test_a_message_the_server_is_working_on_is_not_resent_after_a_read_timeout",
            "test_a_message_answered_504_by_a_gateway_is_not_resent",
        ),
        checks=("test_a_protocol_read_is_resent_after_a_read_timeout",),
    ),
    Item(
        "3",
        "actions, feedback, deletes, renames, attachments not resent after a drop",
        TRANSPORT,
        data=("test_a_request_that_changes_something_is_not_resent_after_the_connection_drops",),
        checks=("test_a_protocol_read_is_resent_after_the_connection_drops",),
    ),
    Item(
        "4",
        "a 2xx stream without events says no answer arrived",
        CORE,
        data=(
            "test_a_2xx_stream_without_events_says_no_answer_arrived",
            "test_a_crash_mid_answer_on_the_real_server_keeps_the_events_before_it",
        ),
        checks=("test_an_unknown_thread_on_the_real_server_is_a_stream_that_ended_early",),
    ),
    Item(
        "5",
        "a file object is uploaded from its position, size announced = sent",
        INPUT,
        data=(
            "test_hosted_upload_starts_at_the_file_position",
            "test_hosted_upload_retry_resends_from_the_same_position",
            "test_self_hosted_upload_announces_exactly_what_it_sends",
        ),
    ),
    Item(
        "6",
        "stray bytes after an answer never reach the next request",
        TRANSPORT,
        data=(
            "test_stray_bytes_after_an_answer_are_not_read_as_the_next_answer",
            "test_stray_bytes_after_a_streamed_answer_are_not_read_as_the_next_answer",
        ),
    ),
    Item(
        "7",
        "bad keys and header values refused by name, never echoed",
        INPUT,
        checks=(
            "test_a_bad_credential_is_refused_by_name_and_never_shown",
            "test_a_bad_key_from_the_environment_is_refused_before_sending",
            "test_a_bad_client_secret_is_refused_before_sending",
            "test_callable_headers_are_checked_each_time",
            "test_cli_error_line_for_a_bad_key_names_it_without_showing_it",
        ),
    ),
    Item(
        "8",
        "a malformed session answer never shows its secret",
        INPUT,
        checks=(
            "test_a_malformed_session_answer_never_shows_its_secret",
            "test_validating_a_session_yourself_never_quotes_its_secret",
            "test_a_malformed_thread_list_is_a_validation_error_without_inputs",
        ),
    ),
    Item(
        "9",
        "credentials in URLs redacted in errors, logs, reprs, the CLI",
        INPUT,
        checks=(
            "test_url_credentials_stay_out_of_connection_errors_and_logs",
            "test_url_credentials_stay_out_of_status_errors_timeouts_and_reprs",
            "test_base_url_and_upload_url_credentials_are_redacted",
            "test_cli_error_line_redacts_url_credentials",
        ),
    ),
    Item("10", "terminal injection: server text neutralised in the CLI", CLI_TERMINAL),
    Item(
        "11",
        "ids that are not ids (`.`, `..`, `a/b`, ...) refused before any request",
        INPUT,
        data=("test_ids_that_are_not_ids_are_refused_before_any_request",),
    ),
    Item(
        "12",
        "content-index jumps do not allocate the gaps",
        CORE,
        data=("test_deltas_jumping_far_ahead_do_not_allocate_the_gaps",),
    ),
    Item(
        "13",
        "a gzip bomb in a JSON answer stops at `max_response_size`",
        TRANSPORT,
        checks=(
            "test_a_gzip_bomb_is_not_inflated_past_max_response_size",
            "test_a_hosted_gzip_bomb_is_not_inflated_past_max_response_size",
        ),
    ),
    Item(
        "14",
        "a progress flood keeps the latest and a bounded history",
        CORE,
        data=("test_a_progress_flood_keeps_the_latest_and_a_bounded_history",),
    ),
    Item(
        "15",
        "pagination that repeats a cursor or garbles `has_more` stops",
        PAGINATION,
        data=(
            "test_a_cursor_sent_again_stops_the_walk_with_an_error",
            "test_has_more_spelled_as_a_string_is_read_as_meant",
        ),
        checks=(
            "test_a_page_that_cannot_say_where_the_walk_goes_raises",
            "test_next_page_by_hand_refuses_a_page_that_points_at_itself",
        ),
    ),
    Item(
        "16",
        "client tool rounds capped (`max_tool_rounds`), reply kept",
        CORE,
        data=("test_client_tool_rounds_stop_at_the_cap_with_the_reply",),
        checks=("test_the_default_cap_is_stated_and_bad_caps_are_refused",),
    ),
    Item(
        "17",
        "a session outage: waiters share one failing attempt",
        CORE,
        checks=("test_fifty_callers_share_one_failing_session_cycle",),
    ),
    Item(
        "18",
        "a total deadline per request and per turn (`total_timeout`)",
        TRANSPORT,
        data=("test_a_streamed_turn_ends_at_the_total_timeout_and_keeps_what_arrived",),
        checks=(
            "test_a_dripping_answer_ends_at_the_total_timeout",
            "test_a_dripping_session_create_ends_at_the_total_timeout_of_with_options",
        ),
    ),
    Item(
        "19",
        "a clock ahead of the server's does not renew every turn",
        CORE,
        checks=("test_a_clock_two_hours_ahead_does_not_create_a_session_per_turn",),
    ),
    Item(
        "20",
        "workflow task events in linear time, every task kept",
        CORE,
        data=("test_ten_thousand_workflow_tasks_arrive_whole",),
    ),
    Item(
        "21",
        "a negative or past `Retry-After` falls back to the backoff",
        RETRY_AFTER,
        data=("test_a_negative_or_past_retry_after_waits_the_backoff",),
    ),
    Item("21", "", RETRY_UNIT, checks=("test_a_negative_or_past_retry_after_falls_back_to_the_backoff",)),
    Item(
        "22",
        "a file that changes size during upload: clear error, not resent",
        TRANSPORT,
        data=("test_a_file_that_changes_size_during_upload_is_a_clear_error_and_not_resent",),
    ),
    Item(
        "23",
        "bad input refused up front (surrogates, files, options, closed client)",
        INPUT,
        checks=(
            "test_lone_surrogates_are_refused_before_sending",
            "test_lone_surrogate_in_a_session_argument_is_refused",
            "test_bad_files_are_refused_with_what_they_are",
            "test_a_closed_file_and_a_str_tuple_are_refused_by_hosted_uploads",
            "test_cli_upload_of_a_name_that_is_not_utf8_is_one_error_line",
            "test_bad_client_options_are_refused_at_construction",
            "test_with_options_refuses_a_negative_timeout",
            "test_a_server_url_query_is_kept_on_every_request",
            "test_a_closed_client_raises_a_chatkit_error",
            "test_an_async_client_closed_by_its_context_raises_a_chatkit_error",
        ),
    ),
    Item(
        "24",
        "a 700-level widget refused naming the limit, reply kept",
        CORE,
        data=("test_a_700_level_widget_is_refused_naming_the_limit",),
        checks=(
            "test_a_deep_widget_in_a_page_of_items_is_refused_naming_the_limit",
            "test_chatkit_send_json_reports_the_deep_widget_without_a_traceback",
        ),
    ),
    Item(
        "25",
        "breaking out of `text_deltas()` without `async with` closes cleanly",
        CORE,
        checks=("test_breaking_out_of_text_deltas_without_a_with_block_closes_cleanly",),
    ),
    # Not numbered in issue 13, but in the same modules: issue 8's error hints and local refusals.
    Item(
        "(8)",
        "issue 8: 404 hints name the setting; refusals before sending; reply.thread",
        TRANSPORT,
        checks=(
            "test_a_wrong_server_url_path_names_the_url_and_the_setting",
            "test_the_hosted_api_root_given_as_server_url_says_to_use_api_key",
            "test_a_wrong_hosted_base_url_names_base_url",
            "test_the_cli_names_the_url_and_the_option_to_check_on_a_404",
        ),
    ),
    Item(
        "(8)",
        "",
        CORE,
        data=(
            "test_every_reply_carries_the_thread_with_its_title",
            "test_retry_finds_the_last_user_message_behind_more_than_one_page_of_newer_items",
        ),
        checks=(
            "test_a_tool_output_with_no_pending_call_is_refused_before_sending",
            "test_a_structured_input_answered_twice_is_refused_before_sending",
            "test_retry_on_a_thread_without_a_user_message_is_refused_before_sending",
        ),
    ),
]


@dataclass
class Run:
    """One test run as the child pytest reported it."""

    module: str
    name: str  # the test function and its parameters, "test_x[sync-...]"
    outcome: str  # "passed", "failed" (an assertion or exception in the test), "error" (setup/teardown), "skipped"
    message: str = ""

    @property
    def function(self) -> str:
        return self.name.split("[", 1)[0]

    @property
    def client(self) -> str:
        """The `kind` parameter ("sync" or "async"), or "" for a test that uses one client or none."""
        params = self.name[len(self.function) :].strip("[]").split("-")
        return next((kind for kind in ("sync", "async") if kind in params), "")


@dataclass
class ItemResult:
    item: Item
    runs: list[Run] = field(default_factory=list)

    @property
    def held(self) -> int:
        return sum(run.outcome == "passed" for run in self.runs)

    @property
    def data_lost(self) -> int:
        return sum(run.outcome == "failed" and run.function in self.item.data for run in self.runs)


def suite_modules() -> list[str]:
    """The modules of `ITEMS` present in this checkout (the CLI suite's may not be merged yet)."""
    return sorted({item.module for item in ITEMS if (ROOT / item.module).exists()})


def run_suite(modules: Iterable[str]) -> list[Run]:
    """Run the modules in a child pytest (its own process: memory, warnings and logging stay apart from ours)."""
    selection: list[str] = []
    for module in modules:
        items = [item for item in ITEMS if item.module == module]
        if module.startswith("tests/reliability/") or any(not item.tests for item in items):
            selection.append(module)
        else:  # a module outside the suite: only the tests an item names
            selection.extend(f"{module}::{name}" for item in items for name in item.tests)
    with tempfile.TemporaryDirectory() as scratch:
        xml_path = Path(scratch) / "suite.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml_path}"]
        done = subprocess.run(
            [*command, *selection], cwd=ROOT, capture_output=True, text=True, timeout=SUITE_TIMEOUT, check=False
        )
        # 0: all passed, 1: some failed; anything else (collection error, interrupt) means no usable result.
        if done.returncode not in (0, 1) or not xml_path.exists():
            sys.stderr.write(done.stdout[-5000:] + done.stderr[-5000:])
            raise SystemExit(f"pytest exited with {done.returncode}")
        return parse_junit(xml_path.read_text())


def parse_junit(text: str) -> list[Run]:
    runs = []
    for case in ET.fromstring(text).iter("testcase"):
        # pytest writes a module-level test "tests/x/test_y.py::test_z[p]" as classname "tests.x.test_y".
        module = case.get("classname", "").replace(".", "/") + ".py"
        outcome, message = "passed", ""
        # A failure outranks a teardown error after it, and both outrank a skip.
        for tag, name in (("skipped", "skipped"), ("error", "error"), ("failure", "failed")):
            found = case.find(tag)
            if found is not None:
                outcome = name
                message = next(iter((found.get("message") or "").splitlines()), "")[:160]
        runs.append(Run(module, case.get("name", ""), outcome, message))
    return runs


def group(runs: list[Run]) -> tuple[list[ItemResult], list[Run], list[str]]:
    """Runs by item; runs no item names; names of items that matched no run (a renamed test)."""
    results = [ItemResult(item) for item in ITEMS]
    unmapped: list[Run] = []
    for run in runs:
        owner = next(
            (r for r in results if r.item.module == run.module and (not r.item.tests or run.function in r.item.tests)),
            None,
        )
        if owner is None:
            unmapped.append(run)
        else:
            owner.runs.append(run)
    stale = [
        f"{result.item.module}::{name}"
        for result in results
        for name in result.item.tests
        if not any(run.function == name for run in result.runs)
    ]
    return results, unmapped, stale


def short(module: str) -> str:
    return module.removeprefix("tests/reliability/").removeprefix("tests/")


def item_rows(results: list[ItemResult]) -> list[str]:
    rows = []
    for result in results:
        item, runs = result.item, result.runs
        if not item.what:  # the second half of a row split across two modules
            continue
        same = [r for r in results if r.item.number == item.number]
        runs = [run for r in same for run in r.runs]
        modules = ", ".join(f"`{short(r.item.module)}`" for r in same)
        if not runs and not (ROOT / item.module).exists():
            where = f"`{short(item.module)}` (not merged)"
            rows.append(f"| {item.number} | {item.what} | in the CLI suite | | | | {where} |")
            continue
        counts = [sum(run.client == kind for run in runs) for kind in ("sync", "async", "")]
        split = " + ".join(str(n) for n in counts[:2]) + (f" + {counts[2]}" if counts[2] else "")
        held = sum(r.held for r in same)
        lost = sum(r.data_lost for r in same)
        rows.append(f"| {item.number} | {item.what} | {len(runs)} | {split} | {held} | {lost} | {modules} |")
    return rows


def did_not_hold(runs: Iterable[Run]) -> list[str]:
    return [
        f"- `{short(run.module)}::{run.name}`: {run.outcome}" + (f" ({run.message})" if run.message else "")
        for run in runs
        if run.outcome != "passed"
    ]


async def run_all() -> list[Outcome]:
    _, log_text = capture_logs()
    outcomes = []
    with MisbehavingServer() as server:
        for case in CASES:
            for kind in ("sync", "async"):
                outcomes.append(await run_case(case, kind, server, log_text))
    return outcomes


def soak() -> tuple[float, int, int]:
    with serve_local_server() as server:
        fds_before = open_fds()
        client = ChatKit(server_url=server.url, timeout=30)
        chat = client.chat()
        for index in range(WARM_UP):
            chat.send(f"warm {index}")
        gc.collect()
        start = rss_bytes()
        for index in range(TURNS):
            chat.send(f"turn {index}")
        gc.collect()
        growth = (rss_bytes() - start) / 1048576
        client.close()
        return growth, fds_before, settled_fds(fds_before)


def fault_rows(outcomes: list[Outcome]) -> list[str]:
    rows = []
    for case in CASES:
        pair = [o for o in outcomes if o.case is case]
        passed = sum(not o.problems and not case.known_gap for o in pair)
        lost = sum(o.data_lost for o in pair)
        results = " / ".join(sorted({o.result for o in pair}))
        notes = "; ".join(sorted({p for o in pair for p in o.problems})) or case.known_gap
        rows.append(f"| `{case.id}` | {len(pair)} | {passed} | {lost} | {results} | {case.sends} | {notes} |")
    return rows


def write_benchmarks(body: str, label: str, tried: int, held: int, lost: int) -> None:
    """Replace BENCHMARKS.md's Reliability section with `body` and keep its Summary row up to date."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    section = (
        "## Reliability\n\nFrom `tests/reliability/` (regenerate with `.venv/bin/python -m "
        "tests.reliability.report`, which also rewrites RELIABILITY.md).\n\n" + body
    )
    start = text.find("\n## Reliability\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + (text[end + 1 :] if end >= 0 else "")
    met = "yes" if held == tried and lost == 0 else "no"
    row = (
        f"| R | Reliability: {label} | every run holds, no data lost "
        f"| {held}/{tried} held, data lost in {lost} | {met} |"
    )
    lines = text.split("\n")
    summary = lines.index("## Summary")
    table = [i for i in range(summary, len(lines)) if lines[i].startswith("|")]
    last = next(i for i in table if i + 1 not in table)  # the end of the Summary table
    existing = [i for i in range(summary, last + 1) if lines[i].startswith("| R | Reliability")]
    if existing:
        lines[existing[0]] = row
    else:
        lines.insert(last + 1, row)
    path.write_text("\n".join(lines))


def main() -> None:
    results, unmapped, stale = group(run_suite(suite_modules()))
    outcomes = anyio.run(run_all)
    growth, fds_before, fds_after = soak()

    runs = [run for result in results for run in result.runs]
    tried, held = len(runs), sum(r.held for r in results)
    numbered = sum(len(r.runs) for r in results if r.item.number.isdigit())
    lost = sum(r.data_lost for r in results)
    faults_tried = len(outcomes)
    faults_passed = sum(not o.problems and not o.case.known_gap for o in outcomes)
    faults_lost = sum(o.data_lost for o in outcomes)
    failures = did_not_hold(runs + unmapped)
    notes = []
    if unmapped:
        notes.append(f"{len(unmapped)} runs of these modules belong to no item in `report.py`'s `ITEMS`:")
        notes += [f"- `{short(run.module)}::{run.name}`: {run.outcome}" for run in unmapped]
    if stale:
        notes.append("Tests named in `ITEMS` that did not run (renamed or removed?):")
        notes += [f"- `{name}`" for name in stale]
    missing = [item for item in ITEMS if not (ROOT / item.module).exists()]
    body = "\n".join(
        [
            "### Issue 13: an adversarial server and careless input",
            "",
            "Each of issue 13's 25 items is held by scenarios in `tests/reliability/` that run with `ChatKit` and",
            "`AsyncChatKit` (the `kind` fixture) against real loopback servers: raw-socket servers that misbehave on",
            "purpose, the hosted-API emulator, the openai-chatkit server, and the `chatkit` CLI as a subprocess.",
            "*Tried* counts test runs: sync + async, and *other* for runs that use one client, the CLI or no client.",
            "*Held* counts runs that passed. *Data lost* counts failed runs of tests that check data: the bytes an",
            "upload stored, a message or action reaching the server exactly once, the events and Reply kept (also",
            "after a break), every page of a listing, an answer given to the request that asked for it, the thread",
            "a delete acts on (`data` in `report.py`'s `ITEMS`); the other tests check refusals, error messages,",
            "secrets and bounds. A run that errors in a fixture counts as not held, not as data lost.",
            "Item 21 also counts the unit test of the retry policy it changed (no client, no I/O). Rows `(8)` are",
            "issue 8's tests that live in the same modules.",
            "",
            f"**Total: {tried} runs tried ({numbered} for issue 13's items, {tried - numbered} for issue 8's),"
            f" {held} held, data lost in {lost}.**",
            "",
            "| # | what | tried | sync + async (+ other) | held | data lost | module |",
            "|---|---|---|---|---|---|---|",
            *item_rows(results),
            "",
            *(
                [f"Not on this branch: {', '.join(f'`{item.module}` (item {item.number})' for item in missing)}.", ""]
                if missing
                else []
            ),
            *(["Did not hold:", "", *failures, ""] if failures else ["Every run held.", ""]),
            *([*notes, ""] if notes else []),
            "### HTTP fault cases",
            "",
            "Fault cases of `tests/reliability/faults.py` (a server on raw asyncio sockets that breaks HTTP itself),",
            "each run with `ChatKit` and `AsyncChatKit` (timeout 1-2 s, max_retries=1). A case passes when the call",
            "completes correctly or raises the documented `ChatKitError` subclass with a message that says what",
            "happened, within its timeout, without resending a message the server had started to answer, with",
            "everything received before a break in `err.reply`, and with no API key, client secret or app token in",
            "DEBUG logs or exception text. Data lost: a reply text that differs from what was sent, or a partial",
            "reply missing what arrived before the break.",
            "",
            f"**Total: {faults_tried} runs tried, {faults_passed} passed, data lost in {faults_lost}.**",
            "",
            "| scenario | runs | passed | data lost | result | conversation sends | notes |",
            "|---|---|---|---|---|---|---|",
            *fault_rows(outcomes),
            "",
            "Fuzz (`test_fuzz.py`, hypothesis): 2,000 generated streams, each fed whole and in random chunks",
            "(down to one byte), give identical events and Reply; 1,200 mutated event payloads give a tolerant",
            "parse or a `ChatKitError`, never another exception.",
            "",
            f"Soak (`test_soak.py`): {TURNS} sequential turns on one Chat against the local server (same process):",
            f"RSS grew {growth:.1f} MB (limit 10 MB); open descriptors {fds_before} before, {fds_after} after.",
            "",
            f"Machine: {platform.platform()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.",
            "",
        ]
    )
    tests_by_item = [
        f"- {item.number}, `{short(item.module)}`: " + (", ".join(f"`{name}`" for name in item.tests) or "every test")
        for item in ITEMS
    ]
    reliability = (
        "## Reliability\n\nReproduce: `.venv/bin/python -m tests.reliability.report` (also rewrites BENCHMARKS.md's"
        " Reliability section).\n\n" + body + "\n### Tests per item\n\n" + "\n".join(tests_by_item) + "\n"
    )
    (ROOT / "RELIABILITY.md").write_text(reliability)
    covered = len({r.item.number for r in results if r.item.number.isdigit() and r.runs})
    label = f"issue 13 scenarios ({covered} of 25 items here) and HTTP fault cases, both clients"
    write_benchmarks(body, label, tried + faults_tried, held + faults_passed, lost + faults_lost)
    print(reliability)


if __name__ == "__main__":
    main()
