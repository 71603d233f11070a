"""Chinese vocabulary of the demo network: a Chongqing county (云阳县) and its food trade.

Product names follow GB 2763 附录A where it has one (普通白菜, not 小白菜), so the
standards module finds their limits. Place names are real towns of 云阳县; every
party, plant, person and number made from them is invented.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ABATTOIR_COMPANY",
    "ABATTOIR_NAME",
    "BASES",
    "CARRIER_NAME",
    "COLDSTORE_NAME",
    "COMMITMENTS",
    "COMMITMENT_EXTRA",
    "COUNTY",
    "COUNTY_CODE",
    "EGGS",
    "EXPORTERS",
    "FARM_SUFFIXES",
    "FRUITS",
    "GIVEN_NAMES",
    "HOLD_REASONS",
    "HOLD_REASONS_BY_CATEGORY",
    "IMPORTED_PORK",
    "IMPORTER_NAME",
    "IMPORT_CARRIER_NAME",
    "IMPORT_COLDSTORE_NAME",
    "IMPORT_CUTS",
    "MARKET_NAMES",
    "MARKET_TOWNS",
    "PIGS",
    "PLATE_CHARS",
    "PLATE_LETTERS",
    "PORK",
    "PORK_PARTS",
    "PORT_ADDRESS",
    "PORT_NAME",
    "PRODUCTS",
    "RELEASE_REASONS",
    "SECTIONS",
    "SURNAMES",
    "TOWNS",
    "VEGETABLES",
    "VILLAGES",
    "WHOLESALER_NAME",
    "WHOLESALE_NAME",
    "Product",
    "Section",
]

COUNTY = "重庆市云阳县"
COUNTY_CODE = "500235"


@dataclass(frozen=True)
class Product:
    """A product as it appears on certificates and scan pages.

    ``code`` starts lot codes; ``storage`` is the cold-chain class of its lots
    (``chilled`` ≤ 4 °C, ``frozen`` ≤ −18 °C, ``ambient``).
    """

    name: str
    code: str
    category: str  # veg, fruit, egg, pig, pork, frozen
    storage: str
    unit: str = "kg"


VEGETABLES: tuple[Product, ...] = (
    Product("豇豆", "JD", "veg", "chilled"),
    Product("芹菜", "QC", "veg", "chilled"),
    Product("韭菜", "JC", "veg", "chilled"),
    Product("普通白菜", "BC", "veg", "chilled"),
    Product("番茄", "FQ", "veg", "chilled"),
    Product("黄瓜", "HG", "veg", "chilled"),
    Product("辣椒", "LJ", "veg", "chilled"),
    Product("茄子", "QZ", "veg", "chilled"),
    Product("结球甘蓝", "GL", "veg", "chilled"),
    Product("菠菜", "BO", "veg", "chilled"),
    Product("萝卜", "LB", "veg", "chilled"),
    Product("大白菜", "DB", "veg", "chilled"),
    Product("马铃薯", "TD", "veg", "chilled"),
    Product("葱", "CO", "veg", "chilled"),
    Product("蒜薹", "ST", "veg", "chilled"),
    Product("莲藕", "LO", "veg", "chilled"),
)
FRUITS: tuple[Product, ...] = (
    Product("柑", "GA", "fruit", "ambient"),
    Product("橙", "CE", "fruit", "ambient"),
    Product("柚", "YO", "fruit", "ambient"),
    Product("猕猴桃", "MH", "fruit", "ambient"),
    Product("梨", "LI", "fruit", "ambient"),
    Product("苹果", "PG", "fruit", "ambient"),
)
EGGS: tuple[Product, ...] = (
    Product("鸡蛋", "JDN", "egg", "ambient"),
    Product("鸭蛋", "YDN", "egg", "ambient"),
)
PIGS = Product("生猪", "SZ", "pig", "ambient", "head")
PORK = Product("猪肉", "ZR", "pork", "chilled")
IMPORTED_PORK = Product("冷冻猪肉", "DZR", "frozen", "frozen")
PRODUCTS: dict[str, Product] = {
    p.name: p for p in (*VEGETABLES, *FRUITS, *EGGS, PIGS, PORK, IMPORTED_PORK)}

# 分割: part name and lot-code suffix, with its typical share of a carcass (by weight).
PORK_PARTS: tuple[tuple[str, str, int], ...] = (
    ("前腿肉", "QT", 24), ("后腿肉", "HT", 30), ("五花肉", "WH", 16), ("排骨", "PG", 12),
    ("里脊", "LJ", 4), ("筒骨", "TG", 8),
)

# 云阳县 towns (pinyin initials for ids) and villages.
TOWNS: tuple[tuple[str, str], ...] = (
    ("红狮镇", "hs"), ("双江街道", "sj"), ("南溪镇", "nx"), ("龙角镇", "lj"), ("江口镇", "jk"),
    ("高阳镇", "gy"), ("盘龙街道", "pl"), ("平安镇", "pa"), ("桑坪镇", "sp"), ("凤鸣镇", "fm"),
    ("故陵镇", "gl"), ("栖霞镇", "qx"), ("黄石镇", "hu"), ("人和街道", "rh"), ("云安镇", "ya"),
    ("宝坪镇", "bp"), ("渠马镇", "qm"), ("鱼泉镇", "yq"), ("沙市镇", "ss"), ("农坝镇", "nb"),
    ("路阳镇", "ly"), ("泥溪镇", "ni"), ("堰坪镇", "yp"), ("养鹿镇", "yl"), ("耀灵镇", "yi"),
    ("大阳镇", "dy"), ("后叶镇", "hy"), ("清水土家族乡", "qs"), ("新津乡", "xj"), ("上坝乡", "sb"),
)
VILLAGES = ("龙洞村", "长坪村", "团结村", "桂花村", "石门村", "柏杨村", "新华村", "水口村",
            "青山村", "杨柳村", "大田村", "向阳村", "梨园村", "金竹村", "双河村", "白果村",
            "兴隆村", "凉水村", "堰塘村", "高峰村")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜"
GIVEN_NAMES = ("建国", "秀英", "德华", "玉兰", "志强", "桂芳", "国庆", "红梅", "永福", "春兰",
               "明辉", "军", "丽", "勇", "芳", "伟", "小平", "海燕", "家兵", "文静", "大川",
               "淑珍", "运华", "素琴", "光明", "晓东", "世友", "翠英", "长江", "明秀")

# Farm names by kind: (category, suffixes).
FARM_SUFFIXES: dict[str, tuple[str, ...]] = {
    "veg": ("蔬菜专业合作社", "蔬菜种植基地", "家庭农场", "果蔬专业合作社"),
    "fruit": ("柑橘专业合作社", "果业专业合作社", "水果种植家庭农场"),
    "egg": ("蛋鸡养殖场", "家禽养殖专业合作社", "生态养殖家庭农场"),
    "pig": ("生猪养殖场", "生态养殖有限公司", "生猪养殖专业合作社"),
}

MARKET_NAMES = ("城南农贸市场", "城北农贸市场", "双江农贸市场", "滨江农贸市场", "新城农贸市场",
                "盘龙农贸市场", "人和农贸市场", "青龙农贸市场", "江口农贸市场", "南溪农贸市场")
MARKET_TOWNS = ("青龙街道", "双江街道", "双江街道", "青龙街道", "人和街道",
                "盘龙街道", "人和街道", "青龙街道", "江口镇", "南溪镇")


@dataclass(frozen=True)
class Section:
    """A market section: stall-number letter, what its stalls sell, and its share of stalls."""

    letter: str
    category: str
    goods: str  # the word in a stall's name: 张记蔬菜
    share: float


SECTIONS: tuple[Section, ...] = (
    Section("a", "veg", "蔬菜", 0.44),
    Section("b", "pork", "鲜肉", 0.20),
    Section("c", "egg", "禽蛋", 0.10),
    Section("d", "fruit", "水果", 0.16),
    Section("e", "frozen", "冻品", 0.10),
)

# 食用农产品承诺达标合格证: the commitments printed on the national template, and bases.
COMMITMENTS = ("不使用禁用农药兽药、停用兽药和非法添加物", "常规农药兽药残留不超标")
COMMITMENT_EXTRA = "对承诺的真实性负责"
BASES = ("self_test", "commissioned_test", "internal_control")

# Imported frozen pork: (country, invented plant name, plant registration no.).
EXPORTERS: tuple[tuple[str, str, str], ...] = (
    ("西班牙", "Cárnicas Valle del Ebro S.L.", "10.04217/HU"),
    ("巴西", "Frigorífico Serra Verde Ltda.", "SIF 3871"),
    ("丹麦", "Nordjysk Svineslagteri A/S", "DK 2041 EF"),
    ("荷兰", "Vleesbedrijf De Kempen B.V.", "NL 188 EG"),
    ("加拿大", "Prairie Pork Packers Inc.", "CA 612"),
)
IMPORT_CUTS = ("冷冻猪前腿肉（去骨）", "冷冻猪五花肉（带皮）", "冷冻猪后腿肉（去骨）", "冷冻猪排骨")

# Letters and digits of a licence plate (no I, no O).
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

HOLD_REASONS = (
    "快检有机磷和氨基甲酸酯类农药残留抑制率 52.4%，结果阳性，下架待复检",
    "快检抑制率 46.8%，结果可疑，暂停销售待复检",
    "冷链运输途中温度超标，待核查",
    "承诺达标合格证信息与实物不符，待核实",
    "进口冷链食品追溯信息待核验",
    "感官检查异常（变色、异味），暂停销售",
)
HOLD_REASONS_BY_CATEGORY: dict[str, tuple[int, ...]] = {
    "veg": (0, 1, 3, 5), "fruit": (0, 1, 3, 5), "egg": (3, 5), "pork": (2, 5),
    "frozen": (2, 4, 5),
}
RELEASE_REASONS = (
    "复检阴性，恢复销售",
    "实验室检测合格，恢复销售",
    "核查无误，恢复销售",
    "补齐追溯凭证，恢复销售",
)

# Wholesale, cold chain, abattoir, importer.
WHOLESALE_NAME = "云阳县农产品批发市场"
WHOLESALER_NAME = "云阳县农产品批发市场经营管理有限公司"
COLDSTORE_NAME = "渝冷云阳冷库"
CARRIER_NAME = "重庆渝冷冷链物流有限公司云阳分公司"
IMPORT_COLDSTORE_NAME = "云阳县进口冷链食品集中监管仓"
IMPORT_CARRIER_NAME = "重庆港盛冷链物流有限公司"
ABATTOIR_NAME = "云阳县生猪定点屠宰场"
ABATTOIR_COMPANY = "云阳县盛源肉类加工有限公司"
IMPORTER_NAME = "重庆渝港进出口贸易有限公司"
PORT_NAME = "重庆果园港进境肉类指定监管场地"
PORT_ADDRESS = "重庆市两江新区果园港"
