"""The EPCIS 2.0 query (EPCIS 2.0 §8.2.7 SimpleEventQuery, as the REST binding's
``GET /epcis/events`` takes it): :class:`EventQuery` reads the query parameters, decides
whether an exported event matches (:meth:`EventQuery.matches`), and :func:`run_query` answers
one page of a query against a ledger.

A query runs in two steps. SQL picks candidate records (:class:`~tracelib.store.epcis.EpcisSql`):
by lot when an EPC class is asked for (the records that made or touched the lot,
``SupplySql.event_seqs``), else by kind (the kinds whose event type and bizStep can match),
place, ``recorded_at`` and event time. Each candidate is then mapped by its kind's EPCIS
mapping exactly as the export maps it (the same ``eventID``) and :meth:`EventQuery.matches`
decides. Results come in seq order (the order the ledger recorded them); a page's
``nextPageToken`` names the last seq it read and the query it belongs to.

Parameters are read as the EPCIS 2.0 OpenAPI gives them: a list as comma-separated values or
the parameter repeated; bizSteps and dispositions as CBV 2.0 short names, Web URIs or URNs.
A parameter EPCIS 2.0 §8.2.7.1 does not name, one this repository does not implement, or a
value out of range is a :class:`QueryError` naming it (the binding's
``QueryParameterException``, 400).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson

from ..cbv import BIZSTEPS, CBV, DISPOSITIONS, EpcisNames
from ..errors import ValidationError
from ..kinds import KINDS
from ..ledger import Ledger
from ..store.epcis import EpcisSql
from ..store.supply import SupplySql
from ..timeutil import format_utc, parse_rfc3339, to_micros
from .export import place_names, stored_event

__all__ = ["DEFAULT_PER_PAGE", "EVENT_TYPES", "MAX_PER_PAGE", "EventQuery", "QueryError",
           "QueryPage", "epcis_event", "lazy_names", "lot_of_uri", "places_of_uri", "run_query"]

#: EPCIS 2.0 §7.4 event types.
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
               "AssociationEvent")
ACTIONS = ("ADD", "OBSERVE", "DELETE")
#: The OpenAPI's default page size, and this repository's upper limit.
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 1000

#: EPCIS 2.0 §8.2.7.1 parameters this repository does not implement: named, refused.
_UNSUPPORTED = frozenset((
    "EQ_persistentDisposition_set", "EQ_persistentDisposition_unset", "WD_readPoint",
    "WD_bizLocation", "EQ_transformationID", "MATCH_epc", "MATCH_parentID", "MATCH_inputEPC",
    "MATCH_outputEPC", "MATCH_anyEPC", "EQ_quantity", "GT_quantity", "GE_quantity",
    "LT_quantity", "LE_quantity", "EQ_eventID", "EXISTS_errorDeclaration",
    "GE_errorDeclarationTime", "LT_errorDeclarationTime", "EQ_errorReason",
    "EQ_correctiveEventID", "orderBy", "orderDirection", "eventCountLimit", "maxEventCount",
    "GE_startTime", "LT_startTime", "GE_endTime", "LT_endTime", "EQ_type", "EQ_deviceID",
    "EQ_dataProcessingMethod", "EQ_sensorMetadata", "EQ_sensorReport"))

_LIST_PARAMS = {"eventType": "event_types", "EQ_bizStep": "biz_steps",
                "EQ_disposition": "dispositions", "EQ_bizLocation": "biz_locations",
                "EQ_readPoint": "read_points", "MATCH_anyEPCClass": "any_epc_class",
                "MATCH_epcClass": "epc_class", "MATCH_inputEPCClass": "input_epc_class",
                "MATCH_outputEPCClass": "output_epc_class", "EQ_action": "actions"}
_TIME_PARAMS = {"GE_eventTime": "ge_event_time", "LT_eventTime": "lt_event_time",
                "GE_recordTime": "ge_record_time", "LT_recordTime": "lt_record_time"}
_PAGING = ("perPage", "nextPageToken")
_URI = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*:\S+\Z")
_TOKEN = re.compile(r"\A(\d{1,19})\.([0-9a-f]{16})\Z")
_DL_LOT = re.compile(r"\Ahttps://id\.gs1\.org/01/(\d{14})/10/([^/?#]+)\Z")
_DL_PLACE = re.compile(r"\Ahttps://id\.gs1\.org/414/(\d{13})(?:/254/([^/?#]+))?\Z")


class QueryError(ValueError):
    """A query parameter this repository refuses: ``param`` names it, ``message`` says why
    (EPCIS 2.0 §8.2.7.1 ``QueryParameterException``)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def _vocabulary(value: str, kind: str, names: frozenset[str], param: str) -> str:
    """A bizStep or disposition as its CBV 2.0 Web URI: a short name, the Web URI or the URN
    (``urn:epcglobal:cbv:bizstep:shipping``); another URI is kept (an extension's)."""
    prefix = f"{CBV}{'BizStep' if kind == 'bizstep' else 'Disp'}-"
    urn = f"urn:epcglobal:cbv:{kind}:"
    if value in names:
        return prefix + value
    if value.startswith(urn) and value[len(urn):] in names:
        return prefix + value[len(urn):]
    if _URI.match(value):
        return value
    what = "business step" if kind == "bizstep" else "disposition"
    raise QueryError(param, f"{value!r} is not a CBV 2.0 {what} nor a URI")


