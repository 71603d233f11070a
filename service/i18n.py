"""User-facing text: Chinese (zh-CN) by default, English with ``?lang=en`` or an
``Accept-Language`` that prefers English."""

from __future__ import annotations

from flask import g, request

from tracelib.errors import ValidationError
from tracelib.standards import rapid

__all__ = ["LANGS", "basis_label", "current_lang", "html_lang", "item_label", "method_label",
           "t"]

LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "app": "食品追溯", "stall": "摊位", "holder": "经营者", "market": "市场",
        "licences": "亮证亮照", "licence.business": "营业执照", "licence.food": "食品经营许可证",
        "inspection": "日常监督检查", "inspection.none": "暂无检查记录",
        "inspection.compliant": "符合", "inspection.basically_compliant": "基本符合",
        "inspection.non_compliant": "不符合", "rectification_deadline": "整改期限",
        "rectification.open": "整改中", "rectification.reported": "已报告整改，待复查",
        "rectification.closed": "整改完成",
        "on_hand": "在售商品", "product": "品名", "lot": "批次", "qty": "数量",
        "origin": "产地", "certificate": "合格证号", "none_on_hand": "暂无在售商品",
        "entry.supplier": "进货来源", "entry.vouchers": "查验凭证", "list.sep": "、",
        "tests_today": "今日快检", "item": "检测项目", "rate": "抑制率", "result": "结果",
        "method": "方法", "time": "时间", "sample": "样品", "no_tests_today": "今日暂无快检结果",
        "result.negative": "阴性 合格", "result.suspect": "可疑 待复检",
        "result.positive": "阳性 不合格", "result.pass": "合格", "result.fail": "不合格",
        "result.no_limit": "无限量标准",
        "held": "已下架", "hold_banner": "以下商品已下架，暂停销售", "recall": "召回",
        "hold.rapid_positive": "快检阳性", "hold.lab_failed": "检测不合格",
        "record": "检测记录", "tests_30d": "近30天检测", "pass_rate": "合格率",
        "open_holds": "未处理下架", "standing": "红黑榜", "standing.red": "红榜",
        "standing.black": "黑榜", "standing.none": "未上榜", "times": "批次",
        "lab_results": "实验室检测", "value": "检出值", "limit": "限量",
        "complaint": "投诉举报 12315", "verified": "已验证",
        "verified_text": "以上记录均在签名账本中，可用包含证明核验",
        "witnessed_line": "见证 {k}/{n}", "not_witnessed_line": "尚未见证（{k}/{n}）",
        "unsigned_text": "账本最新树头（尚未签名）",
        "ledger_size": "证明所依据的账本记录数（树大小）", "root": "根哈希", "proofs": "包含证明",
        "pay_ref": "付款参考", "scan_pay": "扫码付款 · 查溯源",
        "receipt": "电子小票", "receipt_no": "小票号", "receipt_total": "合计",
        "unit_price": "单价", "amount": "金额", "pay": "付款", "pay_total": "付款 ¥{total}",
        "paid": "已付款", "paid_at": "付款时间", "provider_ref": "支付单号", "trace": "溯源",
        "unpaid": "未付款",
        "receipt_alert": "您购买的商品已被召回或下架",
        "receipt_alert.what": ("请立即停止食用，保留商品和小票，联系摊位退货退款；如有不适请及时就医，"
                               "并可拨打 12315 投诉举报。"),
        "receipt_alert.recall": "已召回", "receipt_alert.hold": "已下架",
        "receipt_tests": "当日快检", "no_receipt_tests": "当日暂无快检结果",
        "receipt_proof": "本次购买已记入签名账本", "receipt_seq": "账本记录号",
        "lot_page": "批次溯源", "path": "流通路径", "from": "起运", "to": "到达",
        "received": "收货", "temperatures": "温度记录", "excursion": "超温",
        "producer": "生产者", "issued_at": "开具时间", "commitments": "承诺",
        "basis": "依据", "no_path": "无流通记录", "tests": "检测",
        "recalled": "此批次已召回", "held_at": "下架位置", "imported": "进口",
        "import_docs": "进口单证",
        "board": "快检公示", "board_day": "检测日期", "totals": "合计",
        "no_board_tests": "今日暂无快检结果", "refresh": "每60秒自动刷新",
        "action": "处置", "action.held": "下架", "action.disposed": "销毁",
        "action.retesting": "复检中", "action.released": "已放行", "action.none": "未记录处置",
        "publication.on_time": "开市前已公示", "publication.late": "未在开市前公示",
        "publication.none": "今日尚无检测", "opens_at": "开市时间", "published_at": "公示时间",
        "board_inspections": "今日监督检查", "no_board_inspections": "今日无监督检查记录",
        "inspections_30d": "近30天监督检查", "open_non_compliant": "不符合未整改",
        "error": "出错了", "error.404": "没有找到这个页面", "error.400": "请求有误",
        "error.413": "上传内容过大", "error.422": "内容未通过校验", "error.409": "与已有记录冲突",
        "error.405": "不支持此操作", "error.401": "需要登录凭证", "error.403": "无权操作",
        "error.500": "服务器出错，请稍后再试", "back_home": "返回",
        "error.502": "对方账本未应答或其应答未通过校验",
        "error.host": "本服务不使用这个主机名（Host）",
        "error.too_large": "请求内容超过上限 {limit} 字节，未保存任何内容",
        "error.wrong_size": ("请求内容只收到 {received} 字节，Content-Length 声明为 {declared} "
                             "字节，未保存任何内容"),
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
        "switch_lang": "English", "switch_lang_code": "en", "colon": "：",
        # an origin certificate's basis (docs/contract.md "Kinds", origin: certificate.basis),
        # as 承诺达标合格证 name them
        "basis.self_test": "自检合格", "basis.commissioned_test": "委托检测合格",
        "basis.internal_control": "内部质量控制合格",
        # the index page at /
        "index.title": "食品追溯服务", "index.intro": "扫摊位二维码查看在售商品的来源、检测和处置。",
        "index.markets": "市场快检公示", "index.no_markets": "暂无登记的市场",
        "index.api": "接口", "index.api_doc": "接口说明（OpenAPI）", "index.checkpoint": "账本检查点",
        "index.console": "监管工作台（需令牌）",
    },
    "en": {
        "app": "Food trace", "stall": "Stall", "holder": "Holder", "market": "Market",
        "licences": "Licences", "licence.business": "Business licence",
        "licence.food": "Food business licence",
        "inspection": "Routine inspection", "inspection.none": "Not inspected yet",
        "inspection.compliant": "Compliant", "inspection.basically_compliant":
            "Basically compliant", "inspection.non_compliant": "Non-compliant",
        "rectification_deadline": "Rectify by", "rectification.open": "Being rectified",
        "rectification.reported": "Rectification reported, awaiting re-inspection",
        "rectification.closed": "Rectified",
        "on_hand": "On sale", "product": "Product", "lot": "Lot", "qty": "Qty",
        "origin": "Origin", "certificate": "Certificate no.", "none_on_hand": "Nothing on sale",
        "entry.supplier": "Supplier", "entry.vouchers": "Vouchers checked", "list.sep": ", ",
        "tests_today": "Today's rapid tests", "item": "Test item", "rate": "Inhibition",
        "result": "Result", "method": "Method", "time": "Time", "sample": "Sample",
        "no_tests_today": "No rapid test today yet",
        "result.negative": "Negative (pass)", "result.suspect": "Suspect (retest)",
        "result.positive": "Positive (fail)", "result.pass": "Pass", "result.fail": "Fail",
        "result.no_limit": "No limit",
        "held": "Off sale", "hold_banner": "These goods are off sale", "recall": "Recall",
        "hold.rapid_positive": "Rapid test positive", "hold.lab_failed": "Lab result failed",
        "record": "Test record", "tests_30d": "Tests, 30 days", "pass_rate": "Pass rate",
        "open_holds": "Open holds", "standing": "Standing", "standing.red": "Red list",
        "standing.black": "Black list", "standing.none": "Not listed", "times": "tests",
        "lab_results": "Laboratory results", "value": "Value", "limit": "Limit",
        "complaint": "Complaints: 12315", "verified": "Verified",
        "verified_text": "These records are in the signed ledger; check the inclusion proofs",
        "witnessed_line": "Witnessed {k}/{n}", "not_witnessed_line": "Not yet witnessed ({k}/{n})",
        "unsigned_text": "Latest tree head (not yet signed)",
        "ledger_size": "Proven against ledger size (tree size)", "root": "Root", "proofs": "Inclusion proofs",
        "pay_ref": "Payment reference", "scan_pay": "Scan to pay · trace",
        "receipt": "Receipt", "receipt_no": "Receipt number", "receipt_total": "Total",
        "unit_price": "Unit price", "amount": "Amount", "pay": "Pay",
        "pay_total": "Pay ¥{total}", "paid": "Paid", "paid_at": "Paid at",
        "provider_ref": "Payment number", "trace": "Trace", "unpaid": "Not paid",
        "receipt_alert": "Goods you bought have been recalled or withdrawn from sale",
        "receipt_alert.what": ("Stop eating them now, keep the goods and this receipt, and ask "
                               "the stall for a refund; see a doctor if you feel unwell, and "
                               "call 12315 to report it."),
        "receipt_alert.recall": "recalled", "receipt_alert.hold": "withdrawn from sale",
        "receipt_tests": "Tests that day", "no_receipt_tests": "No rapid tests that day",
        "receipt_proof": "This purchase is recorded in the signed ledger",
        "receipt_seq": "Ledger record",
        "lot_page": "Lot trace", "path": "Path", "from": "From", "to": "To",
        "received": "Received", "temperatures": "Temperatures", "excursion": "Excursion",
        "producer": "Producer", "issued_at": "Issued", "commitments": "Commitments",
        "basis": "Basis", "no_path": "No shipments", "tests": "Tests",
        "recalled": "This lot is recalled", "held_at": "Held at", "imported": "Imported",
        "import_docs": "Import documents",
        "board": "Rapid-test board", "board_day": "Day", "totals": "Totals",
        "no_board_tests": "No rapid test today yet", "refresh": "Refreshes every 60 s",
        "action": "Action", "action.held": "Off sale", "action.disposed": "Destroyed",
        "action.retesting": "Being retested", "action.released": "Released",
        "action.none": "No action recorded",
        "publication.on_time": "Published before opening",
        "publication.late": "Not published before opening",
        "publication.none": "No test today yet", "opens_at": "Opens", "published_at": "Published",
        "board_inspections": "Today's inspections", "no_board_inspections": "No inspection today",
        "inspections_30d": "Inspections, 30 days", "open_non_compliant": "Non-compliant, not rectified",
        "error": "Error", "error.404": "Not found", "error.400": "Bad request",
        "error.413": "Upload too large", "error.422": "Validation failed",
        "error.409": "Conflicts with a stored record", "error.405": "Method not allowed",
        "error.401": "Credentials required", "error.403": "Forbidden",
        "error.500": "Server error, please try later", "back_home": "Back",
        "error.502": "A peer ledger did not answer, or its answer did not verify",
        "error.host": "This service does not answer to that host name (Host)",
        "error.too_large": "The request body is over the limit of {limit} bytes; nothing was stored",
        "error.wrong_size": ("Wrong size: the body ended after {received} bytes where "
                             "Content-Length declared {declared}; nothing was stored"),
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
        "switch_lang": "中文", "switch_lang_code": "zh", "colon": ": ",
        "basis.self_test": "Self-tested", "basis.commissioned_test": "Tested by a commissioned lab",
        "basis.internal_control": "Internal quality control",
        "index.title": "Food trace service",
        "index.intro": "Scan a stall's QR code to see where its goods come from, their tests "
                       "and what was done.",
        "index.markets": "Rapid-test boards of the markets", "index.no_markets": "No market registered",
        "index.api": "API", "index.api_doc": "API description (OpenAPI)",
        "index.checkpoint": "Ledger checkpoint", "index.console": "Regulator's console (token)",
    },
}

