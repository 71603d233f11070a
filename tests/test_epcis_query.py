"""The EPCIS 2.0 query (issue 18): every parameter against a generated ledger whose answers
the test computes itself from the whole export, paging without duplicates or gaps, page
tokens, refused parameters, and events by their hash ID — on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tracelib.epcis import epcis_events, names_for
from tracelib.epcis.eventids import catch_up, find_event
from tracelib.epcis.query import EventQuery, QueryError, run_query
from tracelib.events import sign_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.timeutil import format_utc, parse_rfc3339, to_micros
from tracelib_demo import NetworkSpec, generate

BASE = "https://trace.example.cn"
_KEYS: dict[int, SigningKey] = {}  # each world's operator key
CBV = "https://ref.gs1.org/cbv/"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Ledger, list[dict[str, Any]]]]:
    spec = NetworkSpec(seed=7, events=1000, farms=4, markets=1, stalls_per_market=6, days=3)
    net = generate(spec)
    admin = schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('q') / 'q.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(server)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    ledger = Ledger.create(url, operator_key=net.operator_key, operator=spec.operator,
                           now=net.end)
    _KEYS[id(ledger)] = net.operator_key
    stream = list(net.events())
    for n, start in enumerate(range(0, len(stream), 250)):  # recordTimes a minute apart
        ledger.append(stream[start:start + 250], now=net.end + timedelta(minutes=n))
    with ledger.store.reader() as conn:
        everything = list(epcis_events(ledger, conn, names_for(ledger, conn, BASE)))
    yield ledger, everything
    ledger.close()
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def every_page(ledger: Ledger, params: dict[str, list[str]]) -> list[dict[str, Any]]:
    query = EventQuery.from_params(params)
    out: list[dict[str, Any]] = []
    for _ in range(10_000):
        page = run_query(ledger, query, base=BASE)
        assert len(page.events) <= query.per_page
        out.extend(page.events)
        if page.next_token is None:
            return out
        query = EventQuery.from_params({**params, "nextPageToken": [page.next_token]})
    raise AssertionError("paging did not end")


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["tracelib:seq"] for e in events]


def micros(text: str) -> int:
    return to_micros(parse_rfc3339(text))


def classes(event: dict[str, Any], *lists: str) -> set[str]:
    return {q["epcClass"] for name in lists for q in event.get(name, [])}


def test_the_export_is_what_a_query_without_parameters_pages_through(world: Any) -> None:
    ledger, everything = world
    found = every_page(ledger, {"perPage": ["97"]})
    assert found == everything  # the same events, eventIDs and order; no duplicates, no gaps
    assert len(everything) > 600


def _cases(everything: list[dict[str, Any]]) -> list[tuple[dict[str, list[str]],
                                                            Callable[[dict[str, Any]], bool]]]:
    lot_event = next(e for e in everything if e.get("type") == "TransformationEvent")
    made = lot_event["outputQuantityList"][0]["epcClass"]
    used = lot_event["inputQuantityList"][0]["epcClass"]
    shipped = next(e for e in everything if e.get("bizStep") == CBV + "BizStep-shipping")
    lot = shipped["quantityList"][0]["epcClass"]
    stall = next(e for e in everything if e.get("bizStep") == CBV + "BizStep-retail_selling")
    place = stall["bizLocation"]["id"]
    times = sorted(micros(e["eventTime"]) for e in everything)
    middle = parse_rfc3339(everything[len(everything) // 2]["eventTime"])
    day_start, day_end = middle - timedelta(hours=7), middle + timedelta(hours=17)
    recorded = sorted({e["recordTime"] for e in everything})
    assert times and len(recorded) >= 4
    return [
        ({"eventType": ["TransformationEvent"]}, lambda e: e["type"] == "TransformationEvent"),
        ({"eventType": ["ObjectEvent,TransformationEvent"]}, lambda e: True),
        ({"EQ_bizStep": ["shipping"]}, lambda e: e.get("bizStep") == CBV + "BizStep-shipping"),
        ({"EQ_bizStep": ["urn:epcglobal:cbv:bizstep:receiving", CBV + "BizStep-inspecting"]},
         lambda e: e.get("bizStep") in (CBV + "BizStep-receiving", CBV + "BizStep-inspecting")),
        ({"EQ_disposition": ["in_transit,retail_sold"]},
         lambda e: e.get("disposition") in (CBV + "Disp-in_transit", CBV + "Disp-retail_sold")),
        ({"EQ_action": ["ADD"]}, lambda e: e.get("action") == "ADD"),
        ({"EQ_action": ["OBSERVE", "DELETE"]}, lambda e: e.get("action") in ("OBSERVE", "DELETE")),
        ({"EQ_bizLocation": [place]}, lambda e: e["bizLocation"]["id"] == place),
        ({"EQ_readPoint": [place], "EQ_bizStep": ["retail_selling"]},
         lambda e: e["readPoint"]["id"] == place
         and e.get("bizStep") == CBV + "BizStep-retail_selling"),
        ({"MATCH_anyEPCClass": [lot]},
         lambda e: lot in classes(e, "quantityList", "inputQuantityList", "outputQuantityList")),
        ({"MATCH_anyEPCClass": [made]},
         lambda e: made in classes(e, "quantityList", "inputQuantityList", "outputQuantityList")),
        ({"MATCH_epcClass": [lot]}, lambda e: lot in classes(e, "quantityList")),
        ({"MATCH_inputEPCClass": [used]}, lambda e: used in classes(e, "inputQuantityList")),
        ({"MATCH_outputEPCClass": [made]}, lambda e: made in classes(e, "outputQuantityList")),
        ({"GE_eventTime": [format_utc(day_start)], "LT_eventTime": [day_end.isoformat()]},
         lambda e: to_micros(day_start) <= micros(e["eventTime"]) < to_micros(day_end)),
        ({"GE_eventTime": [format_utc(day_start)], "EQ_bizStep": ["shipping"]},
         lambda e: to_micros(day_start) <= micros(e["eventTime"])
         and e.get("bizStep") == CBV + "BizStep-shipping"),
        ({"LT_eventTime": [format_utc(day_start)]},
         lambda e: micros(e["eventTime"]) < to_micros(day_start)),
        ({"GE_recordTime": [recorded[len(recorded) // 2]]},
         lambda e: e["recordTime"] >= recorded[len(recorded) // 2]),
        ({"LT_recordTime": [recorded[-1]]}, lambda e: e["recordTime"] < recorded[-1]),
        ({"GE_recordTime": [recorded[1]], "LT_recordTime": [recorded[-2]],
          "EQ_bizStep": ["shipping"]},
         lambda e: recorded[1] <= e["recordTime"] < recorded[-2]
         and e.get("bizStep") == CBV + "BizStep-shipping"),
        ({"GE_recordTime": [recorded[1]], "MATCH_anyEPCClass": [lot]},
         lambda e: recorded[1] <= e["recordTime"]
         and lot in classes(e, "quantityList", "inputQuantityList", "outputQuantityList")),
        ({"MATCH_anyEPCClass": [lot], "EQ_bizStep": ["receiving"], "EQ_action": ["OBSERVE"]},
         lambda e: lot in classes(e, "quantityList")
         and e.get("bizStep") == CBV + "BizStep-receiving" and e["action"] == "OBSERVE"),
        ({"MATCH_anyEPCClass": [f"{BASE}/l/NO-SUCH-LOT"]}, lambda e: False),
        ({"EQ_bizLocation": [f"{BASE}/loc/nowhere"]}, lambda e: False),
    ]


def test_every_parameter_returns_exactly_the_events_it_names(world: Any) -> None:
    ledger, everything = world
    for params, wanted in _cases(everything):
        expected = [e for e in everything if wanted(e)]
        found = every_page(ledger, {**params, "perPage": ["150"]})
        assert seqs(found) == seqs(expected), params
        assert found == expected, params
        if len(expected) not in (0, len(everything)):
            assert 0 < len(expected) < len(everything), params


def test_a_page_token_belongs_to_its_query_and_is_checked(world: Any) -> None:
    ledger, _ = world
    query = EventQuery.from_params({"EQ_bizStep": ["shipping"], "perPage": ["5"]})
    page = run_query(ledger, query, base=BASE)
    assert page.next_token is not None and len(page.events) == 5
    resumed = EventQuery.from_params({"EQ_bizStep": ["shipping"], "perPage": ["7"],
                                      "nextPageToken": [page.next_token]})
    assert resumed.after == page.events[-1]["tracelib:seq"]
    for bad in ("x", page.next_token + "A", "", "MTIzLjAwMDA"):
        with pytest.raises(QueryError) as caught:
            EventQuery.from_params({"EQ_bizStep": ["shipping"], "nextPageToken": [bad]})
        assert caught.value.param == "nextPageToken"
    with pytest.raises(QueryError) as caught:  # another query's token
        EventQuery.from_params({"EQ_bizStep": ["receiving"], "nextPageToken": [page.next_token]})
    assert caught.value.param == "nextPageToken"


def test_a_readers_filter_leaves_events_out_and_paging_stays_whole(world: Any) -> None:
    ledger, everything = world
    keep = lambda doc: doc["kind"] != "sale"  # noqa: E731
    query = EventQuery.from_params({"perPage": ["50"]})
    found: list[dict[str, Any]] = []
    while True:
        page = run_query(ledger, query, base=BASE, keep=keep, budget=120)
        found.extend(page.events)
        if page.next_token is None:
            break
        query = query.resume(page.next_token)
    assert seqs(found) == [e["tracelib:seq"] for e in everything if e["tracelib:kind"] != "sale"]


@pytest.mark.parametrize(("params", "param"), [
    ({"EQ_bizStep": ["flying"]}, "EQ_bizStep"),
    ({"EQ_disposition": ["lost"]}, "EQ_disposition"),
    ({"eventType": ["ObjectEvent,SomeEvent"]}, "eventType"),
    ({"EQ_action": ["ADDED"]}, "EQ_action"),
    ({"GE_eventTime": ["yesterday"]}, "GE_eventTime"),
    ({"LT_recordTime": ["2026-11-22T00:00:00"]}, "LT_recordTime"),
    ({"GE_eventTime": ["2026-11-22T00:00:00Z", "2026-11-23T00:00:00Z"]}, "GE_eventTime"),
    ({"GE_eventTime": ["2026-11-23T00:00:00Z"], "LT_eventTime": ["2026-11-22T00:00:00Z"]},
     "GE_eventTime"),
    ({"perPage": ["0"]}, "perPage"),
    ({"perPage": ["1001"]}, "perPage"),
    ({"perPage": ["ten"]}, "perPage"),
    ({"MATCH_anyEPCClass": ["not a uri"]}, "MATCH_anyEPCClass"),
    ({"EQ_bizLocation": [""]}, "EQ_bizLocation"),
    ({"colour": ["red"]}, "colour"),
    ({"MATCH_epc": ["urn:epc:id:sgtin:0614141.107346.2017"]}, "MATCH_epc"),
    ({"orderBy": ["eventTime"]}, "orderBy"),
])
def test_a_bad_parameter_is_refused_naming_it(params: dict[str, list[str]], param: str) -> None:
    with pytest.raises(QueryError) as caught:
        EventQuery.from_params(params)
    assert caught.value.param == param


def test_to_params_gives_the_same_query_back() -> None:
    params = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping,receiving"],
              "GE_eventTime": ["2026-11-22T00:00:00+08:00"], "EQ_action": ["OBSERVE"],
              "MATCH_anyEPCClass": [f"{BASE}/l/A"], "perPage": ["12"]}
    query = EventQuery.from_params(params)
    assert EventQuery.from_params(query.to_params()) == query
    assert query.to_params()["EQ_bizStep"] == [CBV + "BizStep-receiving",
                                               CBV + "BizStep-shipping"]


def test_events_are_found_by_their_hash_id_and_absent_ids_are_absent(world: Any) -> None:
    ledger, everything = world
    indexed, size = catch_up(ledger, BASE, restart=True)
    assert indexed == size == ledger.size
    for event in everything[::211]:
        found = find_event(ledger, BASE, event["eventID"])
        assert found.event == event and found.complete
        assert found.stored is not None and found.stored["id"] == event["tracelib:eventId"]
    missing = find_event(ledger, BASE, "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0")
    assert missing.event is None and missing.complete


def test_a_large_catch_up_refreshes_the_planner_statistics(
        world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a large fill the index's statistics are refreshed (PostgreSQL's ANALYZE): the
    seq lookups of a page then read the index, not the whole table."""
    ledger, _ = world
    eventids = importlib.import_module("tracelib.epcis.eventids")
    refreshed: list[str] = []
    real = eventids.EpcisSql.refresh_statistics
    monkeypatch.setattr(eventids.EpcisSql, "refresh_statistics", staticmethod(
        lambda conn: (refreshed.append(conn.dialect.name), real(conn))))
    monkeypatch.setattr(eventids, "_ANALYZE_FROM", 500)
    catch_up(ledger, BASE, budget=400, restart=True)
    assert refreshed == []  # a small step: left to the database
    catch_up(ledger, BASE)
    assert refreshed == [ledger.store.dialect]
    if ledger.store.dialect != "sqlite":
        with ledger.store.reader() as conn:
            analyzed = conn.execute(text(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'epcis_event_ids' "
                "AND schemaname = current_schema()")).scalar()
        assert analyzed


