"""`scripts/unasync.py`: marked blocks let the async source say where the sync shell differs by more than a line."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unasync = _load()

SOURCE = '''\
class AsyncThing:
    # unasync: sync-only begin
    # """Sync words.
    #
    # >>> thing.go()
    # """
    # unasync: sync-only end
    # unasync: async-only begin
    """Async words."""
    # unasync: async-only end

    async def go(self) -> None:
        await other()


# unasync: async-only begin
class AsyncOnly:
    pass
# unasync: async-only end


def after() -> None:
    pass
'''


def test_an_async_only_block_is_left_out_and_a_sync_only_block_is_uncommented() -> None:
    text = unasync.unasync_text(SOURCE, "_async/x.py")
    body = text.split("\n", 1)[1]
    assert body == (
        'class Thing:\n    """Sync words.\n\n    >>> thing.go()\n    """\n\n'
        "    def go(self) -> None:\n        other()\n\n\ndef after() -> None:\n    pass\n"
    )
    assert "AsyncOnly" not in text and "unasync:" not in body


@pytest.mark.parametrize(
    "source",
    [
        "# unasync: async-only begin\nx = 1\n",
        "# unasync: async-only end\n",
        "# unasync: async-only begin\n# unasync: sync-only begin\n",
        "# unasync: sync-only begin\nx = 1\n# unasync: sync-only end\n",
    ],
    ids=["never-ended", "end-without-begin", "nested", "sync-only-line-not-a-comment"],
)
def test_a_badly_marked_block_is_refused(source: str) -> None:
    with pytest.raises(ValueError, match=r"_async/x\.py"):
        unasync.unasync_text(source, "_async/x.py")
