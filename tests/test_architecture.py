"""docs/architecture.md stays true to the code: the layers it draws are the import contract's
(setup.cfg, checked by `make lint`), in the same order, and every room it names exists."""

from __future__ import annotations

import configparser
import pkgutil
import re
from pathlib import Path

import tracelib

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _contract_layers() -> list[list[str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    layers = config["importlinter:contract:library-layers"]["layers"]
    return [re.split(r"\s*[|:]\s*", line.strip()) for line in layers.splitlines() if line.strip()]


def test_the_drawn_layers_are_the_import_contracts_in_order() -> None:
    diagram = DOC[DOC.index("```text"):DOC.index("```", DOC.index("```text") + 7)]
    positions = []
    for layer in _contract_layers():
        found = [m.start() if (m := re.search(rf"[│·]\s+{re.escape(room)}\b", diagram)) else -1
                 for room in layer]
        assert all(p >= 0 for p in found), (layer, found)
        positions.append(min(found))
    assert positions == sorted(positions), "docs/architecture.md draws the layers in another order"


def test_every_room_named_exists() -> None:
    for path in set(re.findall(r"`((?:tracelib|service|cli|demonet)/[\w/.]*)`", DOC)):
        assert (ROOT / path).exists(), path
    for layer in _contract_layers():
        for room in layer:
            assert (ROOT / "tracelib" / room).is_dir() or \
                (ROOT / "tracelib" / f"{room}.py").is_file(), room


def test_no_public_name_is_also_a_submodule() -> None:
    """Importing a submodule binds it on its package; a public function of the same name
    would then be hidden (Python reference §5.4.2), so none shares one."""
    submodules = {m.name for m in pkgutil.iter_modules(tracelib.__path__)}
    assert not submodules & set(tracelib.__all__)