def _values(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    out: list[str] = []
    for raw in params[name]:
        out.extend(v.strip() for v in str(raw).split(",") if v.strip())
    if not out:
        raise QueryError(name, "needs at least one value")
    return out


def _one(params: Mapping[str, Sequence[str]], name: str) -> str:
    given = [str(v) for v in params[name]]
    if len(given) != 1:
        raise QueryError(name, "may be given once")
    return given[0].strip()


def _time(text: str, param: str) -> datetime:
    try:
        return parse_rfc3339(text, field=param)
    except ValidationError:
        raise QueryError(param, f"{text!r} is not an RFC 3339 time with an offset, like "
                                "2026-11-22T00:00:00+08:00") from None


def _field_uri(event: Mapping[str, Any], name: str) -> str | None:
    where = event.get(name)
    return where.get("id") if isinstance(where, Mapping) else None


def _classes(event: Mapping[str, Any], *lists: str) -> Iterator[str]:
    for name in lists:
        for element in event.get(name) or ():
            if isinstance(element, Mapping) and isinstance(element.get("epcClass"), str):
                yield element["epcClass"]


def _micros(text: object) -> int | None:
    try:
        return to_micros(parse_rfc3339(text))
    except ValidationError:
        return None


@dataclass(frozen=True)
class EventQuery:
    """One EPCIS query: each field None when its parameter was not given. Vocabulary as
    Web URIs; times as aware datetimes; ``after`` the seq a ``nextPageToken`` resumes
    after."""

    event_types: frozenset[str] | None = None
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None
    lt_record_time: datetime | None = None
    biz_steps: frozenset[str] | None = None
    dispositions: frozenset[str] | None = None
    biz_locations: frozenset[str] | None = None
    read_points: frozenset[str] | None = None
    any_epc_class: frozenset[str] | None = None
    epc_class: frozenset[str] | None = None
    input_epc_class: frozenset[str] | None = None
    output_epc_class: frozenset[str] | None = None
    actions: frozenset[str] | None = None
    per_page: int = DEFAULT_PER_PAGE
    after: int | None = field(default=None, compare=False)

    # -- parameters ------------------------------------------------------------------------

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> EventQuery:
        """The query of URI query parameters (each name with its values as given, e.g.
        Werkzeug's ``request.args.to_dict(flat=False)``); :class:`QueryError` names the
        first parameter refused."""
        values: dict[str, Any] = {}
        for name in params:
            if name in _UNSUPPORTED:
                raise QueryError(name, "is an EPCIS 2.0 query parameter this repository does "
                                       "not implement")
            if name not in _LIST_PARAMS and name not in _TIME_PARAMS and name not in _PAGING:
                raise QueryError(name, "is not an EPCIS 2.0 query parameter")
        for name, attr in _LIST_PARAMS.items():
            if name not in params:
                continue
            given = _values(params, name)
            if name == "eventType":
                for v in given:
                    if v not in EVENT_TYPES:
                        raise QueryError(name, f"{v!r} is not an EPCIS 2.0 event type (one of "
                                               f"{', '.join(EVENT_TYPES)})")
            elif name == "EQ_action":
                for v in given:
                    if v not in ACTIONS:
                        raise QueryError(name, f"{v!r} is not ADD, OBSERVE or DELETE")
            elif name == "EQ_bizStep":
                given = [_vocabulary(v, "bizstep", BIZSTEPS, name) for v in given]
            elif name == "EQ_disposition":
                given = [_vocabulary(v, "disp", DISPOSITIONS, name) for v in given]
            else:
                for v in given:
                    if not _URI.match(v):
                        raise QueryError(name, f"{v!r} is not a URI")
            values[attr] = frozenset(given)
        for name, attr in _TIME_PARAMS.items():
            if name in params:
                values[attr] = _time(_one(params, name), name)
        for low, high in (("GE_eventTime", "LT_eventTime"), ("GE_recordTime", "LT_recordTime")):
            a, b = values.get(_TIME_PARAMS[low]), values.get(_TIME_PARAMS[high])
            if a is not None and b is not None and a > b:
                raise QueryError(low, f"is after {high}")
        if "perPage" in params:
            text = _one(params, "perPage")
            if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PER_PAGE:
                raise QueryError("perPage", f"must be a whole number from 1 to {MAX_PER_PAGE}, "
                                            f"got {text!r}")
            values["per_page"] = int(text)
        query = cls(**values)
        if "nextPageToken" in params:
            return query.resume(_one(params, "nextPageToken"))
        return query

    def to_params(self) -> dict[str, list[str]]:
        """The query parameters that give this query back (without its page position)."""
        out: dict[str, list[str]] = {}
        for name, attr in _LIST_PARAMS.items():
            value = getattr(self, attr)
            if value is not None:
                out[name] = sorted(value)
        for name, attr in _TIME_PARAMS.items():
            value = getattr(self, attr)
            if value is not None:
                out[name] = [format_utc(value)]
        if self.per_page != DEFAULT_PER_PAGE:
            out["perPage"] = [str(self.per_page)]
        return out

    def digest(self) -> str:
        """What a page token binds to: the query's parameters but its page size."""
        params = {k: v for k, v in self.to_params().items() if k != "perPage"}
        return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]

    def page_token(self, after: int) -> str:
        """The ``nextPageToken`` of the page after seq ``after`` of this query: opaque
        (base64url), and refused for any other query."""
        raw = f"{after}.{self.digest()}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def resume(self, token: str) -> EventQuery:
        """This query from the page ``token`` names; :class:`QueryError` for a token that is
        malformed or belongs to another query."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raw = ""
        found = _TOKEN.match(raw)
        if found is None or found.group(2) != self.digest():
            raise QueryError("nextPageToken", "is not a page token of this query")
        return _replace(self, after=int(found.group(1)))

    # -- matching --------------------------------------------------------------------------

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` (an EPCIS 2.0 event as the export maps it, with ``recordTime``)
        meets every parameter given."""
        if self.event_types is not None and event.get("type") not in self.event_types:
            return False
        if self.actions is not None and event.get("action") not in self.actions:
            return False
        if self.biz_steps is not None and (
                _normal(event.get("bizStep"), "bizstep", BIZSTEPS) not in self.biz_steps):
            return False
        if self.dispositions is not None and (
                _normal(event.get("disposition"), "disp", DISPOSITIONS) not in self.dispositions):
            return False
        if self.biz_locations is not None and (
                _field_uri(event, "bizLocation") not in self.biz_locations):
            return False
        if self.read_points is not None and _field_uri(event, "readPoint") not in self.read_points:
            return False
        for wanted, lists in ((self.epc_class, ("quantityList", "childQuantityList")),
                              (self.input_epc_class, ("inputQuantityList",)),
                              (self.output_epc_class, ("outputQuantityList",)),
                              (self.any_epc_class, ("quantityList", "childQuantityList",
                                                    "inputQuantityList",
                                                    "outputQuantityList"))):
            if wanted is not None and not any(c in wanted for c in _classes(event, *lists)):
                return False
        for low, high, name in ((self.ge_event_time, self.lt_event_time, "eventTime"),
                                (self.ge_record_time, self.lt_record_time, "recordTime")):
            if low is None and high is None:
                continue
            moment = _micros(event.get(name))
            if moment is None or (low is not None and moment < to_micros(low)) or (
                    high is not None and moment >= to_micros(high)):
                return False
        return True

    @property
    def classes(self) -> frozenset[str] | None:
        """The EPC classes of the EPC-class parameter naming the fewest (None: none given):
        every matching event names one of them."""
        given = [v for v in (self.any_epc_class, self.epc_class, self.input_epc_class,
                             self.output_epc_class) if v is not None]
        return min(given, key=len) if given else None


