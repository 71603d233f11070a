"""Numbers out of range — huge, negative, fractional, NaN-like, written in another script —
in any query parameter or body field of the API get 400 (422 for an event's own decimal
fields) naming the field, never 500. The query parameters are walked from the OpenAPI
document, which declares every integer's bounds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import REGULATOR, STALL, Scene
from tracelib_service.openapi import openapi_document
from tracelib_service.tokens import issue_token

OUT_OF_RANGE = ["9223372036854775808", "-9223372036854775809", "9" * 5000, "-1", "0",
                "1.5", "1e3", "NaN", "nan", "inf", "Infinity", "-0", "+1", " 1", "1 ", "１",
                "0x10", "", "1_000"]


def _integer_params() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, operation, parameter) for every integer parameter of every operation."""
    found = []
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method == "servers":  # the EPCIS binding's paths name their own server
                continue
            for param in operation.get("parameters", []):
                if param.get("schema", {}).get("type") == "integer":
                    found.append((path, operation, param))
    return found


INTEGERS = _integer_params()


def _url(path: str, operation: dict[str, Any], param: dict[str, Any], value: str) -> str:
    args: dict[str, str] = {}
    url = "/api/v1" + path
    for other in operation["parameters"]:
        if other["in"] == "path":
            url = url.replace("{" + other["name"] + "}",
                              value if other is param else str(other["example"]))
        elif other["in"] == "query" and (other is param or other["required"]):
            args[other["name"]] = value if other is param else str(other["example"])
    if args:
        from urllib.parse import urlencode

        url += "?" + urlencode(args)
    return url


def test_the_document_declares_every_integer_bound() -> None:
    assert {(path, p["name"]) for path, _, p in INTEGERS} == {
        ("/proofs/inclusion/{seq}", "seq"), ("/proofs/inclusion/{seq}", "size"),
        ("/proofs/consistency", "first"), ("/proofs/consistency", "second"),
        ("/reports/kpi", "year"), ("/reports/kpi", "population"),
        ("/drills/{seq}/report.zip", "seq"), ("/drills/{seq}/path.svg", "seq")}
    for path, _, param in INTEGERS:
        schema = param["schema"]
        assert isinstance(schema.get("minimum"), int), (path, param["name"])
        assert isinstance(schema.get("maximum"), int), (path, param["name"])


@pytest.mark.parametrize(("path", "operation", "param"), INTEGERS,
                         ids=[f"{p}:{q['name']}" for p, _, q in INTEGERS])
def test_integer_parameters_out_of_range(client: FlaskClient, regulators: dict[str, str],
                                         path: str, operation: dict[str, Any],
                                         param: dict[str, Any]) -> None:
    if "security" in operation:  # the regulator's endpoints: asked with a regulator's token
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {regulators[REGULATOR]}"
    schema = param["schema"]
    values = [*OUT_OF_RANGE, str(schema["maximum"] + 1), str(schema["minimum"] - 1)]
    for value in values:
        if value.isascii() and value.isdigit() and len(value) < 20 and \
                schema["minimum"] <= int(value) <= schema["maximum"]:
            continue  # in range for this parameter (a record number may be 0)
        r = client.get(_url(path, operation, param, value))
        if param["in"] == "query":
            assert r.status_code == 400, (value[:30], r.json)
            assert r.mimetype == "application/problem+json"
            assert r.json["field"] == param["name"], (value[:30], r.json)
            assert param["name"] in r.json["detail"]
        else:  # a path that names no record: not found, never a server error
            assert r.status_code in (400, 404), (value[:30], r.status_code)
    ok = client.get(_url(path, operation, param, str(param["example"])))
    assert ok.status_code in (200, 404), ok.json  # in range: the question is answered


