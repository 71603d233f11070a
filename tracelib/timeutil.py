"""RFC 3339 timestamps: strict parsing, UTC rendering, and integer micros for fast comparison."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from .errors import ValidationError

__all__ = [
    "EARLIEST_EVENT",
    "FUTURE_SKEW",
    "format_duration",
    "format_utc",
    "from_micros",
    "local_zone",
    "parse_event_time",
    "parse_rfc3339",
    "to_micros",
    "utcnow",
]

# RFC 3339 §5.6 date-time, with a mandatory offset ("Z" or ±hh:mm).
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})\Z"
)


def parse_rfc3339(value: object, *, field: str = "time") -> datetime:
    """Parse an RFC 3339 date-time that carries an offset; raise ValidationError otherwise."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValidationError(
            f"expected an RFC 3339 time with offset like 2026-11-22T06:10:00+08:00, got {value!r}",
            field=field,
        )
    text = value.upper()
    if "." in text:  # datetime keeps microseconds only: trim extra fraction digits
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac):]}"
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise ValidationError(f"not a valid date-time: {value!r} ({e})", field=field) from e


#: No event of the food chain tracelib records happened before this (docs/contract.md "Event").
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
#: How far an event's time may run ahead of the time it is recorded: clocks drift, and no
#: more (docs/contract.md "Event").
FUTURE_SKEW = timedelta(minutes=10)
#: Real UTC offsets run from −12:00 to +14:00 (IANA tz database); ±14:00 bounds both ways.
_MAX_OFFSET = timedelta(hours=14)


def parse_event_time(value: object, *, field: str = "time") -> datetime:
    """An event's time: RFC 3339 with an offset within ±14:00 and not before 2000-01-01 (and,
    checked at append, at most :data:`FUTURE_SKEW` after the time of recording), so that
    every time a ledger holds can be rendered in any time zone."""
    moment = parse_rfc3339(value, field=field)
    offset = moment.utcoffset()
    assert offset is not None
    if abs(offset) > _MAX_OFFSET:
        raise ValidationError(f"UTC offset must be within ±14:00, got {value!r}", field=field)
    if moment < EARLIEST_EVENT:
        raise ValidationError(f"event time must be 2000-01-01 or later, got {value!r}",
                              field=field)
    return moment


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (for exact, fast ordering of aware times)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The inverse of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=micros)


def format_duration(span: timedelta) -> str:
    """A positive span in the largest whole unit that fits: ``2 h``, ``11 min``, ``3 d``."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def format_utc(moment: datetime) -> str:
    """Render an aware datetime as RFC 3339 UTC with microseconds, e.g. 2026-11-22T02:10:00.000000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utcnow() -> datetime:
    return datetime.now(UTC)


#: China's time (UTC+08:00 all year: no daylight saving since 1991).
CHINA = timezone(timedelta(hours=8), "CST")


def local_zone(name: str) -> tzinfo:
    """The time zone ``name`` (IANA, e.g. ``Asia/Shanghai``), or a fixed offset written
    ``+08:00``. Without a tz database on the machine, China's names still resolve (China
    has no daylight saving); another unknown name is a :class:`ValidationError`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if re.fullmatch(r"[+-]\d{2}:\d{2}", name):
        sign = -1 if name[0] == "-" else 1
        offset = timedelta(hours=int(name[1:3]), minutes=int(name[4:6]))
        if offset > _MAX_OFFSET:
            raise ValidationError(f"UTC offset must be within ±14:00, got {name!r}",
                                  field="timezone")
        return timezone(sign * offset)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
            return CHINA
        raise ValidationError(f"unknown time zone {name!r}: expected an IANA name like "
                              "Asia/Shanghai or an offset like +08:00", field="timezone") from e