def test_the_id_index_catches_up_in_bounded_steps(world: Any) -> None:
    ledger, everything = world
    catch_up(ledger, BASE, budget=0, restart=True)
    early = find_event(ledger, BASE, everything[-1]["eventID"], budget=300)
    assert early.event is None and not early.complete and early.indexed == 300
    later = find_event(ledger, BASE, everything[-1]["eventID"], budget=ledger.size)
    assert later.event == everything[-1] and later.complete


def test_the_cli_queries_and_indexes(world: Any, tmp_path: Any) -> None:
    import json as _json

    from click.testing import CliRunner

    from tracelib_cli.main import cli

    ledger, everything = world
    if ledger.store.dialect != "sqlite":
        pytest.skip("the CLI runs against the SQLite ledger")
    url = str(ledger.store.url)
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", url, "epcis", "query", "--param", "EQ_bizStep=shipping",
                            "--param", "perPage=1000", "--json", "--base-url", BASE])
    assert r.exit_code == 0, r.output
    found = _json.loads(r.stdout)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert found == [e for e in everything if e.get("bizStep") == CBV + "BizStep-shipping"]
    r = runner.invoke(cli, ["--db", url, "epcis", "query", "--param", "EQ_bizStep=flying"])
    assert r.exit_code != 0 and "EQ_bizStep" in r.output
    r = runner.invoke(cli, ["--db", url, "epcis", "index", "--rebuild", "--base-url", BASE])
    assert r.exit_code == 0 and _json.loads(r.stdout) == {"indexed": ledger.size,
                                                         "size": ledger.size}


