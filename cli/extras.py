"""The optional parts of tracelib: a command that needs one says, in one line, which extra
to install (``pip install 'tracelib[service]'``) instead of failing with a traceback."""

from __future__ import annotations

import importlib

import click

__all__ = ["EXTRA_OF", "MissingExtra", "extra_for", "missing_extra_message", "require"]

# The import name of each optional module and the extra that installs it.
EXTRA_OF = {
    "flask": "service", "werkzeug": "service", "jinja2": "service", "itsdangerous": "service",
    "gunicorn": "service", "qrcode": "service",
    "openpyxl": "reports", "PIL": "reports",
    "psycopg": "postgres", "psycopg_binary": "postgres",
}


class MissingExtra(click.ClickException):
    """Exit 1 with ``error: … pip install 'tracelib[EXTRA]'``."""

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def missing_extra_message(what: str, extra: str, modules: list[str]) -> str:
    names = ", ".join(modules)
    return (f"{what} needs the {extra!r} extra ({names} not installed): "
            f"pip install 'tracelib[{extra}]'")


def require(what: str, extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtra` naming ``extra`` unless every module imports."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtra(missing_extra_message(what, extra, missing))


def extra_for(error: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``error`` names, if it is one of ours."""
    root = (error.name or "").partition(".")[0]
    return EXTRA_OF.get(root)
