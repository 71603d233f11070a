"""The project cites only its own documents and public standards.

The data contract is ``docs/contract.md``; a rule is cited by the standard or regulation it
implements (RFC 8785, RFC 9162, GS1 CBV 2.0, GB/T 5009.199-2003, …). No tracked file may cite
a contract, design or style document kept outside the repository by its file name.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The documents kept outside the repository, spelled so that this file does not cite them.
_OUTSIDE = ("CONT" + "RACT", "DES" + "IGN", "STY" + "LE")
_C, _D, _S = _OUTSIDE
CITATION = re.compile(
    rf"\b(?:{_C}|{_D}|{_S})\.md\b"   # the file by name, with or without a section
    rf"|\b(?:{_D}|{_S})\s*§\s*\d"     # a section of one without the extension
    rf"|\b{_C}\b"                     # the contract's bare name, as in "<name>: qty is …"
)
# docs/contract.md is the contract itself: its own text is not checked. A third party's licence
# is quoted word for word, capitals and all (the MIT licence of the hash vectors).
EXEMPT = {"docs/contract.md", "tests/data/epcis-hash/LICENSE-MIT.txt"}


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                         capture_output=True).stdout
    return [name for name in out.decode("utf-8").split("\0") if name]


def citations(name: str) -> list[str]:
    try:
        text = (ROOT / name).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return []  # images and other binary files; a deleted but still tracked file
    return [f"{name}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if CITATION.search(line)]


def test_no_file_cites_documents_outside_the_repository() -> None:
    found = [hit for name in tracked_files() if name not in EXEMPT for hit in citations(name)]
    assert not found, (
        "these lines cite a document that is not in the repository; cite docs/contract.md or "
        "the standard the rule implements instead:\n" + "\n".join(found))


@pytest.mark.parametrize(("line", "cites"), [
    ('"""' + _OUTSIDE[0] + '.md "Event": required id, kind, time."""', True),
    ("# " + _OUTSIDE[1] + ".md §4: kind → bizStep.", True),
    ("(" + _OUTSIDE[1] + " §5)", True),
    ("to status codes (" + _OUTSIDE[2] + ".md §8).", True),
    ("# " + _OUTSIDE[0] + ": qty is a decimal string", True),
    ('"""docs/contract.md "Event": required id, kind, time."""', False),
    ("This page is data contract v1 ([contract.md](contract.md)).", False),
    ("# GS1 CBV 2.0 §7.2 (bizStep): kind → bizStep.", False),
    ("design, contract and style in prose", False),
])
def test_the_pattern(line: str, cites: bool) -> None:
    assert bool(CITATION.search(line)) is cites
