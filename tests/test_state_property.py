"""Property: on a generated network (tracelib_demo, with its ground truth), any change to any
row of any derived table — Hypothesis picks the table, the row, the column, and whether to
delete the row — makes ``verify`` fail naming that table; ``reindex`` then restores a ledger
that verifies and whose traces equal the network's ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from tests.test_generated_traces import assert_trace_is_the_truth
from tracelib.ledger import Ledger
from tracelib.replay import META_DERIVED, derived_tables
from tracelib.store.schema import meta
from tracelib_demo import NetworkSpec, generate

SPEC = NetworkSpec(seed=5, events=700, farms=4, markets=1, stalls_per_market=6, days=2)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, int]]:
    """The generated ledger's file, the network (ground truth), and each derived table's
    row count (the tables Hypothesis may pick: those with rows)."""
    path = tmp_path_factory.mktemp("prop") / "ledger.db"
    net = generate(SPEC)
    ledger = Ledger.create(f"sqlite:///{path}", operator_key=net.operator_key,
                           operator=SPEC.operator, now=net.end)
    ledger.append(net.events(), now=net.end)
    assert ledger.verify(workers=1).ok
    ledger.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        counts = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                  for t in derived_tables()}
    engine.dispose()
    return path, net, {name: n for name, n in counts.items() if n}


def _changed(value: Any) -> Any:
    """A value of the same type that differs from ``value``."""
    if value is None:
        return 1
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:] if value else b"\x00"
    return f"{value}x"


def _traces_equal_the_ground_truth(ledger: Ledger, net: Any) -> None:
    for lot in net.truth.lots():
        assert_trace_is_the_truth(ledger, net, lot)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(data=st.data())
def test_any_change_to_a_derived_row_fails_verify_and_reindex_restores_the_truth(
        generated: tuple[Path, Any, dict[str, int]], tmp_path_factory: pytest.TempPathFactory,
        data: st.DataObject) -> None:
    source, net, counts = generated
    tables = {t.name: t for t in derived_tables()}
    name = data.draw(st.sampled_from(sorted(counts)), label="table")
    table = tables[name]
    path = tmp_path_factory.mktemp("case") / "ledger.db"
    shutil.copyfile(source, path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        query = select(table)
        if name == "meta":  # its other rows are the ledger's settings (docs/integrity.md)
            query = query.where(meta.c.name.in_(META_DERIVED))
        rows = [dict(r) for r in conn.execute(query.order_by(*table.primary_key.columns))
                .mappings()]
        row = data.draw(st.sampled_from(rows), label="row")
        where = [table.c[c.name] == row[c.name] for c in table.primary_key.columns]
        if data.draw(st.booleans(), label="delete the row"):
            conn.execute(delete(table).where(*where))
        else:
            column = data.draw(st.sampled_from([c.name for c in table.columns]), label="column")
            try:
                with conn.begin_nested():
                    conn.execute(update(table).where(*where)
                                 .values({column: _changed(row[column])}))
            except SqlIntegrityError:  # a key that another row already has: delete instead
                conn.execute(delete(table).where(*where))
    engine.dispose()
    with Ledger.open(f"sqlite:///{path}") as ledger:
        report = ledger.verify(workers=1)
        assert not report.ok
        assert report.table == name, report.problem
        ledger.reindex()
        repaired = ledger.verify(workers=1)
        assert repaired.ok, repaired.problem
        _traces_equal_the_ground_truth(ledger, net)
