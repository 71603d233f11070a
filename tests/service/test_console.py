"""The regulator's console through Flask's test client: sign-in, sessions and their cookie,
CSRF, expiry, sign-out, who may sign in, the pages, and one language per page."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene
from tests.service.console_scene import (
    REGULATOR,
    Clock,
    app_token,
    console_app_at,
    csrf_of,
    register_regulator,
    school_reached,
    sign_in,
)
from tracelib.keys import Keystore
from tracelib_service import create_app
from tracelib_service.i18n import TEXT
from tracelib_service.tokens import revoke_token


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def console_app(db_url: str, scene: Scene, keystore: Keystore, clock: Clock) -> Iterator[Flask]:
    with console_app_at(db_url, scene, keystore, clock) as app:
        yield app


@pytest.fixture
def token(console_app: Flask) -> str:
    return app_token(console_app, REGULATOR)


@pytest.fixture
def web(console_app: Flask) -> FlaskClient:
    return console_app.test_client()


def _set_cookie(response: object) -> str:
    cookies = [v for k, v in response.headers.items()  # type: ignore[attr-defined]
               if k == "Set-Cookie" and v.startswith("tracelib_console=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_pages_need_a_session(web: FlaskClient) -> None:
    for path in ("/console/", "/console/find?q=x", "/console/drill?lot=LOT-CP-0001",
                 "/console/kpi"):
        answer = web.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/console/signin?next=")


def test_sign_in_sets_a_server_side_session_cookie(web: FlaskClient, token: str) -> None:
    form = web.get("/console/signin")
    assert form.status_code == 200
    answer = web.post("/console/signin", data={"token": token, "csrf": csrf_of(form.text),
                                               "next": "/console/find?q=stall-a01"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/find?q=stall-a01"
    cookie = _set_cookie(answer)
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # served over plain http (no https public URL)
    assert token not in cookie  # the cookie holds a session id, never the token
    page = web.get("/console/find?q=stall-a01")
    assert page.status_code == 200 and REGULATOR in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]


def test_cookie_is_secure_behind_an_https_public_url(db_url: str, scene: Scene,
                                                     keystore: Keystore) -> None:
    register_regulator(scene, keystore)
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "PUBLIC_URL": "https://trace.example.cn"})
    try:
        client = app.test_client()
        base = "https://trace.example.cn"
        form = client.get(f"{base}/console/signin")
        answer = client.post(f"{base}/console/signin", data={
            "token": app_token(app, REGULATOR), "csrf": csrf_of(form.text)})
        assert answer.status_code == 302
        flags = [p.strip().lower() for p in _set_cookie(answer).split(";")]
        assert {"secure", "httponly", "samesite=lax"} <= set(flags)
    finally:
        app.extensions["tracelib"].close()


def test_secret_key_is_generated_once_owner_only(console_app: Flask, keystore: Keystore,
                                                 db_url: str, clock: Clock) -> None:
    path = keystore.path.with_name(f"{keystore.path.name}.secret")
    assert path.stat().st_mode & 0o777 == 0o600
    again = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                        "NOW": clock})
    try:
        assert again.secret_key == console_app.secret_key  # every worker signs alike
    finally:
        again.extensions["tracelib"].close()


def test_csrf_refused_without_the_token(web: FlaskClient, token: str) -> None:
    form = web.get("/console/signin")
    refused = web.post("/console/signin", data={"token": token})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert web.post("/console/signin", data={"token": token, "csrf": "x" * 43}).status_code == 403
    csrf = sign_in(web, token)
    assert csrf != csrf_of(form.text)
    for path, data in (("/console/recall/confirm", {"lot": "LOT-CP-0001", "reason": "抽检"}),
                       ("/console/drill/report.zip", {"lot": "LOT-CP-0001"}),
                       ("/console/signout", {})):
        assert web.post(path, data=data).status_code == 403, path
        altered = csrf[:-1] + ("1" if csrf.endswith("0") else "0")
        assert web.post(path, data={**data, "csrf": altered}).status_code == 403, path
    problem = web.post("/console/signout", headers={"Accept": "application/json"})
    assert problem.status_code == 403 and problem.json is not None
    assert problem.json["code"] == "csrf"
    assert web.get("/console/find").status_code == 200  # still signed in


def test_non_regulator_token_refused(web: FlaskClient, console_app: Flask) -> None:
    form = web.get("/console/signin")
    answer = web.post("/console/signin", data={"token": app_token(console_app, STALL),
                                               "csrf": csrf_of(form.text)})
    assert answer.status_code == 401 and "没有 read:all 权限" in answer.text
    # A regulator's token without read:all does not open it either.
    answer = web.post("/console/signin", data={
        "token": app_token(console_app, REGULATOR, scopes=("write", "read:own")),
        "csrf": csrf_of(form.text)})
    assert answer.status_code == 401 and "没有 read:all 权限" in answer.text
    answer = web.post("/console/signin", data={"token": "tlk_" + "A" * 43,
                                               "csrf": csrf_of(form.text)})
    assert answer.status_code == 401 and "令牌无效" in answer.text
    assert web.get("/console/find").status_code == 302


def test_session_expires_when_idle_and_after_its_lifetime(web: FlaskClient, token: str,
                                                          clock: Clock) -> None:
    sign_in(web, token)
    alive = 0
    while web.get("/console/find").status_code == 200:  # a request every 25 minutes ...
        alive += 1
        clock.advance(minutes=25)
    assert alive == 20  # ... keeps it up to 8 hours (0, 25, ..., 475 min), not at 500 min
    sign_in(web, token)
    clock.advance(minutes=29)
    assert web.get("/console/find").status_code == 200
    clock.advance(minutes=30)
    assert web.get("/console/find").status_code == 302  # 30 minutes without a request


def test_sign_out_ends_the_session_on_the_server(web: FlaskClient, token: str) -> None:
    csrf = sign_in(web, token)
    cookie = web.get_cookie("tracelib_console")
    assert cookie is not None
    answer = web.post("/console/signout", data={"csrf": csrf})
    assert answer.status_code == 302
    assert web.get("/console/find").status_code == 302
    web.set_cookie("tracelib_console", cookie.value)  # a copy of the old cookie is dead too
    assert web.get("/console/find").status_code == 302


def test_revoking_the_token_ends_its_sessions(web: FlaskClient, token: str,
                                              console_app: Flask) -> None:
    sign_in(web, token)
    assert revoke_token(console_app, token)
    assert web.get("/console/find").status_code == 302


def test_sign_in_goes_only_inside_the_console(web: FlaskClient, token: str) -> None:
    for target in ("https://evil.example/", "//evil.example/console/", "/s/stall-a01"):
        form = web.get("/console/signin")
        answer = web.post("/console/signin", data={"token": token, "csrf": csrf_of(form.text),
                                                   "next": target})
        assert answer.headers["Location"] == "/console/", target


def test_find_every_kind(web: FlaskClient, token: str) -> None:
    sign_in(web, token)
    for query, kind, link in (("LOT-CP-0001", "批次", "/console/drill?lot=LOT-CP-0001"),
                              ("CERT-LOT-QC-0002", "合格证", "/console/drill?lot=LOT-QC-0002"),
                              ("sale-1", "事件", "/console/events/sale-1"),
                              ("张记", "摊位", "/s/stall-a01"),
                              ("regulator-1", "经营主体", "regulator-1")):
        page = web.get("/console/find", query_string={"q": query})
        assert page.status_code == 200 and kind in page.text and link in page.text, query
    assert "没有找到" in web.get("/console/find?q=NOPE-404").text
    assert web.get("/console/find", query_string={"q": "x" * 201}).status_code == 400
    event = web.get("/console/events/sale-1")
    assert event.status_code == 200 and "R-0001" in event.text


def test_drill_shows_the_stalls_and_the_picture(web: FlaskClient, token: str) -> None:
    sign_in(web, token)
    page = web.get("/console/drill?lot=LOT-CP-0001")
    assert page.status_code == 200
    assert "张记蔬菜" in page.text and "37.5 kg" in page.text  # 40 kg in, 2.5 kg sold
    picture = web.get("/console/drill/path.svg?lot=LOT-CP-0001")
    assert picture.status_code == 200 and picture.mimetype == "image/svg+xml"
    assert picture.text.lstrip().startswith("<svg") or "<svg" in picture.text[:400]
    assert web.get("/console/drill?lot=NO-SUCH-LOT").status_code == 404


def test_drill_report_is_recorded_and_zipped(web: FlaskClient, token: str,
                                             console_app: Flask) -> None:
    csrf = sign_in(web, token)
    answer = web.post("/console/drill/report.zip", data={"csrf": csrf, "lot": "LOT-CP-0001"})
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.data)).namelist()
    assert {Path(n).name for n in names} >= {"summary.json", "ctes.csv", "ctes.xlsx",
                                              "path.svg", "path.png"}
    record = console_app.extensions["tracelib"].ledger.record_for_event(
        answer.headers["X-Drill-Event"])
    assert record.to_dict()["event"]["actor"] == REGULATOR  # signed with the regulator's key


def test_recall_needs_its_confirmation_and_holds_the_stall(web: FlaskClient, token: str,
                                                            console_app: Flask) -> None:
    csrf = sign_in(web, token)
    confirm = web.post("/console/recall/confirm",
                       data={"csrf": csrf, "lot": "LOT-CP-0001", "reason": "抽检不合格"})
    assert confirm.status_code == 200 and "张记蔬菜" in confirm.text and "37.5" in confirm.text
    assert "LOT-CP-0001：抽检不合格" not in web.get(f"/s/{STALL}").text
    unconfirmed = web.post("/console/recall", data={"csrf": csrf, "lot": "LOT-CP-0001",
                                                    "reason": "抽检不合格"})
    assert unconfirmed.status_code == 400
    done = web.post("/console/recall", data={"csrf": csrf, "lot": "LOT-CP-0001",
                                             "reason": "抽检不合格", "confirm": "yes"})
    assert done.status_code == 200 and "召回已签名生效" in done.text
    stall = web.get(f"/s/{STALL}").text
    assert "以下商品已下架" in stall and "LOT-CP-0001：抽检不合格" in stall
    ledger = console_app.extensions["tracelib"].ledger
    assert ledger.verify(workers=1).ok


def test_kpi_page_and_chart(web: FlaskClient, token: str) -> None:
    sign_in(web, token)
    page = web.get("/console/kpi?year=2026&population=1000")
    assert page.status_code == 200 and "评价性抽检合格率" in page.text
    assert "市场快检（不属于食品安全抽检，不计入以上指标）" in page.text
    no_plan = web.get("/console/kpi?year=2026")  # no population, no plan: the form says so
    assert no_plan.status_code == 200 and "本年度没有抽检计划" in no_plan.text
    chart = web.get("/console/kpi/chart.svg?year=2026&population=1000")
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
    assert web.get("/console/kpi?year=２０２６").status_code == 400
    assert web.get("/console/kpi?year=1800&population=1").status_code == 422


def _ui_texts(lang: str) -> set[str]:
    """The console's interface texts of one language that the other does not share."""
    other = "en" if lang == "zh" else "zh"
    return {v for k, v in TEXT[lang].items()
            if k.startswith("console") and v not in TEXT[other].values() and len(v) > 2}


