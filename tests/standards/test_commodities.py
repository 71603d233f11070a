"""The GB 2763 classification tree and its cascade chains."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tracelib.errors import NotFoundError, ValidationError
from tracelib.standards import Commodity, CommodityTree, parents, resolve

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" \
    / "pesticide-mrl-facts.csv"
REFERENCE_COMMODITIES = ("芹菜", "菠菜", "普通白菜", "韭菜", "豇豆", "辣椒", "姜", "香蕉", "青椒",
                         "奶油菜", "苹果", "柑", "茶叶", "小麦")


@pytest.mark.parametrize(("name", "chain"), [
    ("豇豆", ("豇豆", "荚可食类", "豆类蔬菜", "蔬菜")),
    ("豆角", ("豇豆", "荚可食类", "豆类蔬菜", "蔬菜")),
    ("cowpea", ("豇豆", "荚可食类", "豆类蔬菜", "蔬菜")),
    ("普通白菜", ("普通白菜", "绿叶类", "叶菜类", "蔬菜")),
    ("小白菜", ("普通白菜", "绿叶类", "叶菜类", "蔬菜")),
    ("Pak Choi", ("普通白菜", "绿叶类", "叶菜类", "蔬菜")),
    ("韭菜", ("韭菜", "绿叶葱类", "鳞茎类", "蔬菜")),
    ("芹菜", ("芹菜", "叶柄类", "叶菜类", "蔬菜")),
    ("柑", ("柑", "柑橘类", "水果")),
    ("香蕉", ("香蕉", "热带和亚热带水果", "水果")),
    ("猪肉", ("猪肉", "哺乳动物肉类", "畜禽肉类", "动物源性食品")),
    ("草鱼", ("草鱼", "鱼类", "水产品")),
    ("蔬菜", ("蔬菜",)),
    (" 西红柿 ", ("番茄", "番茄类", "茄果类", "蔬菜")),
])
def test_parents(name: str, chain: tuple[str, ...]) -> None:
    assert parents(name) == chain


def test_every_reference_commodity_resolves() -> None:
    names = set(REFERENCE_COMMODITIES)
    if REFERENCE.exists():  # the shared reference beside the repo, when present
        with REFERENCE.open(encoding="utf-8") as f:
            names |= {row["commodity_zh"] for row in csv.DictReader(f)}
    for name in names:
        assert parents(name)[-1] in ("蔬菜", "水果", "谷物", "饮料类"), name


@pytest.mark.parametrize("name", [
    "大白菜", "生菜", "菠菜", "空心菜", "西兰花", "包菜", "黄瓜", "茄子", "土豆", "胡萝卜", "莲藕",
    "四季豆", "毛豆", "苹果", "梨", "葡萄", "西瓜", "草莓", "橘子", "牛肉", "羊肉", "鸡肉", "鸭肉",
    "鸡蛋", "鲫鱼", "大黄鱼", "小龙虾", "大闸蟹", "牡蛎", "大米",
])
def test_common_market_items_resolve(name: str) -> None:
    assert resolve(name).name_zh in parents(name)


def test_unknown_commodity_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="unknown commodity"):
        parents("火星菜")


def test_tree_is_well_formed() -> None:
    tree = CommodityTree.starter()
    roots = {c.name_zh for c in tree if c.parent is None}
    assert roots == {"蔬菜", "食用菌", "水果", "谷物", "饮料类", "动物源性食品", "水产品"}
    for c in tree:
        assert parents(c.name_zh)[0] == c.name_zh
        assert parents(c.name_zh)[-1] in roots
        for n in c.names:
            if n:
                assert tree.resolve(n) == c
    assert "豇豆" in tree.children("荚可食类")


@pytest.mark.parametrize(("text", "line", "field"), [
    ("name_zh,name_en,parent_zh\n蔬菜,veg,\n豇豆,cowpea,豆类\n", 3, "parent_zh"),
    ("name_zh,name_en,parent_zh\n蔬菜,veg,\n蔬菜,veg,\n", 3, "name_zh"),
    ("name_zh,name_en,parent_zh\n蔬菜,veg,\n,x,蔬菜\n", 3, "name_zh"),
    ("name_zh,name_en,parent_zh,aliases\n蔬菜,veg,,\n豇豆,cowpea,蔬菜,veg\n", 3, "aliases"),
    ("name_zh,name_en,parent_zh\n甲,a,乙\n乙,b,甲\n", 2, "parent_zh"),
    ("name_zh,name_en\n蔬菜,veg\n", 1, "parent_zh"),
])
def test_bad_tree_csv_names_row_and_column(text: str, line: int, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        CommodityTree.from_csv(io.StringIO(text))
    assert err.value.line == line
    assert err.value.field == field


def test_custom_tree() -> None:
    tree = CommodityTree([Commodity("蔬菜", "vegetables"),
                          Commodity("鲜食菌", "fresh fungi", parent="蔬菜", aliases=("菌菇",))])
    assert parents("菌菇", tree) == ("鲜食菌", "蔬菜")
    assert "鲜食菌" not in CommodityTree.starter()
