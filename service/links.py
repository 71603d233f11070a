"""Absolute links — placard QR codes, GS1 linksets, the lot page's ``Link`` header — built
from configuration, never from the request.

A ``Host`` header is whatever the client sent: a placard or linkset built from it would
send shoppers wherever the sender liked (RFC 9110 §7.2 leaves the value to the client). So
every absolute link starts with the public base URL (``PUBLIC_URL``, from ``--public-url``
or ``TRACELIB_PUBLIC_URL``), or, without one, with the address the service is bound to
(``BIND``, ``host:port``; gunicorn's and ``tracelib serve``'s default ``127.0.0.1:8000``).
Requests naming any other host are refused with 400 (Flask's ``TRUSTED_HOSTS``): the
public URL's host, the bound host, and ``localhost``/``127.0.0.1`` for a loopback (or
every-interface) bind.
A bind to every interface (``0.0.0.0``, ``::``) names no host, so it needs a public URL.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for

__all__ = ["DEFAULT_BIND", "LinkSettings", "check_base_url", "external_url", "link_settings",
           "public_url"]

DEFAULT_BIND = "127.0.0.1:8000"
LOOPBACK_NAMES = ("localhost", "127.0.0.1")
_WILDCARDS = ("", "0.0.0.0", "::", "[::]", "*")  # noqa: S104 - refused without a public URL


@dataclass(frozen=True)
class LinkSettings:
    """Where links point (``base``, no trailing slash) and which ``Host`` values a request
    may carry (``trusted``, Flask's ``TRUSTED_HOSTS``)."""

    base: str
    trusted: tuple[str, ...]


def _split_bind(bind: str) -> tuple[str, int]:
    text = bind.strip()
    if text.startswith("unix:"):
        raise ValueError(f"bind {bind!r} is a Unix socket: set the public URL "
                         "(--public-url or TRACELIB_PUBLIC_URL), which names no host here")
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bind must be HOST:PORT with a port 1-65535, got {bind!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal as a URL writes it (RFC 3986 §3.2.2)
    return host.lower(), int(port_text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, what: str = "the public URL") -> str:
    """``url`` without a trailing slash when it is an http(s) URL with a host and no
    query, fragment or user (a base that paths are appended to); ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host, "
                         f"got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{what} may not carry a query, fragment or user, got {url!r}")
    return url.strip().rstrip("/")


def link_settings(public: str | None, bind: str | None) -> LinkSettings:
    """The links and trusted hosts of a service reachable at ``public`` (may be None) and
    bound to ``bind`` (``host:port``; None: :data:`DEFAULT_BIND`). ValueError when the
    two do not say where shoppers reach the service."""
    host, port = _split_bind(bind or DEFAULT_BIND)
    wildcard = host in _WILDCARDS
    names: list[str] = []
    if not wildcard:
        names.append(host)
    if wildcard or _is_loopback(host):  # every interface includes the loopback one
        names.extend(LOOPBACK_NAMES)
    if public:
        base = check_base_url(public)
        names.insert(0, str(urlsplit(base).hostname))
    elif wildcard:
        raise ValueError(f"bound to every interface ({bind}): set the public URL "
                         "(--public-url or TRACELIB_PUBLIC_URL) that shoppers reach")
    else:
        base = f"http://{host}" + ("" if port == 80 else f":{port}")
    return LinkSettings(base, tuple(dict.fromkeys(names)))


def configure(config: Mapping[str, Any]) -> dict[str, Any]:
    """``LINK_BASE`` and, unless configured, ``TRUSTED_HOSTS`` for an app's config."""
    public = config.get("PUBLIC_URL")
    settings = link_settings(str(public) if public else None,
                             str(config["BIND"]) if config.get("BIND") else None)
    out: dict[str, Any] = {"LINK_BASE": settings.base}
    if config.get("TRUSTED_HOSTS") is None:
        out["TRUSTED_HOSTS"] = list(settings.trusted)
    return out


def public_url(path: str) -> str:
    """``path`` (from the app's root, as ``url_for`` builds it) as an absolute URL."""
    return str(current_app.config["LINK_BASE"]) + path


def external_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, _external=True)``, but from the configured base, not the request."""
    return public_url(url_for(endpoint, **values))
