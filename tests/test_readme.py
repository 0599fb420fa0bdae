"""Every Python example in the README runs, in order, against the dev server (emulator + local server).

The examples read OPENAI_API_KEY/OPENAI_BASE_URL like real code does; the test points them at the
emulator and rewrites the README's `http://localhost:8000` to the local server's address.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatkit_client import ChatKit
from chatkit_client.testing import serve_dev

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_every_python_example_in_the_readme_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 12
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (tmp_path / "document.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\n")
    monkeypatch.chdir(tmp_path)
    with serve_dev() as dev:
        monkeypatch.setenv("OPENAI_API_KEY", dev.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", dev.base_url)
        namespace: dict[str, object] = {"__name__": "readme"}
        opened: list[ChatKit] = []
        for index, block in enumerate(blocks):
            code = block.replace("http://localhost:8000", dev.origin)
            try:
                exec(compile(code, f"README.md block {index + 1}", "exec"), namespace)
            except Exception as err:  # pragma: no cover - the message is the point
                raise AssertionError(f"README block {index + 1} failed: {err!r}\n{block}") from err
            finally:
                opened.extend(value for value in namespace.values() if isinstance(value, ChatKit))
        # Examples leave their clients open, as short scripts do; close them so no socket leaks.
        for client in opened:
            client.close()
    out = capsys.readouterr().out
    assert "You said: Hello, how are you?" in out
    assert "You said: Could you describe this image?" in out
    assert "expires_after.anchor" in out
    assert "Tool get_weather returned" in out
    assert "You said: Hello from asyncio" in out
    assert "kept" in out
    # The protocol section: structured input, transcription, stopping an answer, export, async pages.
    assert "You answered: red, blue; Ada" in out
    assert "Transcribed 16 bytes of audio/wav" in out
    assert "server allows stopping: True" in out
    assert "threads exported" in out and "items exported" in out
