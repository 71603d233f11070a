"""Write docs/cli.md from the CLI's own --help texts (`make docs` runs it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracelib_cli.main import cli


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found.extend(_walk(command.commands[name], [*path, name]))
    return found


def render() -> str:
    parts = ["# The `tracelib` command line\n",
             "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n"]
    for path, command in _walk(cli, ["tracelib"]):
        with click.Context(command, info_name=" ".join(path), terminal_width=88,
                           max_content_width=88) as ctx:
            text = command.get_help(ctx)
        parts.append(f"## `{' '.join(path)}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/cli.md")
    target.write_text(render(), encoding="utf-8")
