"""The docs are true to the code: examples run, the CLI and event references are current."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from marshmallow import INCLUDE, Schema, fields

from tracelib.events import Event
from tracelib.kinds import KINDS

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


def _event_docs() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_event_docs
    finally:
        sys.path.pop(0)
    return gen_event_docs


def test_event_reference_is_current() -> None:
    current = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert current == _event_docs().render(), "docs/events.md is stale: run `make docs`"


def test_event_reference_documents_every_kind() -> None:
    """A section per registered kind, naming its bizStep and every field of its data schema."""
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\S+) — .*?\n(.*?)(?=^## |\Z)", text, re.S | re.M))
    assert set(KINDS) <= set(sections), set(KINDS) - set(sections)
    for name, spec in KINDS.items():
        step = f"`{spec.bizstep}`" if spec.bizstep else "none"
        assert f"CBV bizStep: {step}." in sections[name], name
        for field_name, field in spec.data_schema.fields.items():
            assert f"| `{field.data_key or field_name}` |" in sections[name], (name, field_name)


def test_every_event_example_is_valid() -> None:
    """One example per registered kind (its KindSpec's), each passing the envelope and its
    kind's schema, and each shown in docs/events.md with the same bytes."""
    written = [Event.from_dict(spec.example) for spec in KINDS.values()]
    assert sorted(e.kind for e in written) == sorted(KINDS)
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    shown = [Event.from_json(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert sorted(e.body for e in shown) == sorted(e.body for e in written)


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class _Undescribed(_Open):
    receipt = fields.String(required=True)


class _Described(_Open):
    receipt = fields.String(required=True, metadata={"description": "the receipt"})


def test_event_reference_refuses_an_undescribed_field(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _event_docs()
    monkeypatch.setitem(KINDS, "sale", replace(KINDS["sale"], data_schema=_Undescribed()))
    with pytest.raises(gen.DocsError, match=r"sale: field 'receipt' has no description"):
        gen.render()


def test_event_reference_refuses_an_undocumented_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _event_docs()
    monkeypatch.setitem(KINDS, "sale", replace(KINDS["sale"], data_schema=_Described(), rules=""))
    with pytest.raises(gen.DocsError, match=r"kind 'sale' has no rules or summary"):
        gen.render()


def test_event_reference_refuses_an_invalid_example(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _event_docs()
    bad = {**KINDS["sale"].example, "data": {}}
    monkeypatch.setitem(KINDS, "sale", replace(KINDS["sale"], example=bad))
    with pytest.raises(gen.DocsError, match=r"the example of kind 'sale' is not valid"):
        gen.render()