def _replace(query: EventQuery, **changes: Any) -> EventQuery:
    values = {f.name: getattr(query, f.name) for f in fields(query)}
    values.update(changes)
    return EventQuery(**values)


def _normal(value: object, kind: str, names: frozenset[str]) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return _vocabulary(value, kind, names, "")
    except QueryError:
        return value


# -- naming: lots and places from their URIs ---------------------------------------------------

def lot_of_uri(uri: str, base: str) -> tuple[str, str | None] | None:
    """(lot code, GTIN or None) a lot URI names as the export names lots (GS1 Digital Link
    ``https://id.gs1.org/01/{GTIN}/10/{lot}``, else ``{base}/l/{lot}``); None otherwise."""
    found = _DL_LOT.match(uri)
    if found is not None:
        return unquote(found.group(2)), found.group(1)
    own = base.rstrip("/") + "/l/"
    if uri.startswith(own) and "/" not in uri[len(own):]:
        return unquote(uri[len(own):]), None
    return None


def places_of_uri(conn: Any, uri: str, base: str) -> set[str]:
    """The locations a location URI names as the export names them (``414``/``254``
    Digital Link from a registered GLN, else ``{base}/loc/{id}``)."""
    own = base.rstrip("/") + "/loc/"
    if uri.startswith(own) and "/" not in uri[len(own):]:
        return {unquote(uri[len(own):])}
    found = _DL_PLACE.match(uri)
    if found is None:
        return set()
    gln, extension = found.group(1), found.group(2)
    extension = None if extension is None else unquote(extension)
    out = set()
    for location, details in EpcisSql.locations_with_gln(conn, gln):
        if str(details.get("gln") or "") != gln:
            continue
        ext = details.get("gln_extension")
        if (None if ext is None else str(ext)) == extension:
            out.add(location)
    return out


