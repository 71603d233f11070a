"""The producer page in a real browser at a cheap phone's width: headless Debian Chromium
renders ``/p/<party>`` at 360×740 px with its standing and the failures traced back to its
certificates, and nothing wider than the screen (no horizontal scrolling)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response

from tests.service.browser import PHONE, headless, screenshot, serving
from tests.service.browser import chromium as find_chromium
from tests.service.conftest import Scene
from tests.service.test_producer_page import fail_a_lab_test

pytestmark = pytest.mark.slow

WIDTH = PHONE[0]

# The producer page as served, with a script added that lays it out 360 CSS px wide and
# writes into the page how far right its widest element reaches (read back with
# --dump-dom). Headless Chromium's window is never narrower than 500 px, so the width is
# set on the root element; the service's own pages run no script at all.
_MEASURE = """<script>
window.addEventListener("load", function () {
  document.documentElement.style.width = "WIDTHpx";
  var widest = 0, all = document.body.getElementsByTagName("*");
  for (var i = 0; i < all.length; i++) {
    widest = Math.max(widest, Math.ceil(all[i].getBoundingClientRect().right));
  }
  var out = document.createElement("pre");
  out.textContent = "widest=" + widest + " elements=" + all.length;
  document.body.appendChild(out);
});
</script></body>""".replace("WIDTH", str(WIDTH))


@pytest.fixture
def served(app: Flask, scene: Scene) -> Iterator[str]:
    fail_a_lab_test(scene)

    def measure() -> Response:
        page = app.test_client().get("/p/farm-1").get_data(as_text=True)
        response = Response(page.replace("</body>", _MEASURE), mimetype="text/html")
        response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src "
                                                       "'unsafe-inline'; script-src "
                                                       "'unsafe-inline'")
        return response

    app.add_url_rule("/measure-width", "measure_width", measure)
    with serving(app) as url:
        yield url



def test_producer_page_renders_at_phone_width_without_overflow(served: str,
                                                               tmp_path: Path) -> None:
    chromium = find_chromium()
    url = f"{served}/p/farm-1"
    dom = headless(chromium, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<html lang="zh-CN">' in dom.stdout
    for text in ("生产者信用", "黑榜", "追溯到的不合格", "毒死蜱", "CERT-LOT-CP-0001", "张记蔬菜",
                 "最近开具的合格证"):
        assert text in dom.stdout, text
    measured = headless(chromium, tmp_path / "profile-width", "--virtual-time-budget=5000",
                    "--dump-dom", f"{served}/measure-width")
    assert measured.returncode == 0, measured.stderr[-2000:]
    found = re.search(r"widest=(\d+) elements=(\d+)", measured.stdout)
    assert found is not None, measured.stdout[-500:]
    widest, elements = int(found[1]), int(found[2])
    assert elements > 20 and 300 < widest <= WIDTH, (widest, elements)
    screenshot(chromium, tmp_path, url, keep_as=Path("docs/screenshots/producer-page.png"))
