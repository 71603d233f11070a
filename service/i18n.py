"""User-facing text: Chinese (zh-CN) by default, English with ``?lang=en`` or an
``Accept-Language`` that prefers English."""

from __future__ import annotations

from flask import g, request

__all__ = ["LANGS", "current_lang", "html_lang", "t"]

LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "app": "食品追溯", "stall": "摊位", "holder": "经营者", "market": "市场",
        "licences": "亮证亮照", "licence.business": "营业执照", "licence.food": "食品经营许可证",
        "on_hand": "在售商品", "product": "品名", "lot": "批次", "qty": "数量",
        "origin": "产地", "certificate": "合格证号", "none_on_hand": "暂无在售商品",
        "tests_today": "今日快检", "item": "检测项目", "rate": "抑制率", "result": "结果",
        "method": "方法", "time": "时间", "sample": "样品", "no_tests_today": "今日暂无快检结果",
        "result.negative": "阴性 合格", "result.suspect": "可疑 待复检",
        "result.positive": "阳性 不合格", "result.pass": "合格", "result.fail": "不合格",
        "result.no_limit": "无限量标准",
        "held": "已下架", "hold_banner": "以下商品已下架，暂停销售", "recall": "召回",
        "record": "检测记录", "tests_30d": "近30天检测", "pass_rate": "合格率",
        "open_holds": "未处理下架", "standing": "红黑榜", "standing.red": "红榜",
        "standing.black": "黑榜", "standing.none": "未上榜", "times": "批次",
        "lab_results": "实验室检测", "value": "检出值", "limit": "限量",
        "complaint": "投诉举报 12315", "verified": "已验证 verified",
        "verified_text": "以上记录均在签名账本中，可用包含证明核验",
        "unsigned_text": "账本最新树头（尚未签名）",
        "ledger_size": "证明所依据的账本记录数（树大小）", "root": "根哈希", "proofs": "包含证明",
        "pay_ref": "付款参考", "scan_pay": "扫码付款 · 查溯源",
        "lot_page": "批次溯源", "path": "流通路径", "from": "起运", "to": "到达",
        "received": "收货", "temperatures": "温度记录", "excursion": "超温",
        "producer": "生产者", "issued_at": "开具时间", "commitments": "承诺",
        "basis": "依据", "no_path": "无流通记录", "tests": "检测",
        "recalled": "此批次已召回", "held_at": "下架位置", "imported": "进口",
        "import_docs": "进口单证",
        "board": "快检公示", "board_day": "检测日期", "totals": "合计",
        "no_board_tests": "今日暂无快检结果", "refresh": "每60秒自动刷新",
        "error": "出错了", "error.404": "没有找到这个页面", "error.400": "请求有误",
        "error.413": "上传内容过大", "error.422": "内容未通过校验", "error.409": "与已有记录冲突",
        "error.405": "不支持此操作", "error.401": "需要登录凭证", "error.403": "无权操作",
        "error.500": "服务器出错，请稍后再试", "back_home": "返回",
        "error.host": "本服务不使用这个主机名（Host）",
        "error.too_large": "请求内容超过上限 {limit} 字节，未保存任何内容",
        "error.503": "服务暂不可用，请稍后再试",
        "error.503.full": "数据库所在磁盘已满，本次请求未保存任何内容。",
        "error.503.lost": "与数据库的连接已中断，本次请求未保存任何内容。",
        "error.503.unreachable": "数据库服务器没有响应，本次请求未保存任何内容。",
        "error.503.missing": "数据库不存在，本次请求未保存任何内容。",
        "error.503.read_only": "数据库当前只读，本次请求未保存任何内容。",
        "error.503.read_only_instance": "本服务实例只读（读取数据库副本），本次请求未保存任何内容；"
                                        "写入请发送至主服务 {primary}。",
        "error.503.read_only_instance.no_primary": "本服务实例只读（读取数据库副本），本次请求未保存"
                                                   "任何内容；写入请发送至主服务。",
        "error.503.corrupt": "数据库中有无法读取的内容，本次请求未保存任何内容。",
        "error.503.unknown": "数据库暂时无法使用，本次请求未保存任何内容。",
        "error.429": "请求过于频繁", "error.rate_limited": "请求过于频繁，请 {seconds} 秒后再试。",
        "switch_lang": "English", "switch_lang_code": "en",
    },
    "en": {
        "app": "Food trace", "stall": "Stall", "holder": "Holder", "market": "Market",
        "licences": "Licences", "licence.business": "Business licence",
        "licence.food": "Food business licence",
        "on_hand": "On sale", "product": "Product", "lot": "Lot", "qty": "Qty",
        "origin": "Origin", "certificate": "Certificate no.", "none_on_hand": "Nothing on sale",
        "tests_today": "Today's rapid tests", "item": "Test item", "rate": "Inhibition",
        "result": "Result", "method": "Method", "time": "Time", "sample": "Sample",
        "no_tests_today": "No rapid test today yet",
        "result.negative": "Negative (pass)", "result.suspect": "Suspect (retest)",
        "result.positive": "Positive (fail)", "result.pass": "Pass", "result.fail": "Fail",
        "result.no_limit": "No limit",
        "held": "Off sale", "hold_banner": "These goods are off sale", "recall": "Recall",
        "record": "Test record", "tests_30d": "Tests, 30 days", "pass_rate": "Pass rate",
        "open_holds": "Open holds", "standing": "Standing", "standing.red": "Red list",
        "standing.black": "Black list", "standing.none": "Not listed", "times": "tests",
        "lab_results": "Laboratory results", "value": "Value", "limit": "Limit",
        "complaint": "Complaints: 12315", "verified": "Verified",
        "verified_text": "These records are in the signed ledger; check the inclusion proofs",
        "unsigned_text": "Latest tree head (not yet signed)",
        "ledger_size": "Proven against ledger size (tree size)", "root": "Root", "proofs": "Inclusion proofs",
        "pay_ref": "Payment reference", "scan_pay": "Scan to pay · trace",
        "lot_page": "Lot trace", "path": "Path", "from": "From", "to": "To",
        "received": "Received", "temperatures": "Temperatures", "excursion": "Excursion",
        "producer": "Producer", "issued_at": "Issued", "commitments": "Commitments",
        "basis": "Basis", "no_path": "No shipments", "tests": "Tests",
        "recalled": "This lot is recalled", "held_at": "Held at", "imported": "Imported",
        "import_docs": "Import documents",
        "board": "Rapid-test board", "board_day": "Day", "totals": "Totals",
        "no_board_tests": "No rapid test today yet", "refresh": "Refreshes every 60 s",
        "error": "Error", "error.404": "Not found", "error.400": "Bad request",
        "error.413": "Upload too large", "error.422": "Validation failed",
        "error.409": "Conflicts with a stored record", "error.405": "Method not allowed",
        "error.401": "Credentials required", "error.403": "Forbidden",
        "error.500": "Server error, please try later", "back_home": "Back",
        "error.host": "This service does not answer to that host name (Host)",
        "error.too_large": "The request body is over the limit of {limit} bytes; nothing was stored",
        "error.503": "Service unavailable, please try later",
        "error.503.full": "The database's disk is full; nothing was stored.",
        "error.503.lost": "The connection to the database was lost; nothing was stored.",
        "error.503.unreachable": "The database server does not answer; nothing was stored.",
        "error.503.missing": "The database does not exist; nothing was stored.",
        "error.503.read_only": "The database is read-only; nothing was stored.",
        "error.503.read_only_instance": "This instance is read-only (it reads a database "
                                        "replica); nothing was stored. Send writes to the "
                                        "primary service at {primary}.",
        "error.503.read_only_instance.no_primary": "This instance is read-only (it reads a "
                                                   "database replica); nothing was stored. "
                                                   "Send writes to the primary service.",
        "error.503.corrupt": "The database holds data that cannot be read; nothing was stored.",
        "error.503.unknown": "The database cannot be used right now; nothing was stored.",
        "error.429": "Too many requests",
        "error.rate_limited": "Too many requests; please try again in {seconds} s.",
        "switch_lang": "中文", "switch_lang_code": "zh",
    },
}


def current_lang() -> str:
    """``?lang=`` first, then Accept-Language (zh wins ties), default zh."""
    cached: str | None = g.get("lang")
    if cached:
        return cached
    asked = request.args.get("lang", "").lower()[:5]
    if asked.startswith("en"):
        lang = "en"
    elif asked.startswith("zh"):
        lang = "zh"
    else:
        lang = request.accept_languages.best_match(["zh", "en"], default="zh") or "zh"
        lang = "en" if lang.startswith("en") else "zh"
    g.lang = lang
    return lang


def html_lang() -> str:
    return "zh-CN" if current_lang() == "zh" else "en"


def t(key: str) -> str:
    return TEXT[current_lang()].get(key) or TEXT["zh"].get(key) or key
