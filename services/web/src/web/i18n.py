# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""The pages' languages and message catalogue: Traditional Chinese, Simplified Chinese, English.

Each message is one row (English, 繁體, 简体). A key missing from the catalogue shows as itself, so a
forgotten message is visible rather than an error; ``services/web/tests`` checks every row is whole.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES: dict[str, str] = {"zh-Hant": "繁體中文", "zh-Hans": "简体中文", "en": "English"}
HTML_LANG = {"zh-Hant": "zh-Hant-HK", "zh-Hans": "zh-Hans-CN", "en": "en"}
_COLUMN = {"en": 0, "zh-Hant": 1, "zh-Hans": 2}

Translator = Callable[..., str]

MESSAGES: dict[str, tuple[str, str, str]] = {
    # layout
    "careloop": ("careloop", "careloop 客戶關懷", "careloop 客户关怀"),
    "skip": ("Skip to content", "跳到內容", "跳到内容"),
    "language": ("Language", "語言", "语言"),
    "portal": ("Customer portal", "客戶服務", "客户服务"),
    "desk": ("Call centre", "客服台", "客服台"),
    "engineering": ("Engineering", "網絡工程", "网络工程"),
    "campaigns": ("Campaigns", "關懷活動", "关怀活动"),
    "dashboard": ("Supervisor", "主管儀表板", "主管仪表板"),
    "staff_login": ("Staff login", "員工登入", "员工登录"),
    "signed_in_as": ("Signed in as {user}", "已登入：{user}", "已登录：{user}"),
    "logout": ("Log out", "登出", "退出登录"),
    "login": ("Log in", "登入", "登录"),
    "username": ("User name", "用戶名稱", "用户名"),
    "password": ("Password", "密碼", "密码"),
    "login_failed": (
        "That user name and password did not match.",
        "用戶名稱或密碼不正確。",
        "用户名或密码不正确。",
    ),
    "login_needed": (
        "Please log in to see this page.",
        "請先登入以查看此頁。",
        "请先登录以查看此页。",
    ),
    "session_ended": (
        "Your session has ended; please log in again.",
        "登入已逾時，請重新登入。",
        "登录已过期，请重新登录。",
    ),
    "forbidden_title": ("Not for your role", "你的職級無權查看", "你的角色无权查看"),
    "forbidden": (
        "Your account ({roles}) may not use this page.",
        "你的帳戶（{roles}）不能使用此頁。",
        "你的账户（{roles}）不能使用此页。",
    ),
    "not_found_title": ("Not found", "找不到", "找不到"),
    "not_found": ("There is no such page.", "沒有這個頁面。", "没有这个页面。"),
    "error_title": ("Something went wrong", "出現問題", "出现问题"),
    "unreachable": (
        "The platform did not answer. Please try again in a moment.",
        "系統暫時未能回應，請稍後再試。",
        "系统暂时未能响应，请稍后再试。",
    ),
    "rate_limited": (
        "Too many requests just now. Please wait a minute and try again.",
        "請求太多，請稍候一分鐘再試。",
        "请求太多，请稍候一分钟再试。",
    ),
    "csrf": (
        "This form has expired. Please reload the page and try again.",
        "表格已失效，請重新載入頁面再試。",
        "表单已失效，请重新加载页面再试。",
    ),
    "crashed": (
        "This page failed on our side; it has been logged. Please try again.",
        "此頁面出現內部錯誤，已記錄。請再試一次。",
        "此页面出现内部错误，已记录。请再试一次。",
    ),
    "back_home": ("Back to the start", "返回首頁", "返回首页"),
    "try_again": ("Try again", "再試一次", "再试一次"),
    "nothing_here": ("Nothing here yet.", "暫時沒有資料。", "暂时没有数据。"),
    "fix_fields": (
        "Please correct the fields marked below.",
        "請修正以下標示的欄位。",
        "请修正以下标示的字段。",
    ),
    "required": ("required", "必填", "必填"),
    "optional": ("optional", "選填", "选填"),
    "save": ("Save", "儲存", "保存"),
    "submit": ("Submit", "提交", "提交"),
    "search": ("Search", "搜尋", "搜索"),
    "refresh": ("Refresh", "重新整理", "刷新"),
    "none": ("none", "沒有", "没有"),
    "yes": ("yes", "是", "是"),
    "no": ("no", "否", "否"),
    # portal
    "portal_intro": (
        "Tell us where your mobile service is poor, follow your complaint, and see what we know of a place.",
        "告訴我們哪裏的流動網絡不理想，跟進你的投訴，查看某地點的網絡情況。",
        "告诉我们哪里的移动网络不理想，跟进你的投诉，查看某地点的网络情况。",
    ),
    "file_title": ("Report a coverage problem", "報告網絡覆蓋問題", "报告网络覆盖问题"),
    "file_blurb": (
        "Mark the place on the map and tell us what happens there.",
        "在地圖上標出地點，並告訴我們發生了甚麼。",
        "在地图上标出地点，并告诉我们发生了什么。",
    ),
    "track_title": ("Track my complaint", "跟進我的投訴", "跟进我的投诉"),
    "track_blurb": (
        "Use the reference and tracking code you were given.",
        "輸入你收到的參考編號及追蹤碼。",
        "输入你收到的参考编号及追踪码。",
    ),
    "check_title": ("Coverage and plans", "網絡覆蓋及改善計劃", "网络覆盖及改善计划"),
    "check_blurb": (
        "See what we know of a place and the improvements we have planned.",
        "查看某地點的網絡情況及已公佈的改善計劃。",
        "查看某地点的网络情况及已公布的改善计划。",
    ),
    "msisdn": ("Mobile number", "手機號碼", "手机号码"),
    "msisdn_hint": ("e.g. +852 9123 4567", "例如 +852 9123 4567", "例如 +852 9123 4567"),
    "where": ("Where", "地點", "地点"),
    "map_hint": (
        "Click the map to mark the place, or type its coordinates.",
        "點擊地圖標出地點，或輸入座標。",
        "点击地图标出地点，或输入坐标。",
    ),
    "map_label": ("Map of Hong Kong", "香港地圖", "香港地图"),
    "lat": ("Latitude", "緯度", "纬度"),
    "lng": ("Longitude", "經度", "经度"),
    "use_location": ("Use my location", "使用我的位置", "使用我的位置"),
    "address": ("Address or landmark", "地址或地標", "地址或地标"),
    "indoor": ("Indoors", "室內", "室内"),
    "symptoms": ("What happens", "出現的情況", "出现的情况"),
    "network": ("Network", "網絡", "网络"),
    "any_network": ("Not sure", "不確定", "不确定"),
    "description": ("Tell us more", "詳細描述", "详细描述"),
    "follow_up": (
        "Ask our engineers to look into this place",
        "請工程人員跟進此地點",
        "请工程人员跟进此地点",
    ),
    "contact_preference": ("How should we contact you?", "我們應如何聯絡你？", "我们应如何联系你？"),
    "by_sms": ("SMS", "短訊", "短信"),
    "by_call": ("Phone call", "電話", "电话"),
    "reply_language": ("Reply in", "回覆語言", "回复语言"),
    "send_complaint": ("Send my complaint", "提交投訴", "提交投诉"),
    "received": ("We have your complaint", "我們已收到你的投訴", "我们已收到你的投诉"),
    "reference": ("Reference", "參考編號", "参考编号"),
    "tracking_code": ("Tracking code", "追蹤碼", "追踪码"),
    "keep_code": (
        "Keep this code: with the reference it opens your complaint. It is shown only once.",
        "請保存此追蹤碼：連同參考編號可查看你的投訴。追蹤碼只會顯示一次。",
        "请保存此追踪码：连同参考编号可查看你的投诉。追踪码只会显示一次。",
    ),
    "instant_answer": ("What we know of this place", "我們對此地點的了解", "我们对此地点的了解"),
    "answer_under_investigation": (
        "Our engineers are already looking into this area. We will tell you what they find.",
        "工程人員正在調查此地區，有結果後會通知你。",
        "工程人员正在调查此地区，有结果后会通知你。",
    ),
    "answer_unknown": (
        "We have no report on this place yet; our engineers will look into it.",
        "我們暫未有此地點的資料，工程人員會跟進。",
        "我们暂未有此地点的资料，工程人员会跟进。",
    ),
    "answer_unavailable": (
        "We could not look this place up just now; our engineers will look into it.",
        "暫時未能查詢此地點，工程人員會跟進。",
        "暂时未能查询此地点，工程人员会跟进。",
    ),
    "track_it": ("Track this complaint", "跟進此投訴", "跟进此投诉"),
    "not_found_complaint": (
        "No complaint matches that reference and tracking code.",
        "找不到與此參考編號及追蹤碼相符的投訴。",
        "找不到与此参考编号及追踪码相符的投诉。",
    ),
    "status": ("Status", "狀態", "状态"),
    "filed_at": ("Filed", "提交時間", "提交时间"),
    "expected_by": ("We aim to resolve it by", "預計解決時間", "预计解决时间"),
    "timeline": ("What has happened", "處理進度", "处理进度"),
    "answer": ("Answer", "回覆", "回复"),
    "check": ("Check", "查詢", "查询"),
    "levels": ("Coverage", "網絡覆蓋", "网络覆盖"),
    "no_levels": (
        "No coverage report for this place yet.",
        "此地點暫未有覆蓋資料。",
        "此地点暂未有覆盖资料。",
    ),
    "plan": ("Improvement plan", "改善計劃", "改善计划"),
    "no_plan": ("No improvement planned here yet.", "此地點暫未有改善計劃。", "此地点暂未有改善计划。"),
    "published_plans": ("Published improvement plans", "已公佈的改善計劃", "已公布的改善计划"),
    "no_plans": (
        "No improvement plans are published yet.",
        "暫未有已公佈的改善計劃。",
        "暂未有已公布的改善计划。",
    ),
    "target_month": ("Target", "目標月份", "目标月份"),
    "expected": ("Expected after", "完成後預計", "完成后预计"),
    "district": ("District", "地區", "地区"),
    "area": ("Area", "區域", "区域"),
    "plans_unavailable": (
        "The plans could not be loaded just now.",
        "暫時未能載入改善計劃。",
        "暂时未能加载改善计划。",
    ),
    # call-centre desktop
    "caller_number": ("Caller's number", "來電號碼", "来电号码"),
    "look_up": ("Look up", "查詢", "查询"),
    "screen_pop": ("Customer", "客戶資料", "客户资料"),
    "my_queue": ("Queue", "工作隊列", "工作队列"),
    "dialer": ("Dialer", "外撥任務", "外拨任务"),
    "clock_first_response": ("First response", "首次回應", "首次响应"),
    "clock_next_update": ("Next update", "下次更新", "下次更新"),
    "clock_resolution": ("Resolution", "解決期限", "解决期限"),
    "sla_ok": ("on time", "準時", "准时"),
    "sla_warning": ("due soon", "即將到期", "即将到期"),
    "sla_breached": ("overdue", "已逾期", "已逾期"),
    "paused": ("paused", "暫停", "暂停"),
    "queue_empty": (
        "No open complaints here. Well done.",
        "這裏沒有未處理的投訴。",
        "这里没有未处理的投诉。",
    ),
    "open_complaints": ("Open complaints: {n}", "未完成投訴：{n} 宗", "未完成投诉：{n} 宗"),
    "category": ("Category", "類別", "类别"),
    "priority": ("Priority", "優先", "优先"),
    "owner": ("Owner", "負責人", "负责人"),
    "sla": ("SLA timers", "服務時限", "服务时限"),
    "escalated": ("escalated", "已升級", "已升级"),
    "cat_coverage": ("Coverage", "網絡覆蓋", "网络覆盖"),
    "cat_billing": ("Billing", "賬單", "账单"),
    "cat_service": ("Service", "服務", "服务"),
    "cat_value_added_service": ("Value-added service", "增值服務", "增值服务"),
    "cat_staff": ("Staff", "員工", "员工"),
    "cat_other": ("Other", "其他", "其他"),
    "green_channel": ("green channel", "綠色通道", "绿色通道"),
    "view_mine": ("Mine", "我的", "我的"),
    "view_all": ("All open", "全部未完成", "全部未完成"),
    "view_escalated": ("Escalated", "已升級", "已升级"),
    "profile": ("Profile", "客戶概覽", "客户概览"),
    "class": ("Class", "客戶級別", "客户级别"),
    "unknown_class": ("not known", "未知", "未知"),
    "plan_id": ("Plan", "計劃", "套餐"),
    "joined": ("Customer since", "入網日期", "入网日期"),
    "complaints_total": ("Complaints on record", "投訴紀錄", "投诉记录"),
    "profile_from_complaints": (
        "Class from the customer's complaints (the subscriber profile needs campaigns:read).",
        "級別取自客戶投訴紀錄（完整客戶檔案需要 campaigns:read 權限）。",
        "级别取自客户投诉记录（完整客户档案需要 campaigns:read 权限）。",
    ),
    "usual_coverage": ("Coverage where they usually are", "常用地點的網絡覆蓋", "常用地点的网络覆盖"),
    "usual_from": ("The place of complaint {ref}.", "取自投訴 {ref} 的地點。", "取自投诉 {ref} 的地点。"),
    "no_usual": ("No location known for this customer.", "沒有此客戶的地點資料。", "没有此客户的地点资料。"),
    "opt_outs": ("Opt-outs", "拒收設定", "拒收设置"),
    "part_unavailable": (
        "This part could not be loaded just now.",
        "此部分暫時未能載入。",
        "此部分暂时未能加载。",
    ),
    "no_opt_outs": ("No opt-outs: contacts are allowed.", "沒有拒收設定。", "没有拒收设置。"),
    "open_complaints_title": ("Open complaints", "未完成投訴", "未完成投诉"),
    "no_open": ("No open complaints.", "沒有未完成的投訴。", "没有未完成的投诉。"),
    "past_complaints": ("Past complaints", "過往投訴", "过往投诉"),
    "no_past": ("No past complaints.", "沒有過往投訴。", "没有过往投诉。"),
    "recent_contacts": ("Recent messages and calls", "最近的短訊及來電", "最近的短信及来电"),
    "no_contacts": ("No messages or calls yet.", "暫未有短訊或來電。", "暂未有短信或来电。"),
    "when": ("When", "時間", "时间"),
    "channel": ("Channel", "渠道", "渠道"),
    "template": ("Template", "範本", "模板"),
    "file_for_them": ("File a complaint for this caller", "為此客戶登記投訴", "为此客户登记投诉"),
    "file_and_answer": ("File and get the answer", "登記並查看回覆", "登记并查看回复"),
    "filed_note": (
        "Filed. You own this complaint to its end.",
        "已登記。你會負責此投訴直至完結。",
        "已登记。你会负责此投诉直至完结。",
    ),
    "read_and_close": (
        "Read it to the caller; if that answers them, reply and close now.",
        "向客戶讀出回覆；如客戶滿意，即可回覆並結案。",
        "向客户读出回复；如客户满意，即可回复并结案。",
    ),
    "details": ("Details", "詳情", "详情"),
    "resolution": ("Resolution", "解決方法", "解决方法"),
    "history": ("History", "紀錄", "记录"),
    "actions": ("What next", "下一步", "下一步"),
    "take": ("Take it", "接手處理", "接手处理"),
    "reply_close": ("Reply and close", "回覆並結案", "回复并结案"),
    "reply_text": ("Reply to the customer", "給客戶的回覆", "给客户的回复"),
    "change_status": ("Change status", "更改狀態", "更改状态"),
    "reason": ("Why", "原因", "原因"),
    "transfer": ("Transfer", "轉交", "转交"),
    "to_owner": ("To (user name or queue:…)", "轉交給（用戶名稱或 queue:…）", "转交给（用户名或 queue:…）"),
    "ended": ("This complaint has ended.", "此投訴已完結。", "此投诉已完结。"),
    "call_now": ("Call", "致電", "致电"),
    "purpose": ("Purpose", "目的", "目的"),
    "script": ("What to say", "通話內容", "通话内容"),
    "outcome": ("Outcome", "結果", "结果"),
    "out_answered": ("Answered", "已接聽", "已接听"),
    "out_no_answer": ("No answer", "無人接聽", "无人接听"),
    "out_busy": ("Busy", "線路繁忙", "线路繁忙"),
    "out_wrong_number": ("Wrong number", "號碼錯誤", "号码错误"),
    "disposition": ("Disposition", "處理結果", "处理结果"),
    "notes": ("Notes", "備註", "备注"),
    "record_outcome": ("Record the outcome", "記錄結果", "记录结果"),
    "no_calls": ("No call is waiting for you.", "暫時沒有待撥的電話。", "暂时没有待拨的电话。"),
    "next_call": ("Next call", "下一個電話", "下一个电话"),
    # engineering console
    "eng_queue": ("Investigation queue", "調查隊列", "调查队列"),
    "eng_queue_empty": ("No open investigations.", "沒有進行中的調查。", "没有进行中的调查。"),
    "eng_queue_caption": (
        "{n} open investigations, most pressing first",
        "{n} 項調查，最緊急的排先",
        "{n} 项调查，最紧急的排前",
    ),
    "hex_map": ("Area map", "區域地圖", "区域地图"),
    "hex_map_blurb": (
        "Areas with complaints in the last 30 days: colour is the worst level on record, "
        "strength the number of complaints.",
        "過去 30 日有投訴的區域：顏色代表最差的覆蓋水平，深淺代表投訴數量。",
        "过去 30 日有投诉的区域：颜色代表最差的覆盖水平，深浅代表投诉数量。",
    ),
    "hex_label": (
        "Area {area}: {n} complaints, worst level {level}",
        "區域 {area}：{n} 宗投訴，最差 {level}",
        "区域 {area}：{n} 宗投诉，最差 {level}",
    ),
    "hex_table": ("Areas by complaints", "按投訴數排列的區域", "按投诉数排列的区域"),
    "no_hotspots": (
        "No complaints with a place in the last 30 days.",
        "過去 30 日沒有附地點的投訴。",
        "过去 30 日没有附地点的投诉。",
    ),
    "complaints_n": ("Complaints", "投訴", "投诉"),
    "customers_n": ("Customers", "客戶", "客户"),
    "high_value_n": ("High value", "高價值", "高价值"),
    "worst_level": ("Worst level", "最差水平", "最差水平"),
    "not_rated": ("not rated", "未評估", "未评估"),
    "survey_due": ("Survey due", "勘察期限", "勘察期限"),
    "level": ("Level", "水平", "水平"),
    "source": ("Source", "來源", "来源"),
    "investigation": ("Investigation", "調查", "调查"),
    "no_investigation": (
        "No open investigation here.",
        "此區域沒有進行中的調查。",
        "此区域没有进行中的调查。",
    ),
    "weekly_history": ("Complaints per week", "每週投訴", "每周投诉"),
    "area_complaints": ("Complaints in this area", "此區域的投訴", "此区域的投诉"),
    "no_area_complaints": (
        "No recent complaints in this area.",
        "此區域最近沒有投訴。",
        "此区域最近没有投诉。",
    ),
    "plans": ("Plans", "改善計劃", "改善计划"),
    "target_date": ("Target date", "目標日期", "目标日期"),
    "assess": ("Assess this area", "評估此區域", "评估此区域"),
    "findings": ("Findings", "調查結果", "调查结果"),
    "plan_action": ("Action", "措施", "措施"),
    "no_plan_now": ("No plan now", "暫不安排", "暂不安排"),
    "expected_hint": (
        "Expected levels after the work (blank: the levels above).",
        "完成後預計的覆蓋水平（留空即沿用上面的水平）。",
        "完成后预计的覆盖水平（留空即沿用上面的水平）。",
    ),
    "record_assessment": ("Record the assessment", "記錄評估", "记录评估"),
    "wording": ("Wording for customers", "對客戶的說明", "对客户的说明"),
    "wording_hint": (
        "An assessment drafts it; edit, then publish: the front line and the portal answer with it at once.",
        "評估後會自動起草；修改後發佈，前線及網站即會以此回覆客戶。",
        "评估后会自动起草；修改后发布，前线及网站即会以此回复客户。",
    ),
    "published_v": ("published v{v}", "已發佈 v{v}", "已发布 v{v}"),
    "draft": ("draft", "草稿", "草稿"),
    "now_published": ("Published now", "目前已發佈", "目前已发布"),
    "save_drafts": ("Save drafts", "儲存草稿", "保存草稿"),
    "publish": ("Publish", "發佈", "发布"),
    "saved_assessed": (
        "Assessment recorded; review the wording below and publish it.",
        "評估已記錄；請檢查下面的說明並發佈。",
        "评估已记录；请检查下面的说明并发布。",
    ),
    "saved_published": ("Wording published.", "說明已發佈。", "说明已发布。"),
    "saved_drafted": ("Drafts saved.", "草稿已儲存。", "草稿已保存。"),
    "saved_plan": ("Plan updated.", "計劃已更新。", "计划已更新。"),
    "footer": (
        "careloop · open customer care · pages served locally, no trackers",
        "careloop · 開放客戶關懷平台 · 頁面全部本地提供，沒有追蹤",
        "careloop · 开放客户关怀平台 · 页面全部本地提供，没有追踪",
    ),
}