@dataclass
class NameCache:
    """What :func:`lazy_names` has read of master data: lots' GTINs and locations' (GLN,
    holder), filled on demand or for many at once (:func:`_prefetch`)."""

    gtins: dict[str, str | None] = field(default_factory=dict)
    places: dict[str, tuple[tuple[str, str | None] | None, str | None]] = field(
        default_factory=dict)


def lazy_names(ledger: Ledger, conn: Any, base: str) -> tuple[EpcisNames, NameCache]:
    """:class:`EpcisNames` reading master data as it is asked for (a lot's GTIN, a
    location's GLN and holder, each once), and its cache, which a caller may fill for
    many at once (:func:`_prefetch`)."""
    cache = NameCache()

    def gtin(lot: str) -> str | None:
        if lot not in cache.gtins:
            cache.gtins[lot] = EpcisSql.gtins(conn, [lot]).get(lot)
        return cache.gtins[lot]

    def place(location: str) -> tuple[tuple[str, str | None] | None, str | None]:
        found = cache.places.get(location)
        if found is None:
            found = cache.places[location] = place_names(ledger.store.location(conn, location))
        return found

    names = EpcisNames(base.rstrip("/"), gtin=gtin, gln=lambda loc: place(loc)[0],
                       holder=lambda loc: place(loc)[1])
    return names, cache


