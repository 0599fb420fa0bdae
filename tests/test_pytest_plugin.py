"""The pytest plugin, as users get it: installed through its `pytest11` entry point, run in fresh pytest processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


def write(directory: Path, name: str, source: str) -> None:
    (directory / name).write_text(textwrap.dedent(source))


def test_the_example_suite_passes_with_the_installed_plugin() -> None:
    # examples/ has no conftest.py: every chatkit_* fixture it uses comes from the entry point.
    assert not (ROOT / "examples" / "conftest.py").exists()
    result = run_pytest(ROOT, "examples/test_my_server.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_fixtures_for_a_server_the_kit_servers_and_a_missing_declaration(tmp_path: Path) -> None:
    # Module-level imports would load chatkit_client at collection: everything heavy is imported in the tests.
    write(
        tmp_path,
        "test_a_cost.py",
        """
        import sys

        def test_loading_the_plugin_imported_nothing_heavy(request):
            assert request.config.pluginmanager.has_plugin("chatkit")
            loaded = {name for name in sys.modules if name.split(".")[0] in {"chatkit_client", "chatkit", "httpx2"}}
            assert loaded <= {"chatkit_client", "chatkit_client._lazy", "chatkit_client._version",
                              "chatkit_client._pytest_plugin"}, loaded
        """,
    )
    write(
        tmp_path,
        "test_b_server.py",
        """
        import pytest

        @pytest.fixture
        def chatkit_server():
            from chatkit_client.testing import LocalChatKitServer
            return LocalChatKitServer()

        @pytest.fixture
        def chatkit_context():
            from chatkit_client.testing import RequestContext
            return RequestContext(origin="http://testserver")

        def test_server_through_process(chatkit_client, chatkit_server):
            reply = chatkit_client.chat().send("hello")
            assert reply.text == "You said: hello"
            assert chatkit_server.store.thread_ids() == [reply.thread_id]

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_async_client(chatkit_async_client):
            assert (await chatkit_async_client.chat().send("hi")).text == "You said: hi"
        """,
    )
    write(
        tmp_path,
        "test_c_kit.py",
        """
        def test_local_server(chatkit_local_server):
            from chatkit_client import ChatKit
            with ChatKit(server_url=chatkit_local_server.url) as client:
                assert client.chat().send("over http").text == "You said: over http"

        def test_emulator(chatkit_emulator):
            from chatkit_client import ChatKit
            with ChatKit(api_key=chatkit_emulator.api_key, base_url=chatkit_emulator.base_url) as client:
                reply = client.chat(user="user_1", workflow="wf_demo").send("hosted")
            assert reply.text == "You said: hosted"

        def test_nothing_declared(chatkit_client):
            pass
        """,
    )
    result = run_pytest(tmp_path)
    out = result.stdout
    for passing in (
        "test_a_cost.py::test_loading_the_plugin_imported_nothing_heavy PASSED",
        "test_b_server.py::test_server_through_process PASSED",
        "test_b_server.py::test_async_client PASSED",
        "test_c_kit.py::test_local_server PASSED",
        "test_c_kit.py::test_emulator PASSED",
    ):
        assert passing in out, out + result.stderr
    assert "test_c_kit.py::test_nothing_declared ERROR" in out
    assert "override the chatkit_app fixture (an ASGI app) or chatkit_server" in out
    assert result.returncode == 1


def test_without_the_testing_extra_the_kit_fixtures_fail_with_a_one_line_hint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "conftest.py",
        """
        import sys

        class WithoutTestingExtra:
            # What an install without chatkit-client[testing] looks like: these packages are absent.
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"starlette", "uvicorn", "chatkit"}:
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, WithoutTestingExtra())
        """,
    )
    write(
        tmp_path,
        "test_kit.py",
        """
        import json
        import pytest

        def test_local_server(chatkit_local_server):
            pass

        def test_emulator(chatkit_emulator):
            pass

        async def threads_app(scope, receive, send):
            # A bare ASGI app answering threads.list: app= needs no extra at all.
            while (await receive()).get("more_body"):
                pass
            body = json.dumps({"data": [], "has_more": False}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})

        @pytest.fixture
        def chatkit_app():
            return threads_app

        @pytest.fixture
        def chatkit_client_options():
            return {"lifespan": False}

        def test_an_app_needs_no_extra(chatkit_client):
            assert list(chatkit_client.chat().threads()) == []
        """,
    )
    result = run_pytest(tmp_path)
    out = result.stdout
    hint = "fixture needs chatkit-client's testing extra: pip install 'chatkit-client[testing]'"
    assert f"the chatkit_local_server {hint}" in out, out + result.stderr
    assert f"the chatkit_emulator {hint}" in out
    assert "test_kit.py::test_an_app_needs_no_extra PASSED" in out
    assert "Traceback" not in out and "ModuleNotFoundError" not in out
    assert result.returncode == 1