@pytest.mark.parametrize(("body", "field"), [
    ([{"id": "x", "inputs": [{"qty": 1.5}]}], "events[0].inputs[0].qty"),
    ({"events": [{"id": "x"}, {"data": {"n": 9007199254740992}}]}, "events[1].data.n"),
    ('[{"id": "x", "data": {"t": NaN}}]', "events[0].data.t"),
    ('[{"id": "x", "data": {"t": -Infinity}}]', "events[0].data.t"),
    ('[{"id": "x", "data": {"t": 1e400}}]', "events[0].data.t"),
    ('{"events": [{"time": -9223372036854775809}]}', "events[0].time"),
    ("[" + "9" * 5000 + "]", "events[0]"),
])
def test_numbers_the_strict_parser_refuses_are_400_naming_the_field(
        app: Flask, client: FlaskClient, body: Any, field: str) -> None:
    token = issue_token(app, STALL)
    data = body if isinstance(body, str) else json.dumps(body)
    r = client.post("/api/v1/events", data=data, content_type="application/json",
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400, r.json
    assert r.json["field"] == field, r.json


_SALE = {"kind": "sale", "time": "2026-11-22T09:00:00+08:00", "location": STALL,
         "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}], "data": {"receipt": "R"}}
_SHIP = {"kind": "ship", "time": "2026-11-22T09:00:00+08:00", "location": STALL,
         "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}],
         "data": {"to": "coldstore-1",
                  "temperatures": [{"time": "2026-11-22T09:00:00+08:00", "celsius": "3"}]}}
_RAPID = {"kind": "rapid_test", "time": "2026-11-22T09:00:00+08:00", "location": STALL,
          "data": {"sample": "豇豆", "item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003",
                   "tester": "李检测", "commodity": "豇豆", "lot": "LOT-CP-0001",
                   "readings": {"delta_a0": "0.800", "delta_at": "0.700"}}}
_LAB = {"kind": "lab_test", "time": "2026-11-20T15:00:00+08:00", "location": STALL,
        "data": {"analyte": "毒死蜱", "commodity": "芹菜", "value": "0.01", "unit": "mg/kg",
                 "lab": "云阳县食品检验所", "report_no": "YY-2026-001"}}
# Refused everywhere: not a finite decimal, too long, empty. (Full-width digits are read as
# digits in measured values, NFKC, as Chinese input methods type them; never in quantities.)
_NOT_DECIMAL = ["NaN", "sNaN", "-Infinity", "1e999999999", "1E-999999999", "9" * 60, "0x10",
                ""]
DECIMALS = [(STALL, _SALE, ("inputs", 0, "qty"), "inputs[0].qty",
             [*_NOT_DECIMAL, "9223372036854775808", "-1", "0", "1.0000001", "１"]),
            (STALL, _SHIP, ("data", "temperatures", 0, "celsius"),
             "data.temperatures[0].celsius", [*_NOT_DECIMAL, "9223372036854775808", "1.001"]),
            ("market-1", _RAPID, ("data", "readings", "delta_a0"), "data.readings.delta_a0",
             [*_NOT_DECIMAL, "-1"]),
            ("market-1", _LAB, ("data", "value"), "data.value", [*_NOT_DECIMAL, "-1"])]


@pytest.mark.parametrize(("actor", "base", "where", "field", "values"), DECIMALS,
                         ids=[d[3] for d in DECIMALS])
def test_decimal_fields_out_of_range_are_refused_naming_the_field(
        app: Flask, client: FlaskClient, scene: Scene, actor: str, base: dict[str, Any],
        where: tuple[Any, ...], field: str, values: list[str]) -> None:
    token = issue_token(app, actor)
    size = scene.ledger.size
    for i, value in enumerate(values):
        doc = json.loads(json.dumps(base))
        target = doc
        for step in where[:-1]:
            target = target[step]
        target[where[-1]] = value
        doc.update(id=f"n-{i}", actor=actor)
        signed = scene.net.event(actor, doc)
        r = client.post("/api/v1/events", data=json.dumps([signed]),
                        content_type="application/json",
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (400, 422), (value[:30], r.status_code, r.json)
        assert r.json["field"] == field, (value[:30], r.json)
    assert scene.ledger.size == size
