"""Write docs/cli.md from the CLI's own --help texts (`make docs` runs it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracelib_cli.main import cli


def _walk(command: click.Command, ctx: click.Context) -> list[tuple[click.Context, str]]:
    """Every command with its help text, each in a context made as click makes it (so
    context settings such as ``-h`` apply and are inherited)."""
    found = [(ctx, command.get_help(ctx))]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            child = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            found.extend(_walk(sub, child))
    return found


def render() -> str:
    parts = ["# The `tracelib` command line\n",
             "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n"]
    root = cli.make_context("tracelib", [], resilient_parsing=True, terminal_width=88,
                            max_content_width=88)
    for ctx, text in _walk(cli, root):
        parts.append(f"## `{ctx.command_path}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/cli.md")
    target.write_text(render(), encoding="utf-8")
