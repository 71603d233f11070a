"""GB 2763 limits: cascade, bans, units, user tables, lab verdicts."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tracelib.errors import NotFoundError, ValidationError
from tracelib.standards import LimitsTable, judge_lab, to_mg_kg

DAY = date(2025, 6, 1)
HEADER = ("pesticide_zh,pesticide_en,commodity_zh,commodity_en,mrl_mg_kg,era,confidence,"
          "source,table_version,edition,lab_note\n")
# A user's table: a group limit on 豆类蔬菜 and 叶菜类, own rows for 豇豆 and 菠菜.
USER_CSV = HEADER + (
    "毒死蜱,chlorpyrifos,豇豆,cowpea,0.02,GB 2763-2026,official,GB 2763-2026,,GB 2763-2026,x\n"
    "毒死蜱,chlorpyrifos,豆类蔬菜,legume vegetables,0.05,GB 2763-2026,official,"
    "GB 2763-2026,,GB 2763-2026,\n"
    "毒死蜱,chlorpyrifos,叶菜类,leafy vegetables,0.1,GB 2763-2026,official,"
    "GB 2763-2026,,GB 2763-2026,\n"
    "毒死蜱,chlorpyrifos,菠菜,spinach,0.08,GB 2763-2026,official,GB 2763-2026,,"
    "GB 2763-2026,\n"
    "甲拌磷,phorate,蔬菜,vegetables,0.01,GB 2763-2026,official,GB 2763-2026,,GB 2763-2026,\n"
)


@pytest.fixture(scope="module")
def user_table() -> LimitsTable:
    return LimitsTable.from_csv(io.StringIO(USER_CSV), version="city-2026.03")


@pytest.mark.parametrize(("pesticide", "commodity", "limit", "path", "says"), [
    # member with its own row
    ("毒死蜱", "豇豆", "0.02", ("豇豆",), "has its own limit"),
    ("chlorpyrifos", "豆角", "0.02", ("豇豆",), "has its own limit"),
    # inherited from the nearest group
    ("毒死蜱", "菜豆", "0.05", ("菜豆", "荚可食类", "豆类蔬菜"), "applies the 豆类蔬菜 group"),
    ("毒死蜱", "菜用大豆", "0.05", ("菜用大豆", "荚不可食类", "豆类蔬菜"), "豆类蔬菜 group"),
    ("毒死蜱", "普通白菜", "0.1", ("普通白菜", "绿叶类", "叶菜类"), "applies the 叶菜类 group"),
    ("毒死蜱", "菠菜", "0.08", ("菠菜",), "has its own limit"),
    ("毒死蜱", "叶菜类", "0.1", ("叶菜类",), "has its own limit"),
    # no limit anywhere on the chain
    ("毒死蜱", "黄瓜", None, ("黄瓜", "瓜类", "蔬菜"), "no limit for 毒死蜱 on 黄瓜"),
    ("毒死蜱", "苹果", None, ("苹果", "仁果类", "水果"), "no limit"),
])
def test_cascade(user_table: LimitsTable, pesticide: str, commodity: str, limit: str | None,
                 path: tuple[str, ...], says: str) -> None:
    decision = user_table.lookup(pesticide, commodity, DAY)
    assert decision.limit_mg_kg == (None if limit is None else Decimal(limit))
    assert decision.path == path
    assert says in decision.explanation
    assert (decision.row is None) is (limit is None)
    if decision.row is not None:
        assert decision.row.commodity_zh == path[-1]


def test_group_explanation_names_row_and_provenance(user_table: LimitsTable) -> None:
    text = user_table.lookup("毒死蜱", "菜豆", DAY).explanation
    assert text.startswith("no limit for 菜豆; applies the 豆类蔬菜 group limit 0.05 mg/kg "
                           "from row 3 (GB 2763-2026, official)")


def test_starter_row_flags_old_edition() -> None:
    decision = LimitsTable.starter().lookup("chlorpyrifos", "芹菜", DAY)
    assert decision.limit_mg_kg == Decimal("0.05")
    assert decision.row is not None and decision.row.row == 2
    assert "GB 2763-2021" in decision.explanation
    assert "not confirmed against GB 2763-2026" in decision.explanation


def test_starter_keeps_every_reference_row() -> None:
    shipped = Path(__file__).resolve().parents[2] / "tracelib" / "standards" / "data" \
        / "pesticide_mrl.csv"
    with shipped.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    table = LimitsTable.starter()
    assert len(table.rows) == len(rows) == 23
    for row, limit in zip(rows, table.rows, strict=True):
        assert limit.mrl_mg_kg == Decimal(row["mrl_mg_kg"])
        assert limit.source == row["source"] and limit.era == row["era"]
        assert limit.confidence == row["confidence"] and limit.edition == row["edition"]
        assert limit.table_version == "starter-1"
        assert not limit.is_current


# Bans judge tests on or after their date only (each ban's notice: data/banned.csv).
@pytest.mark.parametrize(("analyte", "commodity", "on", "value", "verdict", "banned"), [
    ("甲拌磷", "韭菜", date(2024, 8, 31), "0.005", "pass", False),   # under limit 0.01
    ("甲拌磷", "韭菜", date(2024, 9, 1), "0.005", "fail", True),     # the day itself
    ("phorate", "豇豆", date(2025, 1, 1), "0.001", "fail", True),
    ("甲拌磷", "韭菜", date(2024, 8, 31), "0.02", "fail", False),    # over the limit
    ("甲拌磷", "韭菜", date(2024, 9, 1), "ND", "pass", True),
    ("甲拌磷", "韭菜", date(2024, 9, 1), "0", "pass", True),
    ("氧乐果", "芹菜", date(2026, 5, 31), "0.02", "pass", False),    # at the limit passes
    ("omethoate", "芹菜", date(2026, 6, 1), "0.0001", "fail", True),
    ("克百威", "辣椒", date(2026, 5, 31), "0.01", "pass", False),
    ("carbofuran", "辣椒", date(2026, 6, 1), "0.01", "fail", True),
    ("灭多威", "韭菜", date(2026, 5, 31), "0.01", "no_limit", False),
    ("灭多威", "韭菜", date(2026, 6, 1), "0.01", "fail", True),
    ("涕灭威", "韭菜", datetime(2026, 6, 1, 0, 30, tzinfo=timezone(timedelta(hours=8))),
     "0.01", "fail", True),
    ("clenbuterol", "猪肉", DAY, "0.1", "fail", True),
    ("莱克多巴胺", "猪肉", DAY, "未检出", "pass", True),
    ("沙丁胺醇", "羊肉", DAY, "0.05", "fail", True),
    ("孔雀石绿", "草鱼", DAY, "0.3", "fail", True),
])
def test_bans(analyte: str, commodity: str, on: date, value: str, verdict: str,
              banned: bool) -> None:
    result = judge_lab(analyte, commodity, value, "mg/kg", on, LimitsTable.starter())
    assert result.verdict == verdict
    assert result.banned is banned
    if banned:
        assert result.limit_mg_kg == 0
        assert "banned from" in result.explanation


def test_ban_before_date_says_ordinary_limit_applies() -> None:
    decision = LimitsTable.starter().lookup("甲拌磷", "韭菜", date(2024, 8, 31))
    assert decision.banned is None
    assert decision.limit_mg_kg == Decimal("0.01")
    assert "banned only from 2024-09-01" in decision.explanation
    after = LimitsTable.starter().lookup("甲拌磷", "韭菜", date(2024, 9, 1))
    assert after.banned is not None and after.banned.notice.startswith("农业农村部公告第536号")


@pytest.mark.parametrize(("value", "unit", "mg_kg"), [
    ("1", "μg/kg", "0.001"),            # U+03BC
    ("1", "µg/kg", "0.001"),            # U+00B5 MICRO SIGN
    ("1", "ug/kg", "0.001"),
    ("12.5", "μg/kg", "0.0125"),
    ("0.015", "mg/kg", "0.015"),
    ("0.015", " MG/KG ", "0.015"),
    ("15", "μg/kg", "0.015"),
    ("0.000001", "μg/kg", "0.000000001"),
    ("123456789012345678901234567.8", "μg/kg", "123456789012345678901234.5678"),
    (Decimal("500"), "μg/kg", "0.5"),
    (7, "mg/kg", "7"),
    ("ND", "mg/kg", "0"),
    ("未检出", "μg/kg", "0"),
])
def test_units_exact(value: object, unit: str, mg_kg: str) -> None:
    converted = to_mg_kg(value, unit)
    assert converted == Decimal(mg_kg)
    if isinstance(value, str) and value[0].isdigit() and unit.strip().lower() != "mg/kg":
        # and back: × 1000 restores the μg/kg figure exactly
        assert converted.scaleb(3) == Decimal(value)


@pytest.mark.parametrize(("value", "unit", "verdict"), [
    ("15", "μg/kg", "pass"),          # 0.015 = limit of 甲氨基阿维菌素苯甲酸盐 on 豇豆
    ("0.015", "mg/kg", "pass"),
    ("15.001", "µg/kg", "fail"),
    ("0.0150001", "mg/kg", "fail"),
])
def test_ug_and_mg_judge_alike(value: str, unit: str, verdict: str) -> None:
    result = judge_lab("emamectin benzoate", "豇豆", value, unit, DAY)
    assert result.verdict == verdict
    assert result.limit_mg_kg == Decimal("0.015")
    assert result.table_version == "starter-1"


@pytest.mark.parametrize(("args", "field"), [
    (("草甘膦", "苹果", "0.1", None), "unit"),
    (("草甘膦", "苹果", "0.1", ""), "unit"),
    (("草甘膦", "苹果", "0.1", "ppm"), "unit"),
    (("草甘膦", "苹果", "0.1", "ng/g"), "unit"),
    (("草甘膦", "苹果", "-0.1", "mg/kg"), "value"),
    (("草甘膦", "苹果", "abc", "mg/kg"), "value"),
    (("草甘膦", "苹果", 0.1, "mg/kg"), "value"),
    (("草甘膦", "苹果", None, "mg/kg"), "value"),
    (("草甘膦", "火星菜", "0.1", "mg/kg"), "commodity"),
    (("草甘膦", "", "0.1", "mg/kg"), "commodity"),
    (("敌敌畏ZZ", "苹果", "0.1", "mg/kg"), "analyte"),
    (("unobtainium", "苹果", "0.1", "mg/kg"), "analyte"),
])
def test_judge_lab_names_bad_field(args: tuple[object, ...], field: str) -> None:
    analyte, commodity, value, unit = args
    assert isinstance(analyte, str) and isinstance(commodity, str)
    with pytest.raises(ValidationError) as err:
        judge_lab(analyte, commodity, value, unit, DAY)
    assert err.value.field == field


def test_lookup_unknowns_are_not_found() -> None:
    table = LimitsTable.starter()
    with pytest.raises(NotFoundError):
        table.lookup("unobtainium", "苹果", DAY)
    with pytest.raises(NotFoundError):
        table.lookup("草甘膦", "火星菜", DAY)


def test_user_csv_is_a_new_version(user_table: LimitsTable, tmp_path: Path) -> None:
    path = tmp_path / "gb2763-2026.csv"
    path.write_text("\ufeff" + USER_CSV, encoding="utf-8")   # a BOM, as Excel writes
    table = LimitsTable.from_csv(path, version="city-2026.03")
    assert table.version == "city-2026.03"
    starter = LimitsTable.starter()
    # 毒死蜱 on 菜豆: no limit in the starter, the group limit in the user's table.
    assert starter.lookup("毒死蜱", "菜豆", DAY).limit_mg_kg is None
    verdict = judge_lab("毒死蜱", "菜豆", "60", "μg/kg", DAY, table)
    assert verdict.verdict == "fail"
    assert verdict.limit_mg_kg == Decimal("0.05")
    assert verdict.table_version == "city-2026.03"
    assert "豆类蔬菜 group limit" in verdict.explanation
    # 毒死蜱 on 芹菜: 0.05 in the starter, 0.1 via 叶菜类 in the user's table.
    assert judge_lab("毒死蜱", "芹菜", "0.08", "mg/kg", DAY).verdict == "fail"
    assert judge_lab("毒死蜱", "芹菜", "0.08", "mg/kg", DAY, table).verdict == "pass"
    # Bans still apply to a user table (shipped ban list by default).
    assert judge_lab("甲拌磷", "菜豆", "0.001", "mg/kg", DAY, table).verdict == "fail"
    assert judge_lab("甲拌磷", "菜豆", "0.001", "mg/kg", date(2024, 1, 1), table).verdict \
        == "pass"


@pytest.mark.parametrize(("body", "line", "field"), [
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,abc\n", 2, "mrl_mg_kg"),
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,0.1\n毒死蜱,chlorpyrifos,菜豆,bean,-0.1\n", 3, "mrl_mg_kg"),
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,\n", 2, "mrl_mg_kg"),
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,NaN\n", 2, "mrl_mg_kg"),
    ("毒死蜱,chlorpyrifos,火星菜,mars veg,0.1\n", 2, "commodity_zh"),
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,0.1\n毒死蜱,chlorpyrifos,豆角,cowpea,0.2\n", 3,
     "commodity_zh"),                                      # same commodity via an alias
    (",chlorpyrifos,豇豆,cowpea,0.1\n", 2, "pesticide_zh"),
    ("毒死蜱,chlorpyrifos,,cowpea,0.1\n", 2, "commodity_zh"),
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,0.1\n乐果,chlorpyrifos,豇豆,cowpea,0.1\n", 3,
     "pesticide_en"),                                      # one English name, two pesticides
    ("毒死蜱,chlorpyrifos,豇豆,cowpea,0.1,extra,cells\n", 2, None),
])
def test_bad_rows_rejected_with_row_numbers(body: str, line: int, field: str | None) -> None:
    text = "pesticide_zh,pesticide_en,commodity_zh,commodity_en,mrl_mg_kg\n" + body
    with pytest.raises(ValidationError) as err:
        LimitsTable.from_csv(io.StringIO(text), version="bad")
    assert err.value.line == line
    assert err.value.field == field
    assert f"line {line}" in str(err.value)


@pytest.mark.parametrize(("text", "field"), [
    ("", None),
    ("pesticide_zh,commodity_zh\n毒死蜱,豇豆\n", "mrl_mg_kg"),
])
def test_bad_header_rejected(text: str, field: str | None) -> None:
    with pytest.raises(ValidationError) as err:
        LimitsTable.from_csv(io.StringIO(text), version="bad")
    assert err.value.line == 1
    assert err.value.field == field


def test_extra_columns_and_minimal_columns_tolerated() -> None:
    text = "note,commodity_zh,mrl_mg_kg,pesticide_zh\nhello,韭菜,0.2,腐霉利\n"
    table = LimitsTable.from_csv(io.StringIO(text), version="mini")
    decision = table.lookup("腐霉利", "韭菜", DAY)
    assert decision.limit_mg_kg == Decimal("0.2")
    assert decision.row is not None and decision.row.table_version == "mini"
    assert "edition unknown" in decision.explanation


def test_version_is_required() -> None:
    with pytest.raises(ValidationError) as err:
        LimitsTable.from_csv(io.StringIO(USER_CSV), version=" ")
    assert err.value.field == "version"


def test_verdict_to_dict_is_decimal_strings() -> None:
    verdict = judge_lab("草甘膦", "茶叶", "1000", "μg/kg", DAY)
    assert verdict.to_dict() == {
        "value_mg_kg": "1.000", "limit_mg_kg": "1", "verdict": "pass", "banned": False,
        "table_version": "starter-1", "explanation": verdict.explanation}