#: Where a stored event names a location besides its own (ship ``to``, receive ``from``,
#: a test's ``stall``): read ahead with the event's own.
_PLACES = ("to", "from", "stall")


def _prefetch(ledger: Ledger, conn: Any, cache: NameCache,
              docs: Iterable[Mapping[str, Any]]) -> None:
    """Read the master data ``docs`` will be named with in two statements."""
    lots: set[str] = set()
    places: set[str] = set()
    for doc in docs:
        for item in (*doc.get("inputs", ()), *doc.get("outputs", ())):
            if isinstance(item, Mapping) and isinstance(item.get("lot"), str):
                lots.add(item["lot"])
        data = doc.get("data") or {}
        if isinstance(data.get("lot"), str):
            lots.add(data["lot"])
        if isinstance(doc.get("location"), str):
            places.add(doc["location"])
        places.update(data[k] for k in _PLACES if isinstance(data.get(k), str))
    lots -= set(cache.gtins)
    if lots:
        found = EpcisSql.gtins(conn, sorted(lots))
        for lot in lots:
            cache.gtins[lot] = found.get(lot)
    places -= set(cache.places)
    if places:
        located = ledger.store.locations(conn, places)
        for place in places:
            cache.places[place] = place_names(located.get(place))


def epcis_event(row: Mapping[str, Any], doc: Mapping[str, Any], names: EpcisNames,
                hash_id: str | None = None) -> dict[str, Any] | None:
    """A stored record (its row, its parsed event) as the export writes it
    (:func:`~tracelib.epcis.export.stored_event`); None for a kind with no EPCIS event."""
    return stored_event(str(row["kind"]), doc, names, seq=row["seq"], record_hash=row["hash"],
                        recorded_at=row["recorded_at"], hash_id=hash_id)


# -- running a query --------------------------------------------------------------------------

@dataclass
class QueryPage:
    """One page of a query's results: the events (in seq order) and, when more may follow,
    the ``nextPageToken`` of the next page; ``scanned``: candidate records read."""

    events: list[dict[str, Any]]
    next_token: str | None
    scanned: int = 0


#: A reader's filter on stored events (the service's reach, docs/contract.md "Who may read
#: what"): given the stored event (its wire form), whether the reader may read it.
Keep = Callable[[Mapping[str, Any]], bool]


def _kinds(query: EventQuery) -> list[str]:
    """The kinds whose events can match the event type and bizStep asked for."""
    out = []
    for name, spec in KINDS.items():
        if spec.epcis is None:
            continue
        if query.event_types is not None and spec.epcis_type not in query.event_types:
            continue
        if (query.biz_steps is not None and spec.bizstep is not None
                and CBV + "BizStep-" + spec.bizstep not in query.biz_steps):
            continue  # a kind without a fixed bizStep (transform, release) may still match
        out.append(name)
    return out


def _lot_seqs(conn: Any, query: EventQuery, base: str) -> list[int] | None:
    """The seqs of the records that made or touched a lot the query's EPC classes name
    (None: the query names no EPC class)."""
    classes = query.classes
    if classes is None:
        return None
    codes = []
    for uri in classes:
        found = lot_of_uri(uri, base)
        if found is not None:
            codes.append(found[0])
    return SupplySql.event_seqs(conn, sorted(set(codes))) if codes else []


def _places(conn: Any, query: EventQuery, base: str) -> set[str] | None:
    """The locations an event must be at (readPoint and bizLocation are the event's
    location in every kind's mapping); None: anywhere."""
    out: set[str] | None = None
    for uris in (query.biz_locations, query.read_points):
        if uris is None:
            continue
        named = set().union(*(places_of_uri(conn, uri, base) for uri in uris))
        out = named if out is None else out & named
    return out


