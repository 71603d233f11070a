"""The regulator's console (``/console``): sign-in sessions, CSRF-protected forms and the
pages a regulator works from (issue 16)."""

from __future__ import annotations

from .pages import bp
from .sessions import CONSOLE_DEFAULTS, configure

__all__ = ["CONSOLE_DEFAULTS", "bp", "configure"]
