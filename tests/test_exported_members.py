"""The public API is what `tracelib.__all__` says (httpx's test_exported_members)."""

from __future__ import annotations

import tracelib


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    exported = set(tracelib.__all__)
    for name in exported:
        assert hasattr(tracelib, name), name
    # Each public name is loaded on first use from the submodule _EXPORTS names.
    assert set(tracelib._EXPORTS) == exported - {"__version__"}
    public = {n for n in dir(tracelib) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(tracelib, n)).__name__ == "module"}
    assert public - modules == exported - {"__version__"}


def test_exported_classes_claim_tracelib_modules() -> None:
    for name in tracelib.__all__:
        member = getattr(tracelib, name)
        module = getattr(member, "__module__", "tracelib")
        assert module.startswith("tracelib"), (name, module)


def test_a_verification_worker_loads_only_what_verify_needs() -> None:
    """Each verify worker process imports tracelib.verify at start-up (spawn): the package
    loads its public names on first use, so the append pipeline (events, marshmallow) and
    the supply-chain modules stay out of it."""
    import subprocess
    import sys

    code = ("import sys, tracelib.verify; print(' '.join(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('tracelib', 'marshmallow'))))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "tracelib.verify" in loaded
    assert not loaded & {"marshmallow", "tracelib.events", "tracelib.ledger", "tracelib.recalls",
                         "tracelib.kinds", "tracelib.append"}, sorted(loaded)
    assert tracelib.Ledger.__name__ == "Ledger"  # and the lazy names still resolve


def test_functions_named_like_their_modules_stay_functions() -> None:
    """tracelib.drill and tracelib.trace are functions, whatever is imported first (no
    submodule shares a public name)."""
    import subprocess
    import sys

    for first in ("import tracelib.recalls, tracelib.views.tracing",
                  "from tracelib import drill, trace"):
        code = (f"{first}\nimport tracelib, types\n"
                "from tracelib.recalls import DrillResult\n"
                "assert callable(tracelib.drill) and callable(tracelib.trace)\n"
                "assert not isinstance(tracelib.drill, types.ModuleType)\n"
                "from tracelib import drill, trace\n"
                "assert drill.__module__ == 'tracelib.recalls' and callable(trace)")
        subprocess.run([sys.executable, "-c", code], check=True)