# The regulator's console (service/console/): its own keys, both languages.
TEXT["zh"].update({
    "console": "监管工作台", "console.signin": "登录", "console.signout": "退出登录",
    "console.token": "API 令牌", "console.token_help":
        "粘贴监管部门的只读全部数据（read:all）令牌。令牌不会保存在浏览器中。",
    "console.refused.unknown": "令牌无效或已被吊销",
    "console.refused.not_regulator": "此令牌没有 read:all 权限（仅发给监管部门和运营方），"
                                     "不能登录监管工作台",
    "console.signed_in_as": "当前账号", "console.alerts": "今日预警",
    "console.peer_notices": "其他账本的召回通知",
    "console.peer_notice_help": "以下召回由对方账本的运营方签署，已用本账本登记的对方公钥和"
                                "默克尔包含证明核验。请在本账本中对相关批次发起召回。",
    "console.peer_notice_peer": "来源账本", "console.peer_notice_lots": "召回批次",
    "console.peer_notice_reason": "原因", "console.peer_notice_time": "召回时间",
    "console.peer_notice_proof": "核验依据",
    "console.peer_notice_proven": "已在对方检查点（树大小 {size}）中证明",
    "console.recall_here": "在本账本召回",
    "console.alerts_counts": "预警 {total} 条：严重 {critical}，警告 {warning}",
    "console.alert_place": "地点", "console.alert_lot": "批次",
    "console.needs_write": "此令牌没有 write 权限，不能签名演练或召回（签发令牌时加上 --scope write）",
    "console.alerts_rules": "规则：整改超过 {follow_up_hours} 小时未闭环、发货 {receive_hours} "
                            "小时未收货、每日 {tests_published_by} 前公示快检、近 "
                            "{excursion_days} 天冷链温度异常", "console.find": "查找",
    "console.drill": "追溯演练", "console.recall": "召回", "console.kpi": "示范城市指标",
    "console.find_help": "批次号、摊位、经营主体、事件编号或合格证编号",
    "console.search": "查找", "console.no_matches": "没有找到匹配的记录",
    "console.kind.lot": "批次", "console.kind.event": "事件", "console.kind.certificate": "合格证",
    "console.kind.stall": "摊位", "console.kind.place": "场所", "console.kind.party": "经营主体",
    "console.lot_page": "批次页", "console.stall_page": "摊位页", "console.board": "快检公示",
    "console.event": "事件", "console.proof": "包含证明",
    "console.run_drill": "开始演练", "console.drill_help": "输入可疑批次号",
    "console.answered_in": "用时", "console.origins": "来源", "console.downstream": "下游批次",
    "console.stalls_to_visit": "需要检查的摊位", "console.on_hand": "在库数量",
    "console.received": "收货", "console.sold": "已售", "console.picture": "流通路径图",
    "console.download_report": "记录演练并下载报告（zip）",
    "console.question": "演练问题（可选）", "console.no_stalls": "没有摊位收到此批次",
    "console.canteens_reached": "到达的食堂", "console.schools_reached": "到达的学校食堂",
    "console.canteen": "食堂", "console.school": "学校食堂",
    "console.no_canteens": "没有食堂收到此批次",
    "console.start_recall": "发起召回", "console.reason": "召回原因",
    "console.recall_next": "下一步：确认", "console.recall_confirm_title": "确认召回",
    "console.recall_confirm_text": "将以您的密钥签名，在以下地点下架并召回：",
    "console.recall_sign": "确认并签名召回", "console.cancel": "取消",
    "console.recall_done": "召回已签名生效", "console.visit": "需到场检查",
    "console.in_transit": "在途（到货后不得销售）", "console.recalled_lots": "已召回批次",
    "console.no_stock": "没有地点仍有库存", "console.year": "年份",
    "console.population": "常住人口", "console.show": "查看",
    "console.figure": "指标", "console.target": "目标", "console.met": "达标",
    "console.not_met": "未达标", "console.no_data": "无数据",
    "console.kpi.sampling_batches_per_1000": "每千人食品安全抽检批次",
    "console.kpi.residue_batches_per_1000": "每千人农兽药残留抽检批次",
    "console.kpi.evaluation_pass_rate": "评价性抽检合格率 %",
    "console.kpi.follow_up_rate": "不合格食品核查处置率 %",
    "console.kpi.plan_completion": "抽检计划完成率 %",
    "console.kpi.rapid_tests": "市场快检批次", "console.kpi.rapid_positive_rate": "市场快检阳性率 %",
    "console.kpi.official": "食品安全抽检（监督抽检、评价性抽检、风险监测）",
    "console.kpi.rapid": "市场快检（不属于食品安全抽检，不计入以上指标）",
    "console.kpi.plan": "年度抽检计划", "console.kpi.done": "已完成",
    "console.kpi.no_plan": "本年度没有抽检计划：请填写常住人口。",
    "console.chart": "每日评价性抽检合格率", "console.tests": "抽检批次", "console.evidence": "证据",
    "console.trace": "追溯", "console.since": "起始", "console.no_alerts": "今日没有预警",
    "console.severity.critical": "严重", "console.severity.warning": "警告",
    "console.not_checked": "未检查",
})
TEXT["en"].update({
    "console": "Regulator's console", "console.signin": "Sign in", "console.signout": "Sign out",
    "console.token": "API token", "console.token_help":
        "Paste the regulator's read:all token. The token is not kept in the browser.",
    "console.refused.unknown": "The token is unknown or revoked",
    "console.refused.not_regulator": "This token lacks read:all (issued to regulators and "
                                     "the operator only): it cannot open the console",
    "console.signed_in_as": "Signed in as", "console.alerts": "Today's alerts",
    "console.peer_notices": "Recall notices from other ledgers",
    "console.peer_notice_help": "These recalls were signed in the other ledger and checked "
                                "against the key registered here for it and a Merkle inclusion "
                                "proof. Recall the lots in this ledger.",
    "console.peer_notice_peer": "From ledger", "console.peer_notice_lots": "Lots recalled",
    "console.peer_notice_reason": "Reason", "console.peer_notice_time": "Recalled at",
    "console.peer_notice_proof": "Proof",
    "console.peer_notice_proven": "proven in its checkpoint (tree size {size})",
    "console.recall_here": "Recall in this ledger",
    "console.alerts_counts": "{total} alerts: {critical} critical, {warning} warnings",
    "console.alert_place": "Place", "console.alert_lot": "Lot",
    "console.needs_write": "This token lacks write: it cannot sign a drill or a recall "
                           "(issue it with --scope write)",
    "console.alerts_rules": "Rules: follow-ups open over {follow_up_hours} h, shipments not "
                            "received after {receive_hours} h, rapid tests published by "
                            "{tests_published_by}, cold-chain excursions of the last "
                            "{excursion_days} days",
    "console.find": "Find", "console.drill": "Recall drill", "console.recall": "Recall",
    "console.kpi": "Demonstration-city figures",
    "console.find_help": "A lot, stall, party, event id or certificate number",
    "console.search": "Find", "console.no_matches": "Nothing matches",
    "console.kind.lot": "Lot", "console.kind.event": "Event",
    "console.kind.certificate": "Certificate", "console.kind.stall": "Stall",
    "console.kind.place": "Place", "console.kind.party": "Party",
    "console.lot_page": "Lot page", "console.stall_page": "Stall page",
    "console.board": "Test board", "console.event": "Event", "console.proof": "Inclusion proof",
    "console.run_drill": "Run the drill", "console.drill_help": "The suspect lot's code",
    "console.answered_in": "Answered in", "console.origins": "Origins",
    "console.downstream": "Lots made from it", "console.stalls_to_visit": "Stalls to visit",
    "console.canteens_reached": "Canteens reached", "console.schools_reached": "Schools reached",
    "console.canteen": "Canteen", "console.school": "School canteen",
    "console.no_canteens": "No canteen received this lot",
    "console.on_hand": "On hand", "console.received": "Received", "console.sold": "Sold",
    "console.picture": "Path picture",
    "console.download_report": "Record the drill and download the report (zip)",
    "console.question": "The drill's question (optional)",
    "console.no_stalls": "No stall received this lot",
    "console.start_recall": "Start a recall", "console.reason": "Reason",
    "console.recall_next": "Next: confirm", "console.recall_confirm_title": "Confirm the recall",
    "console.recall_confirm_text": "Signed with your key, it holds and recalls stock at:",
    "console.recall_sign": "Confirm and sign the recall", "console.cancel": "Cancel",
    "console.recall_done": "The recall is signed and in force", "console.visit": "Visit",
    "console.in_transit": "In transit (cannot be sold on arrival)",
    "console.recalled_lots": "Recalled lots", "console.no_stock": "No place holds stock",
    "console.year": "Year", "console.population": "Residents", "console.show": "Show",
    "console.figure": "Figure", "console.target": "Target", "console.met": "Met",
    "console.not_met": "Not met", "console.no_data": "No data",
    "console.kpi.sampling_batches_per_1000": "Official sampling batches per 1,000 residents",
    "console.kpi.residue_batches_per_1000": "Residue batches per 1,000 residents",
    "console.kpi.evaluation_pass_rate": "Evaluation sampling pass rate %",
    "console.kpi.follow_up_rate": "Official failures followed up %",
    "console.kpi.plan_completion": "Sampling plan completed %",
    "console.kpi.rapid_tests": "Market rapid tests",
    "console.kpi.rapid_positive_rate": "Market rapid tests positive %",
    "console.kpi.official": "Official sampling (supervision, evaluation, risk monitoring)",
    "console.kpi.rapid": "Market rapid tests (not official sampling, in no figure above)",
    "console.kpi.plan": "The year's sampling plan", "console.kpi.done": "Done",
    "console.kpi.no_plan": "No sampling plan for this year: give the number of residents.",
    "console.chart": "Daily evaluation sampling pass rate", "console.tests": "Official batches",
    "console.evidence": "Evidence", "console.trace": "Trace", "console.since": "Since",
    "console.no_alerts": "No alert today", "console.severity.critical": "Critical",
    "console.severity.warning": "Warning", "console.not_checked": "Not checked",
})


