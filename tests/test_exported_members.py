"""The public API is what `tracelib.__all__` says (httpx's test_exported_members)."""

from __future__ import annotations

import tracelib


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    exported = set(tracelib.__all__)
    for name in exported:
        assert hasattr(tracelib, name), name
    public = {n for n in dir(tracelib) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(tracelib, n)).__name__ == "module"}
    assert public - modules == exported - {"__version__"}


def test_exported_classes_claim_tracelib_modules() -> None:
    for name in tracelib.__all__:
        member = getattr(tracelib, name)
        module = getattr(member, "__module__", "tracelib")
        assert module.startswith("tracelib"), (name, module)
