"""Schema pieces several kinds share: identifiers, texts, storage, import documents."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from ..bounds import MAX_NUMBER, MAX_TEXT
from ..ids import id_field

__all__ = ["CATERING_TYPES", "CONSUMER_TYPES", "DEFAULT_TEMPERATURE_LIMITS", "IMPORT_DOCS",
           "MARKET_TYPES", "RETAIL_TYPES", "STORAGE", "ImportDocsSchema", "OpenData", "ReasonData",
           "id_field", "text"]

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