def test_queries_reuse_indexed_ids_only_while_master_data_is_unchanged(world: Any) -> None:
    """Last in this module: it registers a GLN for a location, which renames its events."""
    ledger, everything = world
    catch_up(ledger, BASE, restart=True)
    assert every_page(ledger, {"perPage": ["500"]}) == everything  # IDs read from the index
    sale = next(e for e in everything if e.get("bizStep") == CBV + "BizStep-retail_selling")
    location = sale["bizLocation"]["id"].rsplit("/", 1)[-1]
    with ledger.store.reader() as conn:
        loc = ledger.store.location(conn, location)
    assert loc is not None
    entry = {"id": loc.id, "name": loc.name, "type": loc.type, "holder": loc.holder,
             **loc.details, "gln": "6901234000016"}
    if loc.parent:
        entry["parent"] = loc.parent
    ledger.append([sign_event({"id": "register-gln-1", "kind": "register",
                               "time": "2026-12-01T08:00:00+08:00", "actor": ledger.operator,
                               "location": ledger.office,
                               "data": {"locations": [entry]}}, _KEYS[id(ledger)])])
    with ledger.store.reader() as conn:
        fresh = list(epcis_events(ledger, conn, names_for(ledger, conn, BASE)))
    renamed = [e for e in fresh
               if e["bizLocation"]["id"] == "https://id.gs1.org/414/6901234000016"]
    old_ids = {e["eventID"] for e in everything}
    assert renamed and not any(e["eventID"] in old_ids for e in renamed)
    assert every_page(ledger, {"perPage": ["500"]}) == fresh
    found = find_event(ledger, BASE, renamed[0]["eventID"], budget=ledger.size)
    assert found.event == renamed[0]  # the index started again: the new ID is found