_HAN = re.compile(r"[\u4e00-\u9fff]")


def test_one_language_per_page(web: FlaskClient, token: str) -> None:
    csrf = sign_in(web, token)
    for path in ("/console/find?q=LOT-CP-0001", "/console/drill?lot=LOT-CP-0001",
                 "/console/kpi?year=2026&population=1000", "/console/recall?lot=LOT-CP-0001"):
        english = web.get(path + "&lang=en").text
        chinese = web.get(path).text
        assert '<html lang="en">' in english and '<html lang="zh-CN">' in chinese
        assert not [s for s in _ui_texts("zh") if s in english], path
        assert not [s for s in _ui_texts("en") if s in chinese], path
        assert "kpi" in path or "LOT-CP-0001" in english
    # the English page's Chinese characters are all data (names from the ledger)
    english = web.get("/console/drill?lot=LOT-CP-0001&lang=en").text
    data = {"张记蔬菜", "豇豆", "云阳县红狮镇蔬菜合作社", "重庆冷链物流", "中文"}
    stripped = english
    for name in data:
        stripped = stripped.replace(name, "")
    assert not _HAN.search(stripped), _HAN.findall(stripped)[:20]
    assert csrf


def test_the_landing_page_is_the_days_alerts_with_their_evidence(
        web: FlaskClient, token: str, scene: Scene, clock: Clock) -> None:
    from tracelib.views.alerts import alerts

    sign_in(web, token)
    found = alerts(scene.ledger, now=clock.now).alerts
    assert {a.kind for a in found} >= {"temperature_excursion", "held_stock"}
    page = web.get("/console/").get_data(as_text=True)
    for alert in found:
        assert f'id="alert-{alert.id}"' in page
        assert escape(alert.title_zh) in page and alert.title_en not in page
        for event in alert.events:
            assert f'href="/console/events/{event}"' in page
            assert web.get(f"/console/events/{event}").status_code == 200
    english = web.get("/console/?lang=en").get_data(as_text=True)
    assert all(escape(a.title_en) in english for a in found)
    assert "今日预警" not in english and escape("Today's alerts") in english