def normalise(language: str | None) -> str | None:
    """Map a language tag (``zh-HK``, ``zh_TW``, ``zh-CN``, ``en-GB`` …) to one we speak, else None."""
    if not language:
        return None
    tag = language.strip().replace("_", "-").lower()
    if tag in ("zh-hant", "zh-hk", "zh-tw", "zh-mo") or tag.startswith(("zh-hant", "yue")):
        return "zh-Hant"
    if tag in ("zh", "zh-hans", "zh-cn", "zh-sg") or tag.startswith("zh-hans"):
        return "zh-Hans"
    if tag.startswith("zh-"):
        return "zh-Hant"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """Pick the first language we speak from an Accept-Language header, by its q order."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((-weight, index, tag))
    for _, _, tag in sorted(weighted):
        found = normalise(tag)
        if found:
            return found
    return None


def translator(language: str) -> Translator:
    """Return ``t(key, **values)`` for a language; unknown keys show as themselves."""
    column = _COLUMN.get(language, 0)

    def t(key: str, **values: object) -> str:
        row = MESSAGES.get(key)
        text = row[column] if row else key
        return text.format(**values) if values else text

    return t


# Labels of the platform's codes (symptoms, statuses, levels …) in each language.
LABELS: dict[str, tuple[str, str, str]] = {
    "no_signal": ("No signal", "沒有訊號", "没有信号"),
    "weak_signal": ("Weak signal", "訊號弱", "信号弱"),
    "call_drop": ("Calls drop", "通話中斷", "通话中断"),
    "cannot_call": ("Cannot make calls", "無法撥出", "无法拨出"),
    "poor_voice": ("Poor voice quality", "通話質素差", "通话质量差"),
    "slow_data": ("Slow data", "上網速度慢", "上网速度慢"),
    "no_data": ("No data", "無法上網", "无法上网"),
    "sms_failure": ("SMS fails", "短訊失敗", "短信失败"),
    "acknowledged": ("Received", "已受理", "已受理"),
    "inProgress": ("In progress", "處理中", "处理中"),
    "pending": ("Waiting for you", "等待你的回覆", "等待你的回复"),
    "held": ("On hold", "暫緩", "暂缓"),
    "resolved": ("Resolved", "已解決", "已解决"),
    "closed": ("Closed", "已結案", "已结案"),
    "rejected": ("Rejected", "不受理", "不受理"),
    "cancelled": ("Cancelled", "已取消", "已取消"),
    "filed": ("Complaint received", "收到投訴", "收到投诉"),
    "assigned": ("A care officer took it", "客戶主任已接手", "客户主任已接手"),
    "answer_attached": ("Engineering answered", "工程部已回覆", "工程部已回复"),
    "follow_up_requested": ("Sent to engineering", "已轉交工程部", "已转交工程部"),
    "plan_scheduled": ("Improvement planned", "已安排改善", "已安排改善"),
    "dispatched": ("Your care officer will reply", "客戶主任將回覆你", "客户主任将回复你"),
    "status_changed": ("Status changed", "狀態更新", "状态更新"),
    "notice_sent": ("SMS sent", "已發短訊", "已发短信"),
    "transferred": ("Handed over", "已轉交", "已转交"),
    "sla_warning": ("Deadline near", "接近期限", "接近期限"),
    "sla_breached": ("Deadline passed", "已過期限", "已过期限"),
    "revisit_completed": ("Customer rated us", "客戶已評價", "客户已评价"),
    "revisit_sent": ("We asked how we did", "已邀請你評價服務", "已邀请你评价服务"),
    "published": ("Answered", "已有回覆", "已有回复"),
    "under_investigation": ("Under investigation", "調查中", "调查中"),
    "unknown": ("Not known yet", "暫無資料", "暂无资料"),
    "unavailable": ("Not available", "暫時未能查詢", "暂时未能查询"),
    "none": ("No coverage", "沒有覆蓋", "没有覆盖"),
    "weak": ("Weak", "弱", "弱"),
    "normal": ("Normal", "正常", "正常"),
    "good": ("Good", "良好", "良好"),
    "voice": ("Calls", "通話", "通话"),
    "data": ("Data", "數據", "数据"),
    "new_site": ("New site", "新增基站", "新增基站"),
    "sector_tuning": ("Antenna tuning", "天線調整", "天线调整"),
    "indoor_system": ("Indoor system", "室內覆蓋系統", "室内覆盖系统"),
    "repeater": ("Repeater", "訊號放大器", "信号放大器"),
    "capacity": ("More capacity", "擴容", "扩容"),
    "planned": ("Planned", "已計劃", "已计划"),
    "in_progress": ("In progress", "進行中", "进行中"),
    "done": ("Done", "已完成", "已完成"),
}


def labeller(language: str) -> Callable[[str | None], str]:
    """Return ``label(code)``: a code's name in a language, or the code itself when it has none."""
    column = _COLUMN.get(language, 0)

    def label(code: str | None) -> str:
        if code is None:
            return ""
        row = LABELS.get(code)
        return row[column] if row else code

    return label
