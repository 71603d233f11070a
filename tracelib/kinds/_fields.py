"""Schema pieces several kinds share: identifiers, texts, storage, import documents."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from ..bounds import MAX_NUMBER, MAX_TEXT, MAX_TIME_TEXT
from ..ids import id_field

__all__ = ["BLOB_NAME", "CATEGORIES", "CATERING_TYPES", "CONSUMER_TYPES",
           "DEFAULT_TEMPERATURE_LIMITS", "IMPORT_DOCS", "MARKET_TYPES", "RECEIVING_TYPES",
           "RETAIL_TYPES", "STORAGE", "VOUCHER_IMPORT_DOCS", "VOUCHER_TYPES", "ImportDocsSchema",
           "OpenData", "ReasonData", "SupplierSchema", "VoucherSchema", "id_field", "text"]

STORAGE = ("frozen", "chilled", "ambient")
# Cold-chain practice (GB 31605-2020 食品冷链物流卫生规范): frozen goods are kept at −18 °C or
# colder, chilled goods at 4 °C or colder; a reading above the limit is an excursion.
DEFAULT_TEMPERATURE_LIMITS = {"frozen": Decimal("-18"), "chilled": Decimal("4")}
# The three import documents of the 浙冷链 model a market or stall must see on record.
IMPORT_DOCS = ("customs_declaration", "inspection_cert", "disinfection_cert")
MARKET_TYPES = ("market", "stall")
# docs/contract.md "Roles and location types": where goods reach the people who eat them —
# retail (a market's stall, a supermarket) and catering (a canteen, a school's 学校食堂 among
# them, and a restaurant). A `sale` happens only there.
RETAIL_TYPES = ("stall", "supermarket")
CATERING_TYPES = ("canteen", "restaurant")
CONSUMER_TYPES = RETAIL_TYPES + CATERING_TYPES


def text(max_length: int = MAX_TEXT) -> validate.Length:
    return validate.Length(min=1, max=max_length)


class OpenData(Schema):
    """A kind's ``data``: its own fields, and more optional fields welcome
    (docs/contract.md "Versioning": fields may be added, never renamed or dropped)."""

    class Meta:
        unknown = INCLUDE


class ImportDocsSchema(Schema):
    """The import documents of the 浙冷链 model, by number."""

    class Meta:
        unknown = RAISE

    customs_declaration = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the customs declaration's number (报关单)"})
    inspection_cert = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the entry inspection and quarantine certificate's number (检验检疫证明)"})
    disinfection_cert = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the disinfection certificate's number (消毒证明)"})


class ReasonData(OpenData):
    # Why stock is held, released, recalled or disposed of.
    reason = fields.String(required=True, validate=text(), metadata={
        "description": "why, in words; a hold's reason is shown on the stall page"})
    test = fields.String(validate=id_field(), metadata={
        "description": "the id of the test event behind it"})
    drill = fields.String(validate=id_field(), metadata={
        "description": "the id of the `drill` event behind it"})


# -- goods entering from a supplier outside the ledger (docs/contract.md "entry") -------------

# The receiving points where goods may enter the ledger from outside it (进货查验).
RECEIVING_TYPES = ("wholesale_market", "market", "stall", "supermarket", "canteen", "restaurant",
                   "coldstore", "warehouse")
# Product categories of an entry; `meat` is livestock and poultry meat (畜禽肉).
CATEGORIES = {
    "meat": "livestock and poultry meat (畜禽肉)",
    "aquatic": "fish, shellfish and other aquatic products (水产品)",
    "vegetable": "vegetables, edible fungi included (蔬菜)",
    "fruit": "fruit (水果)",
    "egg": "eggs (鲜蛋)",
    "grain": "grain, oil crops and their products (粮油)",
    "other": "any other food",
}
# The vouchers an entry may cite, by the type printed on them, with their English glosses.
VOUCHER_TYPES = {
    "合格证": "certificate of conformity (承诺达标合格证 or a product's 合格证明)",
    "购货凭证": "purchase voucher (invoice, receipt or delivery note)",
    "检测报告": "test report",
    "动物检疫合格证明": "animal quarantine certificate",
    "肉品品质检验合格证": "meat quality inspection certificate",
    "报关单": "customs declaration",
    "入境货物检验检疫证明": "entry goods inspection and quarantine certificate",
    "消毒证明": "disinfection certificate",
    "其他": "any other document",
}
# The import documents an entry's vouchers put on record for its lots (IMPORT_DOCS keys).
VOUCHER_IMPORT_DOCS = {"报关单": "customs_declaration", "入境货物检验检疫证明": "inspection_cert",
                       "消毒证明": "disinfection_cert"}
BLOB_NAME = r"\Asha256:[0-9a-f]{64}\Z"


class SupplierSchema(OpenData):
    """A supplier outside the ledger, as its documents name it."""

    name = fields.String(required=True, validate=text(), metadata={
        "description": "the supplier's name, e.g. `重庆某某食品有限公司`"})
    licence = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "its 食品经营许可证 or 营业执照 number"})
    address = fields.String(validate=text(), metadata={"description": "its address"})
    contact = fields.String(validate=text(), metadata={
        "description": "its contact (a person, a telephone number)"})


class VoucherSchema(OpenData):
    """One voucher (票证) seen when goods enter: a certificate, an invoice, a report."""

    type = fields.String(required=True, validate=validate.OneOf(tuple(VOUCHER_TYPES)), metadata={
        "description": "what it is, exactly one of: " + "; ".join(
            f"`{k}` ({v})" for k, v in VOUCHER_TYPES.items())})
    no = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "its number"})
    issuer = fields.String(validate=text(), metadata={"description": "who issued it"})
    issued_at = fields.String(validate=validate.Length(min=1, max=MAX_TIME_TEXT), metadata={
        "description": "when it was issued, as printed"})
    file = fields.String(validate=validate.Regexp(BLOB_NAME, error=(
        "must be sha256: followed by 64 lowercase hexadecimal digits")), metadata={
        "description": "its scan or PDF in the ledger's blob store: `sha256:` and the file's "
                       "SHA-256 in 64 lowercase hexadecimal digits"})
