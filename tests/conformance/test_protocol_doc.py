"""docs/protocol.md: every section cited from the code exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"docs/protocol\.md §(\d+(?:\.\d+)*)(?:\s*-\s*§?(\d+(?:\.\d+)*))?")


def sections() -> set[str]:
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    return set(re.findall(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", text, re.MULTILINE))


def test_every_citation_in_the_code_names_a_section_that_exists() -> None:
    known = sections()
    cited: dict[str, str] = {}
    for folder in ("src", "bench", "tests", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in CITATION.finditer(path.read_text(encoding="utf-8")):
                for section in match.groups():
                    if section:
                        cited[section] = str(path.relative_to(ROOT))
    assert len(cited) >= 5
    assert {section: where for section, where in cited.items() if section not in known} == {}


def test_no_code_comment_cites_the_old_wire_notes() -> None:
    for folder in ("src", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            assert "wire notes" not in path.read_text(encoding="utf-8"), path
