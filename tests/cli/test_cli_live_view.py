"""`chatkit chat`'s live Markdown view: the same picture as rendering the whole answer, in linear work.

The old view parsed the whole answer as Markdown on every delta (quadratic: 22 s for 2,000 deltas). Now the
per-delta path only appends; each finished block is parsed once; the live region is redrawn by rich's
refresh thread at a bounded rate and parses at most the preview's size. Timing lives in
`bench/bench_cli_chat.py`; here the work itself is counted.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from rich.console import Console
from rich.markdown import Markdown

from chatkit_client.cli import _render

DOC = """# Title

First paragraph with **bold** and a list:

- one
- two

```python
x = 1

y = 2
```

1. first
2. second

Last paragraph, with `code`.
"""


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def _live(console: Console, deltas: list[str]) -> None:
    view = _render.LiveView(console)
    for delta in deltas:
        view.text(delta)
    view.finish()


def test_streamed_by_character_it_prints_what_a_whole_render_prints() -> None:
    whole = Console(file=io.StringIO(), width=60)
    whole.print(Markdown(DOC))
    streamed = Console(file=io.StringIO(), width=60)
    _live(streamed, list(DOC))
    assert _lines(streamed.file.getvalue()) == _lines(whole.file.getvalue())  # type: ignore[attr-defined]


def test_two_messages_and_a_note_keep_their_order() -> None:
    console = Console(file=io.StringIO(), width=60)
    view = _render.LiveView(console)
    view.new_message()
    view.text("first answer")
    view.new_message()
    view.text("second ")
    view.text("answer")
    view.note("[info] a note", "cyan")
    view.text("third")
    view.finish()
    assert _lines(console.file.getvalue()) == ["first answer", "second answer", "[info] a note", "third"]  # type: ignore[attr-defined]


def test_each_delta_costs_no_markdown_parse_and_each_block_one(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[tuple[bool, int]] = []
    original = Markdown.__init__

    def counting(self: Markdown, markup: str, *args: Any, **kwargs: Any) -> None:
        parsed.append((threading.current_thread() is threading.main_thread(), len(markup)))
        original(self, markup, *args, **kwargs)

    monkeypatch.setattr(Markdown, "__init__", counting)
    paragraphs = ["".join(f"w{i} " for i in range(start, start + 400)) for start in range(0, 2000, 400)]
    answer = "\n\n".join(paragraphs)
    deltas = [answer[i : i + 4] for i in range(0, len(answer), 4)]  # ~3,000 deltas
    console = Console(file=io.StringIO(), width=100, height=30, force_terminal=True)
    _live(console, deltas)

    on_the_delta_path = [size for main, size in parsed if main]
    # Each of the 5 blocks once (the quadratic view parsed about 3,000 growing prefixes here: ~20 MB).
    assert len(on_the_delta_path) == len(paragraphs)
    assert sum(on_the_delta_path) <= len(answer)
    # The refresh thread's previews never parse more than the preview's bound.
    assert all(size <= _render._PREVIEW_CHARS for main, size in parsed if not main)


def test_a_paragraph_longer_than_the_preview_is_printed_whole() -> None:
    answer = "".join(f"w{i} " for i in range(5000))  # ~34 KB, far past the preview bound
    assert len(answer) > _render._PREVIEW_CHARS
    console = Console(file=io.StringIO(), width=100, height=30, force_terminal=False)
    _live(console, [answer[i : i + 3] for i in range(0, len(answer), 3)])
    assert " ".join(console.file.getvalue().split()) == answer.strip()  # type: ignore[attr-defined]
