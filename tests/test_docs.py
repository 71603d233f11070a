"""The docs are true to the code: examples run, the CLI reference is current."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("path", [p for p in DOCS if _python_blocks(p)], ids=lambda p: p.name)
def test_code_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in _python_blocks(path):
        exec(compile(block, str(path), "exec"), namespace)


def test_cli_reference_is_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gen_cli_docs import render
    finally:
        sys.path.pop(0)
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: run `make docs`"


def test_readme_names_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    assert os.path.exists(ROOT / "Makefile")


def test_every_event_example_is_valid() -> None:
    """Each ```json example in docs/events.md passes the envelope and its kind's schema."""
    from tracelib.events import Event

    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    examples = re.findall(r"```json\n(.*?)```", text, re.S)
    kinds = {Event.from_json(block).kind for block in examples}
    assert kinds >= {"register", "origin", "slaughter", "ship", "receive", "transform", "sale",
                     "hold", "dispose", "drill", "rapid_test", "lab_test"}, kinds