def test_signing_from_the_console_needs_a_token_with_write(web: FlaskClient,
                                                           console_app: Flask) -> None:
    """A read:all token reads everything; only with write does the console sign for it (as
    the regulator's API asks)."""
    size = console_app.extensions["tracelib"].ledger.size
    csrf = sign_in(web, app_token(console_app, REGULATOR, scopes=("read:all",)))
    assert web.get("/console/").status_code == 200
    for path, form in (("/console/recall", {"lot": "LOT-CP-0001", "reason": "抽检不合格",
                                            "confirm": "yes"}),
                       ("/console/drill/report.zip", {"lot": "LOT-CP-0001"})):
        refused = web.post(path, data={"csrf": csrf, **form})
        assert refused.status_code == 403 and "没有 write 权限" in refused.text, path
    assert console_app.extensions["tracelib"].ledger.size == size
    assert "LOT-CP-0001：抽检不合格" not in web.get(f"/s/{STALL}").text


def test_the_drill_page_names_the_school_reached_in_either_language(
        web: FlaskClient, token: str, scene: Scene) -> None:
    school_reached(scene)
    sign_in(web, token)
    chinese = web.get("/console/drill?lot=LOT-SC-0003").text
    assert "云阳县实验小学食堂" in chinese and "canteen-school-1" in chinese
    tag = '<span class="tag">{}</span>'
    assert tag.format(TEXT["zh"]["console.school"]) in chinese
    assert TEXT["zh"]["console.no_canteens"] not in chinese
    english = web.get("/console/drill?lot=LOT-SC-0003&lang=en").text
    assert "云阳县实验小学食堂" in english
    assert tag.format(TEXT["en"]["console.school"]) in english
    none = web.get("/console/drill?lot=LOT-CP-0001").text  # reached a stall, no canteen
    assert TEXT["zh"]["console.no_canteens"] in none and "实验小学" not in none
    assert tag.format(TEXT["zh"]["console.school"]) not in none
