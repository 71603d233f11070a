"""Rapid tests: enzyme inhibition (GB/T 5009.199-2003) and strips."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracelib.errors import ValidationError
from tracelib.standards import (
    ITEMS,
    EnzymeCriteria,
    classify_rate,
    enzyme_inhibition,
    false_positive_prone,
    item,
    judge_rapid,
    method,
)

SEVERITY = {"negative": 0, "suspect": 1, "positive": 2}
ENZYME = "有机磷和氨基甲酸酯类农药"
GB = "GB/T 5009.199-2003"


# GB/T 5009.199-2003: ≥ 50 % positive; 40 % to under 50 % suspect; under 40 % negative.
@pytest.mark.parametrize(("a0", "at", "rate", "result"), [
    ("1.0000", "0.5001", "49.99", "suspect"),
    ("1.0000", "0.5000", "50.00", "positive"),
    ("1.0000", "0.4999", "50.01", "positive"),
    ("1.0000", "0.6001", "39.99", "negative"),
    ("1.0000", "0.6000", "40.00", "suspect"),
    ("1.0000", "0.5999", "40.01", "suspect"),
    ("0.7", "0.35", "50.00", "positive"),          # exactly 50 with another ΔA₀
    ("0.6", "0.3", "50.00", "positive"),
    ("1", "0.50001", "49.99", "suspect"),          # 49.999: half-up would show 50.00
    ("1", "0.60001", "39.99", "negative"),         # 39.999
    ("0.3", "0.1", "66.66", "positive"),           # 66.666… rounded down
    ("0.300", "0.000", "100.00", "positive"),
    ("0.5", "0.5", "0.00", "negative"),
    ("1.0", "1.1", "-10.00", "negative"),          # at the tolerance: still a reading
    (Decimal("0.9"), Decimal("0.45"), "50.00", "positive"),
])
def test_enzyme_boundaries(a0: object, at: object, rate: str, result: str) -> None:
    judged = enzyme_inhibition(a0, at)
    assert judged.rate == Decimal(rate)
    assert str(judged.rate) == rate
    assert judged.result == result
    assert classify_rate(judged.rate) == judged.result


@pytest.mark.parametrize(("rate", "result"), [
    ("49.99", "suspect"), ("50.00", "positive"), ("50", "positive"), ("39.99", "negative"),
    ("40.00", "suspect"), ("0", "negative"), ("100", "positive"), ("-5", "negative"),
])
def test_classify_rate(rate: str, result: str) -> None:
    assert classify_rate(Decimal(rate)) == result


@pytest.mark.parametrize(("a0", "at", "field", "fragment"), [
    (None, "0.5", "readings.delta_a0", "missing"),
    ("", "0.5", "readings.delta_a0", "missing"),
    ("1.0", None, "readings.delta_at", "missing"),
    ("abc", "0.5", "readings.delta_a0", "not a decimal"),
    ("1.0", "0,5", "readings.delta_at", "not a decimal"),
    ("NaN", "0.5", "readings.delta_a0", "finite"),
    ("1.0", "Infinity", "readings.delta_at", "finite"),
    (1.0, "0.5", "readings.delta_a0", "float"),
    ("-0.5", "0.1", "readings.delta_a0", "negative"),
    ("1.0", "-0.1", "readings.delta_at", "negative"),
    ("0.29", "0.1", "readings.delta_a0", "below 0.3"),     # implausible control
    ("0", "0", "readings.delta_a0", "below 0.3"),
    ("1.0", "1.1001", "readings.delta_at", "exceeds"),     # rate −10.01 %: bad reading
    ("0.5", "2", "readings.delta_at", "exceeds"),
    ("1E+99", "0.5", "readings.delta_a0", "out of range"),
])
def test_enzyme_rejects_bad_readings(a0: object, at: object, field: str,
                                     fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        enzyme_inhibition(a0, at)
    assert err.value.field == field
    assert fragment in err.value.message


def test_criteria_are_configurable() -> None:
    lenient = EnzymeCriteria(min_delta_a0=Decimal("0.1"))
    assert enzyme_inhibition("0.2", "0.1", criteria=lenient).result == "positive"
    strict = EnzymeCriteria(max_delta_a0=Decimal("0.8"))
    with pytest.raises(ValidationError) as err:
        enzyme_inhibition("0.9", "0.1", criteria=strict)
    assert err.value.field == "readings.delta_a0"
    with pytest.raises(ValidationError):
        EnzymeCriteria(min_delta_a0=Decimal("0"))


@pytest.mark.parametrize(("commodity", "prone"), [
    ("韭菜", True), ("大葱", True), ("香菜", True), ("芫荽", True), ("西红柿", True),
    ("樱桃番茄", True), ("香菇", True), ("蘑菇", True), ("白萝卜", True), ("茭白", True),
    ("蒜", True), ("芹菜", True),
    ("普通白菜", False), ("豇豆", False), ("胡萝卜", False), ("苹果", False),
    ("not a vegetable", False), (None, False),
])
def test_false_positive_prone(commodity: str | None, prone: bool) -> None:
    assert false_positive_prone(commodity) is prone
    assert enzyme_inhibition("1", "0.8", commodity=commodity).false_positive_prone is prone


@given(a0=st.decimals(min_value=Decimal("0.3"), max_value=Decimal("3"), places=4),
       x=st.decimals(min_value=Decimal("0"), max_value=Decimal("1.1"), places=4),
       y=st.decimals(min_value=Decimal("0"), max_value=Decimal("1.1"), places=4))
def test_classification_is_monotone_in_delta_at(a0: Decimal, x: Decimal, y: Decimal) -> None:
    """More residual enzyme activity (larger ΔAₜ) never gives a more severe result."""
    low, high = sorted((a0 * x, a0 * y))
    first, second = enzyme_inhibition(a0, low), enzyme_inhibition(a0, high)
    assert first.rate >= second.rate
    assert SEVERITY[first.result] >= SEVERITY[second.result]
    for judged in (first, second):
        assert classify_rate(judged.rate) == judged.result


@given(a0=st.decimals(min_value=Decimal("0.3"), max_value=Decimal("3"), places=4),
       at=st.decimals(min_value=Decimal("0"), max_value=Decimal("3.3"), places=5))
def test_rate_is_the_exact_rate_rounded_down(a0: Decimal, at: Decimal) -> None:
    """The rate is (ΔA₀ − ΔAₜ) / ΔA₀ × 100 computed in exact fractions and floored to
    0.01, with two decimals; readings with more than 10 % excess activity are refused."""
    exact = (Fraction(a0) - Fraction(at)) / Fraction(a0) * 100
    if exact < -10:
        with pytest.raises(ValidationError) as raised:
            enzyme_inhibition(a0, at)
        assert raised.value.field == "readings.delta_at"
        return
    judged = enzyme_inhibition(a0, at)
    assert Fraction(judged.rate) == Fraction(math.floor(exact * 100), 100)
    assert judged.rate.as_tuple().exponent == -2
    want = "positive" if exact >= 50 else "suspect" if exact >= 40 else "negative"
    assert judged.result == want == classify_rate(judged.rate)


@pytest.mark.parametrize(("name", "code"), [
    ("有机磷和氨基甲酸酯类农药", "op-carbamate"), ("农残", "op-carbamate"),
    ("clenbuterol", "clenbuterol"), ("克伦特罗", "clenbuterol"), ("克仑特罗", "clenbuterol"),
    ("莱克多巴胺", "ractopamine"), ("沙丁胺醇", "salbutamol"),
    ("孔雀石绿", "malachite-green"), ("Malachite green", "malachite-green"),
    ("malachite_green", "malachite-green"), ("甲醛", "formaldehyde"),
    ("二氧化硫", "sulfur-dioxide"), ("吊白块", "rongalite"), ("亚硝酸盐", "nitrite"),
])
def test_item_lookup(name: str, code: str) -> None:
    assert item(name).code == code


def test_registry_shape() -> None:
    must_not = {i.code for i in ITEMS.values() if i.must_not_detect}
    assert {"clenbuterol", "ractopamine", "salbutamol", "malachite-green"} <= must_not
    assert {"formaldehyde", "sulfur-dioxide", "nitrite"}.isdisjoint(must_not)
    assert item(ENZYME).kind == "enzyme"
    assert item(ENZYME).methods == ("GB/T 5009.199-2003", "NY/T 448-2001")
    assert all(i.kind == "strip" for i in ITEMS.values() if i.code != "op-carbamate")


@pytest.mark.parametrize("spelling", [
    "GB/T 5009.199-2003", "GB/T 5009.199—2003", "gb/t5009.199-2003", "GB/T 5009.199",
])
def test_method_spellings(spelling: str) -> None:
    assert method(spelling).code == GB


@pytest.mark.parametrize(("call", "field"), [
    (lambda: item("瘦肉精大礼包"), "item"),
    (lambda: item(""), "item"),
    (lambda: judge_rapid("苏丹红", GB, claimed_result="negative"), "item"),
    (lambda: method("KJ 999999"), "method"),
    (lambda: judge_rapid(ENZYME, "GB 9999-2099", {"delta_a0": "1", "delta_at": "1"}), "method"),
    # a method that exists but is not valid for the item
    (lambda: judge_rapid("clenbuterol", GB, claimed_result="negative"), "method"),
    (lambda: judge_rapid(ENZYME, "colloidal-gold", {"delta_a0": "1", "delta_at": "1"}),
     "method"),
])
def test_unknown_item_or_method_names_field(call: object, field: str) -> None:
    assert callable(call)
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.field == field


@pytest.mark.parametrize(("readings", "claimed", "result", "rate"), [
    ({"delta_a0": "1.0000", "delta_at": "0.5000"}, None, "positive", "50.00"),
    ({"delta_a0": "1.0000", "delta_at": "0.5000"}, "positive", "positive", "50.00"),
    ({"delta_a0": "1.0000", "delta_at": "0.5001"}, "可疑", "suspect", "49.99"),
    ({"delta_a0": "1.0000", "delta_at": "0.9"}, "阴性", "negative", "10.00"),
    (None, "positive", "positive", None),                     # test card, no readings
])
def test_judge_rapid_enzyme(readings: dict[str, str] | None, claimed: str | None,
                            result: str, rate: str | None) -> None:
    verdict = judge_rapid(ENZYME, GB, readings, claimed)
    assert verdict.result == result
    assert verdict.rate == (None if rate is None else Decimal(rate))
    assert verdict.method == GB
    assert verdict.reasons


@pytest.mark.parametrize(("readings", "claimed"), [
    ({"delta_a0": "1.0000", "delta_at": "0.5000"}, "negative"),   # 50.00 is positive
    ({"delta_a0": "1.0000", "delta_at": "0.5001"}, "positive"),   # 49.99 is suspect
    ({"delta_a0": "1.0000", "delta_at": "0.5001"}, "negative"),
    ({"delta_a0": "1.0000", "delta_at": "0.6001"}, "suspect"),    # 39.99 is negative
    ({"delta_a0": "1.0000", "delta_at": "0.9"}, "阳性"),
])
def test_contradictory_claim_rejected(readings: dict[str, str], claimed: str) -> None:
    with pytest.raises(ValidationError) as err:
        judge_rapid(ENZYME, GB, readings, claimed)
    assert err.value.field == "result"
    assert "contradicts" in err.value.message


@pytest.mark.parametrize(("name", "readings", "claimed", "field"), [
    ("clenbuterol", None, None, "result"),                  # strips need a result
    ("clenbuterol", None, "suspect", "result"),             # strips have no suspect
    ("clenbuterol", None, "maybe", "result"),
    ("clenbuterol", {"delta_a0": "1", "delta_at": "1"}, "negative", "readings"),
    (ENZYME, None, None, "readings"),                       # enzyme needs something
    (ENZYME, None, "suspect", "result"),                    # a card cannot read suspect
    (ENZYME, {"delta_a0": "0.1", "delta_at": "0.05"}, None, "readings.delta_a0"),
    (ENZYME, {"delta_a0": "1"}, None, "readings.delta_at"),
])
def test_judge_rapid_rejects(name: str, readings: dict[str, str] | None,
                             claimed: str | None, field: str) -> None:
    test_method = GB if name == ENZYME else "colloidal-gold"
    with pytest.raises(ValidationError) as err:
        judge_rapid(name, test_method, readings, claimed)
    assert err.value.field == field


@pytest.mark.parametrize(("name", "test_method", "claimed", "must_not"), [
    ("克伦特罗", "胶体金", "阳性", True),
    ("ractopamine", "colloidal-gold", "positive", True),
    ("孔雀石绿", "colloidal-gold", "positive", True),
    ("甲醛", "colorimetric", "positive", False),
    ("亚硝酸盐", "比色法", "negative", False),
])
def test_strips(name: str, test_method: str, claimed: str, must_not: bool) -> None:
    verdict = judge_rapid(name, test_method, claimed_result=claimed)
    assert verdict.rate is None
    assert verdict.result in ("negative", "positive")
    assert verdict.item.must_not_detect is must_not
    said_must_not = any("must not be detected" in r for r in verdict.reasons)
    assert said_must_not is (must_not and verdict.result == "positive")


def test_false_positive_warning_in_verdict() -> None:
    verdict = judge_rapid(ENZYME, "NY/T 448-2001", {"delta_a0": "0.8", "delta_at": "0.3"},
                          commodity="韭菜")
    assert verdict.result == "positive"
    assert verdict.false_positive_prone
    assert any("false positives" in r for r in verdict.reasons)
    assert verdict.to_dict()["rate"] == "62.50"
    clean = judge_rapid(ENZYME, GB, {"delta_a0": "0.8", "delta_at": "0.3"}, commodity="菠菜")
    assert not clean.false_positive_prone