def _known_ids(ledger: Ledger, conn: Any, base: str) -> Callable[[Sequence[int]], dict[int, str]]:
    """The event hash IDs the ID index (:mod:`tracelib.epcis.eventids`) holds for seqs,
    when they are the IDs the events have now: the index was built under ``base`` and no
    ``register`` record (the only way master data changes) came after it was started.
    Otherwise none: every ID is computed."""
    cursor = EpcisSql.id_cursor(conn)
    if (cursor is None or cursor.base != base.rstrip("/")
            or cursor.stamp != ledger.store.directory_stamp(conn)):
        return lambda seqs: {}
    return lambda seqs: EpcisSql.ids_of_seqs(conn, [s for s in seqs if s < cursor.indexed])


def run_query(ledger: Ledger, query: EventQuery, *, base: str, keep: Keep | None = None,
              budget: int | None = None) -> QueryPage:
    """One page of ``query``'s results on ``ledger`` (events named under ``base``, the
    ledger's public URL): up to ``query.per_page`` events after ``query.after``, those
    ``keep`` refuses left out. At most ``budget`` candidate records are read (default ten
    pages' worth and a thousand): a page may then hold fewer events and still have a
    next one."""
    budget = budget if budget is not None else 10 * query.per_page + 1000
    after = query.after if query.after is not None else -1
    events: list[dict[str, Any]] = []
    scanned = 0
    with ledger.store.reader() as conn:
        names, cache = lazy_names(ledger, conn, base)
        known_ids = _known_ids(ledger, conn, base)
        lot_seqs = _lot_seqs(conn, query, base)
        places = _places(conn, query, base)
        kinds = _kinds(query)
        batch = min(max(2 * query.per_page, 50), 1000)
        # recordTime is recorded_at, which never decreases along the seqs: a seq range
        low, high = -1, None
        if query.ge_record_time is not None or query.lt_record_time is not None:
            size_now = ledger.store.size(conn)
            if query.ge_record_time is not None:
                low = EpcisSql.first_recorded(conn, format_utc(query.ge_record_time),
                                              size_now) - 1
            if query.lt_record_time is not None:
                high = EpcisSql.first_recorded(conn, format_utc(query.lt_record_time), size_now)

        def fetch(after_seq: int, size: int) -> list[int]:
            after_seq = max(after_seq, low)
            if lot_seqs is not None:
                return [s for s in lot_seqs if s > after_seq and (high is None or s < high)
                        ][:size]
            return [s for s, _ in EpcisSql.candidates(
                conn, kinds=kinds, after=after_seq, before=high, limit=size,
                since=query.ge_event_time,
                until=query.lt_event_time,
                recorded_since=(None if query.ge_record_time is None
                                else format_utc(query.ge_record_time)),
                recorded_until=(None if query.lt_record_time is None
                                else format_utc(query.lt_record_time)),
                places=None if places is None else sorted(places))]

        last = fetched = after
        pending: list[int] = []  # candidates fetched, not yet read
        source_done = False
        while len(events) < query.per_page and scanned < budget:
            if not pending:
                if source_done:
                    break
                size = min(batch, budget - scanned)
                pending = fetch(fetched, size)
                source_done = len(pending) < size
                if not pending:
                    break
                fetched = pending[-1]
            # read only as many records as the page still needs (and a few): a candidate
            # costs its row, its master data and its mapping
            take = min(query.per_page - len(events) + 8, budget - scanned)
            chunk, pending = pending[:take], pending[take:]
            docs = [(row, orjson.loads(bytes(row["body"])))
                    for row in ledger.store.record_rows(conn, chunk)]
            _prefetch(ledger, conn, cache, (doc for _, doc in docs))
            hash_ids = known_ids(chunk)
            for n, (row, doc) in enumerate(docs):
                scanned += 1
                last = int(row["seq"])
                if keep is not None and not keep(doc):
                    continue
                event = epcis_event(row, doc, names, hash_ids.get(last))
                if event is None or not query.matches(event):
                    continue
                events.append(event)
                if len(events) == query.per_page:
                    pending = chunk[n + 1:] + pending
                    break
        exhausted = source_done and not pending
    more = not exhausted
    return QueryPage(events, query.page_token(last) if more else None, scanned)
