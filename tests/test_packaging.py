"""What `pip install tracelib` brings and what it does without the extras: the library and the
core commands work with no Flask, gunicorn, Pillow, openpyxl or qrcode; a command that needs an
extra says which one in one line; no module of the library imports the demo network."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = ["flask", "werkzeug", "gunicorn", "qrcode", "PIL", "openpyxl"]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def test_the_library_alone_pulls_no_web_or_picture_packages() -> None:
    base = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert base.isdisjoint({"flask", "gunicorn", "pillow", "openpyxl", "qrcode", "psycopg"}), base
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {_name(r) for r in extras["service"]} >= {"flask", "gunicorn", "qrcode", "pillow"}
    assert {_name(r) for r in extras["reports"]} >= {"openpyxl", "pillow"}


def test_every_dependency_has_a_lower_bound() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for requirement in [*PYPROJECT["project"]["dependencies"], *extras["service"],
                        *extras["reports"], *extras["postgres"]]:
        assert ">=" in requirement, requirement


def test_no_library_module_imports_the_demo_network_or_the_service() -> None:
    for path in sorted((ROOT / "tracelib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                root = name.partition(".")[0]
                assert root not in {"tracelib_demo", "tracelib_service", "tracelib_cli"}, \
                    f"{path.relative_to(ROOT)} imports {name}"


def _without_extras(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where the extras' modules cannot be imported."""
    prelude = f"import sys\nsys.modules.update(dict.fromkeys({EXTRAS!r}))\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_readme_example_runs_without_the_extras(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [example] = re.findall(r"## As a library\n\n```python\n(.*?)```", readme, re.S)
    done = _without_extras(example, tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("args", "extra"), [
    (["serve"], "service"),
    (["token", "issue", "farm-1"], "service"),
    (["qr", "stall", "stall-a01", "--out", "a.png"], "service"),
    (["demo", "generate"], "service"),
    (["drill", "LOT-1"], "reports"),
    (["report", "kpi", "--population", "1000", "--year", "2026", "--chart", "charts"], "reports"),
])
def test_a_command_that_needs_an_extra_names_it(args: list[str], extra: str, tmp_path: Path) -> None:
    done = _without_extras(f"""
        from tracelib_cli.main import cli
        cli.main(["--db", "ledger.db", *{args!r}], prog_name="tracelib")
    """, tmp_path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: `tracelib "), done.stderr
    assert f"pip install 'tracelib[{extra}]'" in lines[0]
    assert not (tmp_path / "ledger.db").exists()  # failed before touching anything


def test_a_core_command_runs_without_the_extras(tmp_path: Path) -> None:
    done = _without_extras("""
        from tracelib_cli.main import cli
        cli.main(["--db", "ledger.db", "init", "--operator", "amr"], prog_name="tracelib")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
