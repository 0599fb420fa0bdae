"""The hosted-API emulator, exercised with plain httpx2 over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from chatkit_client.testing._emulator import HostedEmulator, RunningEmulator, Turn, serve_emulator

HEX48 = r"[0-9a-f]{48}"
NAIVE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%fake\n"


class Api:
    """Thin helpers over an httpx2 client pointed at a running emulator."""

    def __init__(self, running: RunningEmulator) -> None:
        self.running = running
        self.emulator = running.emulator
        self.http = httpx2.Client(base_url=running.base_url, timeout=10)
        self.admin = {"Authorization": f"Bearer {running.api_key}", "OpenAI-Beta": "chatkit_beta=v1"}

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def session(self, user: str = "user_1", **extra: Any) -> dict[str, Any]:
        body = {"user": user, "workflow": {"id": "wf_demo"}, **extra}
        response = self.http.post("/chatkit/sessions", json=body, headers=self.admin)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def uploads_session(self, **file_upload: Any) -> str:
        cfg = {"file_upload": {"enabled": True, **file_upload}}
        return str(self.session(chatkit_configuration=cfg)["client_secret"])

    def upload(self, secret: str, name: str, data: bytes, mime: str | None) -> httpx2.Response:
        part: tuple[Any, ...] = (name, data, mime) if mime else (name, data)
        return self.http.post("/chatkit/files", files={"file": part}, headers={"Authorization": f"Bearer {secret}"})

    def post_conv(self, secret: str, body: Any) -> httpx2.Response:
        return self.http.post("/chatkit/conversation", json=body, headers={"Authorization": f"Bearer {secret}"})

    def stream(self, secret: str, kind: str, /, **params: Any) -> list[dict[str, Any]]:
        response = self.post_conv(secret, {"type": kind, "params": params})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)

    def call(self, secret: str, kind: str, /, **params: Any) -> Any:
        response = self.post_conv(secret, {"type": kind, "params": params})
        assert response.status_code == 200, response.text
        return response.json()


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "quoted_text": "",
        "inference_options": {},
    }


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    text = raw.decode("utf-8")
    assert text.endswith("\n\n")
    events = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: ") and "\n" not in block, block
        events.append(json.loads(block[len("data: ") :]))
    return events


def shape(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        if event["type"] == "thread.item.updated":
            out.append("updated:" + event["update"]["type"].rsplit(".", 1)[-1])
        elif "item" in event:
            out.append(f"{event['type']}:{event['item']['type']}")
        else:
            out.append(event["type"])
    return out


def error_of(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


@pytest.fixture
def api() -> Iterator[Api]:
    with serve_emulator() as running, Api(running) as client:
        yield client


# --------------------------------------------------------------------------------------------- basics


def test_running_emulator_urls_and_unknown_path(api: Api) -> None:
    assert api.running.base_url == api.running.origin + "/v1"
    assert api.running.api_key == "sk-test-emulator" and "sk-test" not in repr(api.running)
    response = api.http.get("/chatkit/nope", headers=api.admin)
    assert response.status_code == 404
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
    assert error_of(response)["message"] == "Invalid URL (GET /v1/chatkit/nope)"


def test_missing_and_wrong_api_key(api: Api) -> None:
    missing = api.http.post("/chatkit/sessions", json={}, headers={"OpenAI-Beta": "chatkit_beta=v1"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="OpenAI API"'
    assert "didn't provide an API key" in error_of(missing)["message"]

    wrong_key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    wrong = api.http.post(
        "/chatkit/sessions",
        json={"user": "u", "workflow": {"id": "wf"}},
        headers={"Authorization": f"Bearer {wrong_key}", "OpenAI-Beta": "chatkit_beta=v1"},
    )
    assert wrong.status_code == 401
    err = error_of(wrong)
    assert err["code"] == "invalid_api_key" and err["type"] == "invalid_request_error"
    assert wrong_key not in err["message"] and "sk-proj-****6789" in err["message"]
    assert wrong.headers["x-request-id"].startswith("req_")
    assert api.http.get("/chatkit/threads", headers={"OpenAI-Beta": "chatkit_beta=v1"}).status_code == 401


def test_beta_header_is_required_on_server_side_endpoints(api: Api) -> None:
    headers = {"Authorization": api.admin["Authorization"]}
    for response in (
        api.http.post("/chatkit/sessions", json={"user": "u", "workflow": {"id": "wf"}}, headers=headers),
        api.http.get("/chatkit/threads", headers=headers),
    ):
        assert response.status_code == 400
        assert "OpenAI-Beta" in error_of(response)["message"]
    assert not api.emulator.sessions


# ------------------------------------------------------------------------------------------ sessions


def test_session_defaults_and_id_formats(api: Api) -> None:
    before = api.emulator.now()
    session = api.session()
    assert re.fullmatch(rf"cksess_{HEX48}", session["id"])
    match = re.fullmatch(rf"ek_{HEX48}_00([A-Za-z0-9_-]+)", session["client_secret"])
    assert match
    tail = match.group(1)
    embedded = json.loads(base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4)))
    assert embedded == {"expires_at": session["expires_at"]}
    assert isinstance(session["expires_at"], int)
    assert int(before) + 600 <= session["expires_at"] <= int(api.emulator.now()) + 600
    assert session["object"] == "chatkit.session" and session["status"] == "active"
    assert session["workflow"] == {
        "id": "wf_demo",
        "version": None,
        "state_variables": None,
        "tracing": {"enabled": True},
    }
    assert session["rate_limits"] == {"max_requests_per_1_minute": 10} and session["max_requests_per_1_minute"] == 10
    assert session["chatkit_configuration"] == {
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": False, "max_file_size": 512, "max_files": 10},
        "history": {"enabled": True, "recent_threads": None},
    }
    assert "expires_after" not in session
    info = api.emulator.sessions[session["id"]]
    assert info.user == "user_1" and info.status == "active" and info.client_secret == session["client_secret"]
    assert session["client_secret"] not in repr(info)


def test_session_resolves_given_options(api: Api) -> None:
    session = api.session(
        workflow={
            "id": "wf_x",
            "version": "3",
            "state_variables": {"a": 1, "b": "x", "c": True},
            "tracing": {},
        },
        chatkit_configuration={
            "automatic_thread_titling": {"enabled": False},
            "file_upload": {"enabled": True, "max_file_size": 5, "max_files": 2},
            "history": {"recent_threads": 3},
        },
        expires_after={"anchor": "created_at", "seconds": 60},
        rate_limits={"max_requests_per_1_minute": 3},
    )
    assert session["workflow"] == {
        "id": "wf_x",
        "version": "3",
        "state_variables": {"a": 1, "b": "x", "c": True},
        "tracing": {"enabled": True},
    }
    assert session["chatkit_configuration"]["file_upload"] == {
        "enabled": True,
        "max_file_size": 5,
        "max_files": 2,
    }
    assert session["chatkit_configuration"]["history"] == {"enabled": True, "recent_threads": 3}
    assert session["chatkit_configuration"]["automatic_thread_titling"] == {"enabled": False}
    assert session["max_requests_per_1_minute"] == 3
    assert session["expires_at"] - api.emulator.now() <= 60


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"user": None}, "user", "invalid_type"),
        ({"user": ""}, "user", "empty_string"),
        ({"workflow": {}}, "workflow.id", "missing_required_parameter"),
        ({"workflow": {"id": 5}}, "workflow.id", "invalid_type"),
        (
            {"workflow": {"id": "wf", "state_variables": {"k": {"nested": 1}}}},
            "workflow.state_variables.k",
            "invalid_type",
        ),
        ({"expires_after": {"anchor": "creation", "seconds": 60}}, "expires_after.anchor", "invalid_value"),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 601}},
            "expires_after.seconds",
            "integer_above_max_value",
        ),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 0}},
            "expires_after.seconds",
            "integer_below_min_value",
        ),
        ({"expires_after": {"anchor": "created_at"}}, "expires_after.seconds", "missing_required_parameter"),
        (
            {"expires_after": {"anchor": "created_at", "seconds": 1.5}},
            "expires_after.seconds",
            "invalid_type",
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_file_size": 513}}},
            "chatkit_configuration.file_upload.max_file_size",
            "integer_above_max_value",
        ),
        (
            {"chatkit_configuration": {"file_upload": {"max_files": 0}}},
            "chatkit_configuration.file_upload.max_files",
            "integer_below_min_value",
        ),
        (
            {"chatkit_configuration": {"file_upload": {"enabled": "yes"}}},
            "chatkit_configuration.file_upload.enabled",
            "invalid_type",
        ),
        (
            {"rate_limits": {"max_requests_per_1_minute": 0}},
            "rate_limits.max_requests_per_1_minute",
            "integer_below_min_value",
        ),
        ({"surprise": 1}, "surprise", "unknown_parameter"),
    ],
)
def test_session_validation_names_the_param(api: Api, change: dict[str, Any], param: str, code: str) -> None:
    body = {"user": "u", "workflow": {"id": "wf"}} | change
    response = api.http.post("/chatkit/sessions", json=body, headers=api.admin)
    assert response.status_code == 400
    err = error_of(response)
    assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error")
    assert param in err["message"]
    assert not api.emulator.sessions


def test_session_body_must_be_json_object(api: Api) -> None:
    response = api.http.post(
        "/chatkit/sessions", content=b"{nope", headers=api.admin | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "JSON" in error_of(response)["message"]
    missing = api.http.post("/chatkit/sessions", json={"workflow": {"id": "wf"}}, headers=api.admin)
    assert error_of(missing)["param"] == "user"


def test_known_workflows_give_404_for_others() -> None:
    with serve_emulator(HostedEmulator(known_workflows={"wf_ok"})) as running, Api(running) as api:
        ok = api.http.post("/chatkit/sessions", json={"user": "u", "workflow": {"id": "wf_ok"}}, headers=api.admin)
        assert ok.status_code == 200
        bad = api.http.post("/chatkit/sessions", json={"user": "u", "workflow": {"id": "wf_no"}}, headers=api.admin)
        assert bad.status_code == 404
        assert error_of(bad) == {
            "message": "Workflow with id 'wf_no' not found.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }


def test_cancel_session_stops_its_secret(api: Api) -> None:
    session = api.session()
    secret = session["client_secret"]
    assert api.post_conv(secret, {"type": "threads.list", "params": {}}).status_code == 200
    cancelled = api.http.post(f"/chatkit/sessions/{session['id']}/cancel", headers=api.admin)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["id"] == session["id"]
    after = api.post_conv(secret, {"type": "threads.list", "params": {}})
    assert after.status_code == 401 and secret not in after.text
    assert api.emulator.sessions[session["id"]].status == "cancelled"
    unknown = api.http.post("/chatkit/sessions/cksess_nope/cancel", headers=api.admin)
    assert unknown.status_code == 404
    assert error_of(unknown)["message"] == "Chatkit Session with id 'cksess_nope' not found."


def test_revoke_expire_and_clock(api: Api) -> None:
    one, two, three = (api.session(expires_after={"anchor": "created_at", "seconds": 120}) for _ in range(3))
    ping = {"type": "threads.list", "params": {}}
    api.emulator.revoke(one["client_secret"])
    assert api.post_conv(one["client_secret"], ping).status_code == 401
    assert api.post_conv(two["client_secret"], ping).status_code == 200
    api.emulator.expire(two["id"])
    assert api.post_conv(two["client_secret"], ping).status_code == 401
    assert api.emulator.sessions[two["id"]].status == "expired"
    assert api.post_conv(three["client_secret"], ping).status_code == 200
    api.emulator.advance(121)
    assert api.post_conv(three["client_secret"], ping).status_code == 401
    assert api.emulator.sessions[three["id"]].status == "expired"
    four = api.session()
    api.emulator.revoke_all()
    response = api.post_conv(four["client_secret"], ping)
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key"
    assert api.post_conv("ek_bogus", ping).status_code == 401


# --------------------------------------------------------------------------------------------- files


def test_upload_image_and_pdf(api: Api) -> None:
    secret = api.uploads_session()
    image = api.upload(secret, "cat.png", PNG, "image/png")
    assert image.status_code == 200, image.text
    body = image.json()
    assert re.fullmatch(rf"cfile_{HEX48}", body["id"])
    assert body["type"] == "image" and body["name"] == "cat.png" and body["mime_type"] == "image/png"
    assert body["upload_url"] == f"{api.running.origin}/v1/chatkit/files/{body['id']}"
    assert body["preview_url"].startswith("http")
    pdf = api.upload(secret, "doc.pdf", PDF, None)  # octet-stream: the type comes from the name
    assert pdf.status_code == 200
    assert pdf.json()["type"] == "file" and pdf.json()["mime_type"] == "application/pdf"
    assert "preview_url" not in pdf.json()
    info = api.emulator.files[pdf.json()["id"]]
    assert info.size == len(PDF) and info.sha256 == hashlib.sha256(PDF).hexdigest()


def test_upload_rules(api: Api) -> None:
    disabled = str(api.session()["client_secret"])
    response = api.upload(disabled, "a.png", PNG, "image/png")
    assert response.status_code == 400 and error_of(response)["code"] == "chatkit.file_upload_disabled"

    secret = api.uploads_session(max_file_size=1, max_files=2)
    rejected = api.upload(secret, "notes.txt", b"hello", "text/plain")
    assert rejected.status_code == 400 and error_of(rejected)["code"] == "chatkit.file_upload_type_rejected"
    too_big = api.upload(secret, "big.pdf", b"%" * (1024 * 1024 + 1), "application/pdf")
    assert too_big.status_code == 400
    err = error_of(too_big)
    assert err["code"] == "chatkit.file_too_large" and "1 MB" in err["message"]
    assert api.upload(secret, "edge.pdf", b"%" * (1024 * 1024), "application/pdf").status_code == 200
    missing = api.http.post(
        "/chatkit/files",
        files={"other": ("a.png", PNG, "image/png")},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert missing.status_code == 400 and error_of(missing)["param"] == "file"
    assert api.upload(secret, "b.gif", b"GIF89a", "image/gif").status_code == 200
    full = api.upload(secret, "c.webp", b"RIFF", "image/webp")
    assert full.status_code == 400 and error_of(full)["code"] == "chatkit.file_upload_limit_reached"
    assert len(api.emulator.files) == 2


def test_upload_needs_a_client_secret(api: Api) -> None:
    api.uploads_session()
    assert api.upload(api.running.api_key, "a.png", PNG, "image/png").status_code == 401
    response = api.http.post("/chatkit/files", files={"file": ("a.png", PNG, "image/png")})
    assert response.status_code == 401


# ------------------------------------------------------------------------------------- conversation


def test_two_turn_conversation_matches_hosted_order(api: Api) -> None:
    secret = api.uploads_session()
    file_id = api.upload(secret, "report.pdf", PDF, "application/pdf").json()["id"]
    first = api.stream(secret, "threads.create", input=user_input("Hello there, emulator", [file_id]))
    kinds = shape(first)
    assert kinds[:6] == [
        "thread.created",
        "thread.item.done:user_message",
        "progress_update",
        "thread.item.added:workflow",
        "thread.item.done:workflow",
        "thread.item.added:assistant_message",
    ]
    assert kinds[6] == "updated:added"
    deltas = [e["update"]["delta"] for e in first if e["type"] == "thread.item.updated" and "delta" in e["update"]]
    assert len(deltas) > 2 and kinds[7 : 7 + len(deltas)] == ["updated:text_delta"] * len(deltas)
    assert kinds[7 + len(deltas) :] == [
        "updated:done",
        "thread.updated",
        "thread.item.done:assistant_message",
    ]

    thread = first[0]["thread"]
    assert re.fullmatch(rf"cthr_{HEX48}", thread["id"]) and NAIVE_ISO.match(thread["created_at"])
    assert thread["metadata"] == {} and thread["items"] == {"data": [], "has_more": False}
    assert "title" not in thread and first[-2]["thread"]["title"]

    user = first[1]["item"]
    assert re.fullmatch(rf"cti_{HEX48}", user["id"]) and user["thread_id"] == thread["id"]
    assert NAIVE_ISO.match(user["created_at"])
    assert user["content"] == [{"type": "input_text", "text": "Hello there, emulator"}]
    assert user["quoted_text"] == "" and user["inference_options"] == {}
    [attachment] = user["attachments"]
    assert attachment["id"] == file_id and attachment["name"] == "report.pdf" and attachment["type"] == "file"
    assert attachment["upload_url"].endswith(f"/v1/chatkit/files/{file_id}")

    assert first[3]["item"]["workflow"] == {"type": "reasoning", "tasks": [], "expanded": False}
    assert first[3]["item"]["response_items"] == []
    assert first[4]["item"]["workflow"]["summary"] == {"duration": 0}

    final = first[-1]["item"]
    assert all(e["item_id"] == final["id"] for e in first if e["type"] == "thread.item.updated")
    text = final["content"][0]["text"]
    assert text == "".join(deltas) == "You said: Hello there, emulator [attachments: report.pdf]"
    assert final["content"] == [{"type": "output_text", "text": text, "annotations": []}]
    assert not any(v is None for e in first for v in e.values())

    second = api.stream(secret, "threads.add_user_message", thread_id=thread["id"], input=user_input("Again"))
    kinds = shape(second)
    assert "thread.created" not in kinds and "thread.updated" not in kinds
    assert kinds[0] == "thread.item.done:user_message" and kinds[-1] == "thread.item.done:assistant_message"
    assert second[-1]["item"]["content"][0]["text"] == "You said: Again"

    stored = api.emulator.threads[thread["id"]]
    assert [i["type"] for i in stored.items] == ["user_message", "workflow", "assistant_message"] * 2
    assert stored.user == "user_1" and stored.title == first[-2]["thread"]["title"]


def test_responder_sees_the_turn() -> None:
    seen: list[Turn] = []

    def responder(turn: Turn) -> str:
        seen.append(turn)
        return f"{turn.user}:{turn.text.upper()}:{len(emulator.threads)}"

    emulator = HostedEmulator(responder=responder)
    with serve_emulator(emulator) as running, Api(running) as api:
        secret = api.uploads_session()
        file_id = api.upload(secret, "p.png", PNG, "image/png").json()["id"]
        events = api.stream(secret, "threads.create", input=user_input("héllo wörld", [file_id]))
    assert events[-1]["item"]["content"][0]["text"] == "user_1:HÉLLO WÖRLD:1"
    [turn] = seen
    assert turn.thread_id == events[0]["thread"]["id"] and turn.attachments[0].id == file_id


def test_client_tool_round(api: Api) -> None:
    secret = api.session()["client_secret"]
    events = api.stream(secret, "threads.create", input=user_input('tool:get_weather {"city": "Oslo"}'))
    assert shape(events)[-2:] == ["thread.updated", "thread.item.done:client_tool_call"]
    call = events[-1]["item"]
    assert call["status"] == "pending" and call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Oslo"} and call["call_id"] and "output" not in call
    thread_id = events[0]["thread"]["id"]

    answer = api.stream(secret, "threads.add_client_tool_output", thread_id=thread_id, result={"temp": 3})
    assert shape(answer)[0] == "progress_update" and shape(answer)[-1] == "thread.item.done:assistant_message"
    assert answer[-1]["item"]["content"][0]["text"] == 'Tool get_weather returned: {"temp": 3}'
    stored = api.emulator.threads[thread_id].items
    tool_item = next(i for i in stored if i["type"] == "client_tool_call")
    assert tool_item["status"] == "completed" and tool_item["output"] == {"temp": 3}

    again = api.post_conv(
        secret, {"type": "threads.add_client_tool_output", "params": {"thread_id": thread_id, "result": 1}}
    )
    assert again.status_code == 400


def test_retry_after_item_and_custom_action(api: Api) -> None:
    secret = api.session()["client_secret"]
    first = api.stream(secret, "threads.create", input=user_input("one"))
    thread_id = first[0]["thread"]["id"]
    api.stream(secret, "threads.add_user_message", thread_id=thread_id, input=user_input("two"))
    first_user_id = first[1]["item"]["id"]
    old_answer_id = first[-1]["item"]["id"]

    retried = api.stream(secret, "threads.retry_after_item", thread_id=thread_id, item_id=first_user_id)
    assert "thread.item.done:user_message" not in shape(retried)
    assert retried[-1]["item"]["content"][0]["text"] == "You said: one"
    items = api.emulator.threads[thread_id].items
    assert [i["type"] for i in items] == ["user_message", "workflow", "assistant_message"]
    assert items[0]["id"] == first_user_id and old_answer_id not in {i["id"] for i in items}

    not_user = api.post_conv(
        secret,
        {"type": "threads.retry_after_item", "params": {"thread_id": thread_id, "item_id": items[-1]["id"]}},
    )
    assert not_user.status_code == 400

    action = api.stream(
        secret,
        "threads.custom_action",
        thread_id=thread_id,
        item_id=items[-1]["id"],
        action={"type": "vote.up", "payload": {"n": 1}},
    )
    assert action[-1]["item"]["content"][0]["text"] == "Action vote.up received"
    missing = api.post_conv(
        secret,
        {
            "type": "threads.custom_action",
            "params": {"thread_id": thread_id, "item_id": "cti_x", "action": {"type": "a"}},
        },
    )
    assert missing.status_code == 404


def test_json_operations(api: Api) -> None:
    secret = api.session(rate_limits={"max_requests_per_1_minute": 100})["client_secret"]
    ids = []
    for text in ("first", "second", "third"):
        ids.append(api.stream(secret, "threads.create", input=user_input(text))[0]["thread"]["id"])

    listed = api.call(secret, "threads.list", limit=2)
    assert [t["id"] for t in listed["data"]] == [ids[2], ids[1]]
    assert listed["has_more"] is True and listed["after"] == ids[1]
    rest = api.call(secret, "threads.list", limit=2, after=listed["after"])
    assert [t["id"] for t in rest["data"]] == [ids[0]] and rest["has_more"] is False and "after" not in rest
    asc = api.call(secret, "threads.list", order="asc")
    assert [t["id"] for t in asc["data"]] == ids

    thread = api.call(secret, "threads.get_by_id", thread_id=ids[0])
    assert thread["id"] == ids[0] and thread["title"] == "first" and thread["metadata"] == {}
    assert [i["type"] for i in thread["items"]["data"]] == ["user_message", "workflow", "assistant_message"]
    assert thread["items"]["has_more"] is False

    items = api.call(secret, "items.list", thread_id=ids[0], limit=2)
    assert [i["type"] for i in items["data"]] == ["assistant_message", "workflow"] and items["has_more"] is True
    older = api.call(secret, "items.list", thread_id=ids[0], after=items["after"])
    assert [i["type"] for i in older["data"]] == ["user_message"]

    updated = api.call(secret, "threads.update", thread_id=ids[0], title="Renamed")
    assert updated["title"] == "Renamed" and api.emulator.threads[ids[0]].title == "Renamed"

    answer_id = thread["items"]["data"][-1]["id"]
    assert api.call(secret, "items.feedback", thread_id=ids[0], item_ids=[answer_id], kind="positive") == {}
    [feedback] = api.emulator.feedback
    assert (feedback.thread_id, feedback.item_ids, feedback.kind) == (ids[0], (answer_id,), "positive")

    assert api.call(secret, "threads.delete", thread_id=ids[1]) == {}
    assert ids[1] not in api.emulator.threads
    gone = api.post_conv(secret, {"type": "threads.get_by_id", "params": {"thread_id": ids[1]}})
    assert gone.status_code == 404

    # Threads belong to the session's user.
    other = api.session(user="someone_else")["client_secret"]
    assert api.call(other, "threads.list")["data"] == []
    hidden = api.post_conv(other, {"type": "threads.get_by_id", "params": {"thread_id": ids[0]}})
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"params": {}}, "type"),
        ({"type": "threads.teleport", "params": {}}, "type"),
        ({"type": "threads.create", "params": {}}, "params.input"),
        (
            {"type": "threads.create", "params": {"input": {"content": [], "attachments": []}}},
            "params.input.inference_options",
        ),
        (
            {
                "type": "threads.create",
                "params": {"input": {"content": "hi", "attachments": [], "inference_options": {}}},
            },
            "params.input.content",
        ),
        (
            {"type": "threads.create", "params": {"input": user_input("x", ["cfile_missing"])}},
            "params.input.attachments[0]",
        ),
        ({"type": "threads.add_user_message", "params": {"input": user_input("x")}}, "params.thread_id"),
        (
            {"type": "items.feedback", "params": {"thread_id": "t", "item_ids": [], "kind": "meh"}},
            "params.kind",
        ),
        ({"type": "threads.list", "params": {"limit": 0}}, "params.limit"),
    ],
)
def test_conversation_validation(api: Api, body: dict[str, Any], param: str) -> None:
    secret = api.session()["client_secret"]
    response = api.post_conv(secret, body)
    assert response.status_code == 400
    assert error_of(response)["param"] == param
    assert not api.emulator.threads


# ------------------------------------------------------------------------------------- REST threads


def test_rest_threads_and_items_pagination(api: Api) -> None:
    secret_a = api.session(user="alice")["client_secret"]
    secret_b = api.session(user="bob")["client_secret"]
    alice = [api.stream(secret_a, "threads.create", input=user_input(f"a{i}"))[0]["thread"]["id"] for i in range(3)]
    bob = api.stream(secret_b, "threads.create", input=user_input("b"))[0]["thread"]["id"]

    page = api.http.get("/chatkit/threads", params={"limit": 2}, headers=api.admin).json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [t["id"] for t in page["data"]] == [bob, alice[2]]
    assert page["first_id"] == bob and page["last_id"] == alice[2]
    nxt = api.http.get("/chatkit/threads", params={"limit": 2, "after": page["last_id"]}, headers=api.admin).json()
    assert [t["id"] for t in nxt["data"]] == [alice[1], alice[0]] and nxt["has_more"] is False

    asc = api.http.get("/chatkit/threads", params={"order": "asc", "user": "alice"}, headers=api.admin).json()
    assert [t["id"] for t in asc["data"]] == alice and asc["has_more"] is False
    before = api.http.get(
        "/chatkit/threads", params={"order": "asc", "before": alice[2], "limit": 1}, headers=api.admin
    ).json()
    assert [t["id"] for t in before["data"]] == [alice[1]] and before["has_more"] is True

    thread = api.http.get(f"/chatkit/threads/{alice[0]}", headers=api.admin).json()
    assert thread["object"] == "chatkit.thread" and thread["user"] == "alice"
    assert isinstance(thread["created_at"], int) and thread["status"] == {"type": "active"}
    assert thread["title"] == "a0"

    items = api.http.get(f"/chatkit/threads/{alice[0]}/items", params={"order": "asc"}, headers=api.admin).json()
    assert [i["type"] for i in items["data"]] == [
        "chatkit.user_message",
        "chatkit.task_group",
        "chatkit.assistant_message",
    ]
    for item in items["data"]:
        assert item["object"] == "chatkit.thread_item" and item["thread_id"] == alice[0]
        assert isinstance(item["created_at"], int)
    assert items["data"][0]["content"] == [{"type": "input_text", "text": "a0"}]
    assert items["data"][0]["attachments"] == [] and items["data"][0]["inference_options"] is None
    desc = api.http.get(f"/chatkit/threads/{alice[0]}/items", params={"limit": 1}, headers=api.admin).json()
    assert desc["data"][0]["type"] == "chatkit.assistant_message" and desc["has_more"] is True
    assert desc["data"][0]["content"][0]["text"] == "You said: a0"

    bad = api.http.get("/chatkit/threads", params={"limit": 101}, headers=api.admin)
    assert bad.status_code == 400 and error_of(bad)["param"] == "limit"
    bad_order = api.http.get("/chatkit/threads", params={"order": "up"}, headers=api.admin)
    assert error_of(bad_order)["param"] == "order"

    deleted = api.http.delete(f"/chatkit/threads/{bob}", headers=api.admin)
    assert deleted.json() == {"id": bob, "object": "chatkit.thread.deleted", "deleted": True}
    assert api.http.get(f"/chatkit/threads/{bob}", headers=api.admin).status_code == 404
    assert api.http.get(f"/chatkit/threads/{bob}/items", headers=api.admin).status_code == 404


def test_rest_tool_call_item_uses_json_strings(api: Api) -> None:
    secret = api.session()["client_secret"]
    events = api.stream(secret, "threads.create", input=user_input('tool:lookup {"q": 1}'))
    thread_id = events[0]["thread"]["id"]
    items = api.http.get(f"/chatkit/threads/{thread_id}/items", headers=api.admin).json()["data"]
    assert items[0]["type"] == "chatkit.client_tool_call"
    assert json.loads(items[0]["arguments"]) == {"q": 1} and items[0]["output"] is None
    assert items[0]["status"] == "in_progress"


# ------------------------------------------------------------------------------------ rate limiting


def test_rate_limit_429_with_retry_after(api: Api) -> None:
    secret = api.session(
        rate_limits={"max_requests_per_1_minute": 2}, chatkit_configuration={"file_upload": {"enabled": True}}
    )["client_secret"]
    ping = {"type": "threads.list", "params": {}}
    assert api.post_conv(secret, ping).status_code == 200
    assert api.upload(secret, "a.png", PNG, "image/png").status_code == 200
    limited = api.post_conv(secret, ping)
    assert limited.status_code == 429
    err = error_of(limited)
    assert err["code"] == "rate_limit_exceeded"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert api.upload(secret, "b.png", PNG, "image/png").status_code == 429
    api.emulator.advance(61)
    assert api.post_conv(secret, ping).status_code == 200


# ------------------------------------------------------------------------------------------- faults


def test_fail_next_by_path_and_times(api: Api) -> None:
    api.emulator.fail_next(503, path="/chatkit/sessions", times=2)
    api.emulator.fail_next(429, path="/chatkit/conversation", headers={"Retry-After": "7"})
    threads = api.http.get("/chatkit/threads", headers=api.admin)
    assert threads.status_code == 200
    for _ in range(2):
        failed = api.http.post("/chatkit/sessions", json={"user": "u", "workflow": {"id": "wf"}}, headers=api.admin)
        assert failed.status_code == 503 and error_of(failed)["type"] == "server_error"
        assert failed.headers["x-request-id"].startswith("req_")
    secret = api.session()["client_secret"]
    limited = api.post_conv(secret, {"type": "threads.list", "params": {}})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert error_of(limited)["code"] == "rate_limit_exceeded"
    assert api.post_conv(secret, {"type": "threads.list", "params": {}}).status_code == 200

    api.emulator.fail_next(400, body={"custom": True})
    custom = api.http.get("/chatkit/threads", headers=api.admin)
    assert custom.status_code == 400 and custom.json() == {"custom": True}
    api.emulator.fail_next(500)
    api.emulator.reset_faults()
    assert api.http.get("/chatkit/threads", headers=api.admin).status_code == 200
    with pytest.raises(ValueError):
        api.emulator.fail_next(500, times=0)


def test_delay_next_triggers_client_timeouts(api: Api) -> None:
    api.emulator.delay_next(1.0, path="/chatkit/threads")
    with pytest.raises(httpx2.ReadTimeout):
        api.http.get("/chatkit/threads", headers=api.admin, timeout=0.1)
    assert api.http.get("/chatkit/threads", headers=api.admin, timeout=5).status_code == 200


def _read_until_broken(api: Api, secret: str) -> tuple[list[dict[str, Any]], Exception | None]:
    body = {"type": "threads.create", "params": {"input": user_input("break me please")}}
    events: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        with api.http.stream("POST", "/chatkit/conversation", json=body, headers=headers) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
    except httpx2.TransportError as exc:
        return events, exc
    return events, None


def test_drop_after_events_breaks_the_connection(api: Api) -> None:
    secret = api.session()["client_secret"]
    api.emulator.set_stream_faults(drop_after_events=3)
    events, error = _read_until_broken(api, secret)
    assert isinstance(error, httpx2.RemoteProtocolError)
    assert shape(events) == ["thread.created", "thread.item.done:user_message", "progress_update"]
    # Only one stream was affected; the next one ends cleanly.
    events, error = _read_until_broken(api, secret)
    assert error is None and shape(events)[-1] == "thread.item.done:assistant_message"


def test_byte_chunks_deliver_the_same_events(api: Api) -> None:
    secret = api.session()["client_secret"]
    normal = api.stream(secret, "threads.create", input=user_input("ünïcödé ✓ text"))
    api.emulator.set_stream_faults(byte_chunks=True, event_delay=0.001)
    chunked = api.stream(secret, "threads.create", input=user_input("ünïcödé ✓ text"))
    assert shape(chunked) == shape(normal)
    assert chunked[-1]["item"]["content"] == normal[-1]["item"]["content"]


def test_error_after_events_ends_cleanly(api: Api) -> None:
    secret = api.session()["client_secret"]
    api.emulator.set_stream_faults(error_after_events=2, times=2)
    events = api.stream(secret, "threads.create", input=user_input("x"))
    assert shape(events) == ["thread.created", "thread.item.done:user_message", "error"]
    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": True}
    again = api.stream(secret, "threads.create", input=user_input("x"))
    assert shape(again)[-1] == "error"
    assert shape(api.stream(secret, "threads.create", input=user_input("x")))[-1] != "error"

    api.emulator.set_stream_faults(
        error_after_events=0, error={"code": "custom", "message": "Nope", "allow_retry": False}, times=None
    )
    for _ in range(2):
        assert api.stream(secret, "threads.create", input=user_input("x")) == [
            {"type": "error", "code": "custom", "message": "Nope", "allow_retry": False}
        ]
    # JSON requests do not consume or suffer stream faults.
    assert api.call(secret, "threads.list", limit=1)["data"]
    api.emulator.reset_faults()
    assert shape(api.stream(secret, "threads.create", input=user_input("x")))[-1] != "error"


# ---------------------------------------------------------------------------------------- recording


def test_requests_are_recorded(api: Api) -> None:
    session = api.session(user="rec")
    api.http.get("/chatkit/threads", params={"limit": 5, "user": "rec"}, headers=api.admin)
    api.emulator.fail_next(500, path="/chatkit/conversation")
    api.post_conv(session["client_secret"], {"type": "threads.list", "params": {"limit": 3}})
    first, listing, conv = api.emulator.requests
    assert (first.method, first.path) == ("POST", "/v1/chatkit/sessions")
    assert first.json == {"user": "rec", "workflow": {"id": "wf_demo"}}
    assert first.headers["openai-beta"] == "chatkit_beta=v1"
    assert listing.query == {"limit": "5", "user": "rec"} and listing.json is None
    assert conv.json == {"type": "threads.list", "params": {"limit": 3}}
    assert conv.headers["authorization"] == f"Bearer {session['client_secret']}"
    assert session["client_secret"] not in repr(conv) and api.running.api_key not in repr(first)
    assert re.fullmatch(r"req_[0-9a-f]{32}", conv.request_id)
    api.emulator.clear_requests()
    assert api.emulator.requests == []