# The producer page (service/producers.py): both languages.
TEXT["zh"].update({
    "producer.title": "生产者信用", "producer.link": "生产者信用",
    "role.farm": "种养殖生产者", "role.importer": "进口商", "role.wholesaler": "批发商（产地收购）",
    "role.abattoir": "屠宰企业",
    "producer.certificates": "已开具承诺达标合格证", "producer.lots_made": "生产批次",
    "producer.tested_downstream": "下游已检测", "producer.lots": "个批次",
    "producer.tests": "次检测", "producer.newest_lots": "按最近批次统计",
    "producer.tests_window": "近 {days} 天下游检测", "producer.failures": "追溯到的不合格",
    "producer.failures_window": "近 {days} 天", "producer.entry": "进货凭证",
    "producer.found_at": "发现地点", "producer.no_failures": "没有追溯到的不合格",
    "producer.newest_certificates": "最近开具的合格证", "producer.no_certificates": "暂无合格证",
    "producer.printed_producer": "合格证上的生产者",
    "producer.rule.black": "近 {days} 天内有实验室检测不合格追溯到其合格证",
    "producer.rule.red": "近 {days} 天下游检测不少于 {tests} 次，且没有不合格追溯到其合格证",
    "producer.rule.none": "红榜：近 {days} 天下游检测不少于 {tests} 次且无不合格；"
                          "黑榜：近 {days} 天有不合格追溯到其合格证",
})
TEXT["en"].update({
    "producer.title": "Producer standing", "producer.link": "Producer standing",
    "role.farm": "Grower", "role.importer": "Importer", "role.wholesaler": "Wholesaler (collector)",
    "role.abattoir": "Abattoir",
    "producer.certificates": "Origin certificates issued", "producer.lots_made": "Lots made",
    "producer.tested_downstream": "Tested downstream", "producer.lots": "lots",
    "producer.tests": "tests", "producer.newest_lots": "over the newest lots",
    "producer.tests_window": "Tests downstream, last {days} days",
    "producer.failures": "Failures traced back", "producer.failures_window": "last {days} days",
    "producer.entry": "entry voucher", "producer.found_at": "Found at",
    "producer.no_failures": "No failure traced back",
    "producer.newest_certificates": "Newest certificates",
    "producer.no_certificates": "No certificate yet",
    "producer.printed_producer": "Producer as printed",
    "producer.rule.black": "A laboratory failure in the last {days} days traced back to its "
                           "certificates",
    "producer.rule.red": "At least {tests} tests downstream in the last {days} days, and no "
                         "failure traced back to its certificates",
    "producer.rule.none": "Red list: at least {tests} tests downstream in the last {days} "
                          "days and no failure; black list: a failure traced back to its "
                          "certificates in the last {days} days",
})


