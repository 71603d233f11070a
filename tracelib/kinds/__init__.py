"""Event kinds: one module per kind, each owning everything about itself (its ``SPEC``).

Every public module of this package (a name without a leading ``_``) is a kind and is
registered when the package is imported, in the order of its ``SPEC.order``. Adding a
kind is adding one module here (plus a migration if it adds an index); other parts of
tracelib — validation, the append engine, the drill's CTE rows, the report's names and
the event reference — read the registry. :func:`register_kind` adds a kind at run time.

A kind's ``apply`` runs inside the append transaction, in seq order, against the
ledger's state *including earlier events of the same batch* (:mod:`.context`). It raises
``ValidationError`` to reject the event (and so the whole batch). Before it, the engine
calls :func:`authorize`: who may sign the kind and where, as its ``SPEC.signers`` declares.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._authority import authorize
from ._fields import DEFAULT_TEMPERATURE_LIMITS
from .spec import (
    ANY_ROLE,
    KINDS,
    CteFacts,
    KindSpec,
    Needs,
    Signers,
    facts_at_location,
    kind_spec,
    register_kind,
    unregister_kind,
)

__all__ = ["ANY_ROLE", "DEFAULT_TEMPERATURE_LIMITS", "KINDS", "CteFacts", "KindSpec", "Needs",
           "Signers", "authorize", "facts_at_location", "kind_spec", "register_kind",
           "unregister_kind"]

#: Modules of this package that are not kinds.
_NOT_KINDS = frozenset(("context", "spec"))


def _register_builtin_kinds() -> None:
    specs = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or module.name in _NOT_KINDS:
            continue
        spec = importlib.import_module(f"{__name__}.{module.name}").SPEC
        # A kind named by a Python keyword lives in a module named with a trailing
        # underscore (PEP 8): ``return`` in ``return_``.
        if not isinstance(spec, KindSpec) or spec.name != module.name.removesuffix("_"):
            raise TypeError(f"tracelib.kinds.{module.name} must define SPEC, a KindSpec named "
                            f"{module.name.removesuffix('_')!r}")
        specs.append(spec)
    for spec in sorted(specs, key=lambda s: (s.order, s.name)):
        register_kind(spec)


_register_builtin_kinds()
