"""Placards: the QR decodes (with a real decoder) to the stall's URL, which shows the stall."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.service.conftest import STALL
from tracelib_service import create_app
from tracelib_service.qr import Placard, placard_png, placard_svg, qr_matrix


def _decode(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"))
    return [(b.text, b.format, b.ec_level) for b in found]  # type: ignore[misc]


def test_png_placard_decodes_to_the_stall_page(client: FlaskClient) -> None:
    r = client.get(f"/s/{STALL}/qr.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    [(text, fmt, level)] = _decode(r.data)
    assert fmt == zxingcpp.BarcodeFormat.QRCode and level == "H"
    assert text == f"http://127.0.0.1:8000/s/{STALL}"
    page = client.get(urlsplit(text).path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "张记蔬菜" in html and "LOT-CP-0001" in html and "有机磷和氨基甲酸酯类农药" in html


def test_public_url_and_level_q(app: Flask) -> None:
    public = create_app({**app.config, "PUBLIC_URL": "https://trace.example.cn/", "QR_LEVEL": "Q",
                         "TRUSTED_HOSTS": None})
    try:
        r = public.test_client().get(f"/s/{STALL}/qr.png")
    finally:
        public.extensions["tracelib"].close()
    [(text, _fmt, level)] = _decode(r.data)
    assert text == f"https://trace.example.cn/s/{STALL}" and level == "Q"


def test_placard_survives_wear(client: FlaskClient) -> None:
    """Level H: a smudge over part of the code (not the finder patterns) still decodes."""
    with Image.open(io.BytesIO(client.get(f"/s/{STALL}/qr.png").data)) as image:
        worn = image.convert("L")
    w = worn.width
    matrix_px = w - 8 * 12  # code without the quiet zone (module 12 px, 4 modules a side)
    box = (48 + matrix_px // 3, 48 + matrix_px // 3 + 24,
           48 + matrix_px // 3 + matrix_px // 6, 48 + matrix_px // 3 + matrix_px // 6)
    worn.paste(128, box)
    assert [b.text for b in zxingcpp.read_barcodes(worn)] == [f"http://127.0.0.1:8000/s/{STALL}"]


def test_svg_placard_is_well_formed_and_escaped(client: FlaskClient) -> None:
    r = client.get(f"/s/{STALL}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.data)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ["张记蔬菜", STALL, "扫码付款 · 查溯源"]
    svg = placard_svg(Placard(url="https://x.cn/s/a", name="<b>&摊", number="A01"))
    assert "<b>" not in svg and "&lt;b&gt;&amp;摊" in svg
    ET.fromstring(svg.encode())


def test_svg_path_draws_exactly_the_matrix() -> None:
    placard = Placard(url="https://trace.example.cn/s/stall-a01", name="张记", number="A01")
    matrix = qr_matrix(placard.url)
    svg = ET.fromstring(placard_svg(placard).encode())
    path = next(svg.iter("{http://www.w3.org/2000/svg}path")).attrib["d"]
    dark = set()
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path)
    assert "".join(f"M{x} {y}h{w}v1h-{w2}z" for x, y, w, w2 in runs) == path
    for x, y, width, _ in runs:
        dark.update((int(y) - 4, int(x) - 4 + i) for i in range(int(width)))
    assert dark == {(r, c) for r, row in enumerate(matrix) for c, v in enumerate(row) if v}


def test_png_library_function_is_reusable() -> None:
    png = placard_png(Placard(url="https://trace.example.cn/s/b-07", name="李记水产",
                              number="摊位号 B07", level="Q"))
    assert [t for t, _f, _l in _decode(png)] == ["https://trace.example.cn/s/b-07"]


def test_placard_cannot_be_built_invalid() -> None:
    with pytest.raises(ValueError, match="level"):
        Placard(url="https://x", name="a", number="1", level="L")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="URL"):
        Placard(url="", name="a", number="1")


def test_qr_of_unknown_stall_is_404(client: FlaskClient) -> None:
    assert client.get("/s/nope/qr.png").status_code == 404
    assert client.get("/s/market-1/qr.svg").status_code == 404