# The voucher types of an entry (docs/contract.md "entry") as each language names them: the
# Chinese names are the wire values themselves.
VOUCHER_LABELS_EN = {
    "合格证": "Certificate of conformity", "购货凭证": "Purchase voucher", "检测报告": "Test report",
    "动物检疫合格证明": "Animal quarantine certificate",
    "肉品品质检验合格证": "Meat quality certificate", "报关单": "Customs declaration",
    "入境货物检验检疫证明": "Entry inspection certificate", "消毒证明": "Disinfection certificate",
    "其他": "Other document",
}
for _type, _english in VOUCHER_LABELS_EN.items():
    TEXT["zh"][f"voucher.{_type}"] = _type
    TEXT["en"][f"voucher.{_type}"] = _english

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


def lang_arg() -> str | None:
    """The language the request's URL asks for (``?lang=zh`` or ``?lang=en``), to carry on
    in the links a page builds; None when it asks for none (the page then follows
    ``Accept-Language``)."""
    asked = request.args.get("lang")
    return asked if asked in ("zh", "en") else None


def html_lang() -> str:
    return "zh-CN" if current_lang() == "zh" else "en"


# EPCIS 2.0 capture (service/epcis_capture.py): problem titles and details.
TEXT["zh"].update({
    "epcis.invalid": "EPCIS 文档未通过校验，未保存任何事件",
    "epcis.too_large": "EPCIS 文档超过一次采集的上限，未保存任何事件",
    "epcis.version": "不支持所请求的 EPCIS/CBV 版本",
    "epcis.version.detail": "请求头 {header} 为 {asked}，本服务支持 {ours}",
    "epcis.behaviour": "采集出错处理方式无效",
    "epcis.behaviour.detail": "GS1-Capture-Error-Behaviour 应为 rollback 或 proceed，收到 {value}",
    "epcis.media": "请以 JSON 发送 EPCIS 文档",
    "epcis.media.detail": "Content-Type 应为 application/json 或 application/ld+json",
    "epcis.no_capture": "没有这个采集任务",
    "epcis.no_capture.detail": "该采集任务不存在，或不属于此凭证的主体",
})
TEXT["en"].update({
    "epcis.invalid": "The EPCIS document is not valid; no event was stored",
    "epcis.too_large": "The EPCIS document is over one capture's limit; no event was stored",
    "epcis.version": "The EPCIS or CBV version asked for is not supported",
    "epcis.version.detail": "the header {header} asks for {asked}; this service speaks {ours}",
    "epcis.behaviour": "Unknown capture error behaviour",
    "epcis.behaviour.detail": "GS1-Capture-Error-Behaviour must be rollback or proceed, got {value}",
    "epcis.media": "Send the EPCIS document as JSON",
    "epcis.media.detail": "Content-Type must be application/json or application/ld+json",
    "epcis.no_capture": "No such capture",
    "epcis.no_capture.detail": "no capture job has this id, or it is not this token's party's",
})

def method_label(code: str | None) -> str:
    """A rapid test's method as the page's language names it: a standard's code (GB/T …)
    as it is, a technique with no code by its name (tracelib.standards.rapid METHODS)."""
    if not code:
        return ""
    try:
        found = rapid.method(code)
    except ValidationError:
        return code
    if found.code != found.source:  # a technique: "colloidal-gold" is no word for a page
        return found.name_zh if current_lang() == "zh" else found.name_en
    return found.code


def item_label(name: str | None) -> str:
    """A rapid test's item (stored by its Chinese name) in the page's language."""
    if not name or current_lang() == "zh":
        return name or ""
    try:
        return rapid.item(name).name_en
    except ValidationError:
        return name


def basis_label(basis: str | None) -> str:
    """An origin certificate's basis (``self_test`` …) in the page's language."""
    return t(f"basis.{basis}") if basis else ""


def t(key: str) -> str:
    return TEXT[current_lang()].get(key) or TEXT["zh"].get(key) or key
