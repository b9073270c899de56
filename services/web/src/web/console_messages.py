# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""Messages of the campaign console and the supervisor dashboard, in the catalogue's three columns
(English, 繁體, 简体). Kept apart from ``i18n.MESSAGES`` so each console owns its words; ``install``
adds them to the shared catalogue (where the completeness test reads every row)."""

from __future__ import annotations

from web.i18n import MESSAGES

STATUS = {
    "draft": ("draft", "草稿", "草稿"),
    "submitted": ("awaiting approval", "待審批", "待审批"),
    "approved": ("approved", "已批准", "已批准"),
    "rejected": ("rejected", "已駁回", "已驳回"),
    "scheduled": ("scheduled", "已排期", "已排期"),
    "running": ("running", "執行中", "执行中"),
    "paused": ("paused", "已暫停", "已暂停"),
    "completed": ("completed", "已完成", "已完成"),
    "evaluated": ("evaluated", "已評估", "已评估"),
    "cancelled": ("cancelled", "已取消", "已取消"),
}
MOVE = {
    "submitted": ("Submit for approval", "提交審批", "提交审批"),
    "approved": ("Approve", "批准", "批准"),
    "rejected": ("Reject", "駁回", "驳回"),
    "draft": ("Back to draft", "退回草稿", "退回草稿"),
    "cancelled": ("Cancel campaign", "取消活動", "取消活动"),
    "running": ("Start running", "開始執行", "开始执行"),
    "scheduled": ("Schedule", "排期", "排期"),
    "paused": ("Pause", "暫停", "暂停"),
    "completed": ("Complete", "完成", "完成"),
    "evaluated": ("Mark evaluated", "標記為已評估", "标记为已评估"),
}
CATEGORY = {
    "coverage": ("coverage", "網絡覆蓋", "网络覆盖"),
    "billing": ("billing", "賬單", "账单"),
    "service": ("service", "服務", "服务"),
    "value_added_service": ("value-added service", "增值服務", "增值服务"),
    "staff": ("staff", "員工", "员工"),
    "other": ("other", "其他", "其他"),
}
CLOCK = {
    "first_response": ("first response", "首次回覆", "首次回复"),
    "next_update": ("next update", "下次更新", "下次更新"),
    "resolution": ("resolution", "解決", "解决"),
}
OUTCOME = {
    "accepted": ("waiting to send", "等待發送", "等待发送"),
    "sent": ("sent", "已發送", "已发送"),
    "delivered": ("delivered", "已送達", "已送达"),
    "failed": ("failed", "失敗", "失败"),
    "suppressed": ("suppressed", "已抑制", "已抑制"),
}
FIGURE = {
    "targeted": ("targeted", "目標客戶", "目标客户"),
    "held_out": ("held out (control)", "對照組", "对照组"),
    "suppressed": ("suppressed", "已抑制", "已抑制"),
    "sent": ("sent", "已發送", "已发送"),
    "delivered": ("delivered", "已送達", "已送达"),
    "failed": ("failed", "失敗", "失败"),
    "converted": ("converted", "已轉化", "已转化"),
}

CONSOLE_MESSAGES: dict[str, tuple[str, str, str]] = {
    **{f"status_{k}": v for k, v in STATUS.items()},
    **{f"move_{k}": v for k, v in MOVE.items()},
    **{f"category_{k}": v for k, v in CATEGORY.items()},
    **{f"clock_{k}": v for k, v in CLOCK.items()},
    **{f"outcome_{k}": v for k, v in OUTCOME.items()},
    **{f"figure_{k}": v for k, v in FIGURE.items()},
    # shared words
    "filter": ("Show", "顯示", "显示"),
    "all": ("all", "全部", "全部"),
    "status": ("Status", "狀態", "状态"),
    "name": ("Name", "名稱", "名称"),
    "kind": ("Template", "範本", "模板"),
    "author": ("Author", "撰寫人", "撰写人"),
    "approver": ("Approver", "審批人", "审批人"),
    "runs": ("Runs", "執行次數", "执行次数"),
    "see": ("See", "查看", "查看"),
    "no_data": ("no data yet", "暫無數據", "暂无数据"),
    "region": ("Region", "地區", "地区"),
    "category": ("Category", "類別", "类别"),
    "when": ("When", "時間", "时间"),
    "who": ("Who", "人員", "人员"),
    "what": ("What", "事項", "事项"),
    "note": ("Note", "備註", "备注"),
    "reason": ("Reason", "原因", "原因"),
    "customers": ("Customers", "客戶", "客户"),
    "edit": ("Edit", "編輯", "编辑"),
    # list and catalogue
    "catalogue_title": ("Care catalogue", "關懷範本目錄", "关怀模板目录"),
    "catalogue_intro": (
        "Start a campaign from one of the seeds' kinds of care; everything can be changed in the builder.",
        "從以下關懷類別的範本開始建立活動，所有內容都可以在編輯器中修改。",
        "从以下关怀类别的模板开始创建活动，所有内容都可以在编辑器中修改。",
    ),
    "draft_from": ("Draft from this template", "以此範本起草", "以此模板起草"),
    "campaigns_count": ("{total} campaigns", "共 {total} 個活動", "共 {total} 个活动"),
    "no_campaigns": (
        "No campaigns yet. Start one from the care catalogue.",
        "暫時沒有活動，請從關懷範本目錄開始。",
        "暂时没有活动，请从关怀模板目录开始。",
    ),
    "tab_campaign": ("Campaign", "活動", "活动"),
    "tab_monitor": ("Live monitor", "即時監察", "实时监控"),
    "tab_evaluation": ("Evaluation", "成效評估", "效果评估"),
    # builder
    "builder_title": ("New care campaign", "新關懷活動", "新关怀活动"),
    "basics": ("What and why", "活動內容與目標", "活动内容与目标"),
    "goal": ("Goal", "目標", "目标"),
    "channel": ("Channel", "渠道", "渠道"),
    "channel_sms": ("SMS", "短訊", "短信"),
    "channel_voice_call": ("Voice call", "電話", "电话"),
    "audience": ("Audience", "目標客群", "目标客群"),
    "audience_tree": ("Conditions (JSON)", "條件（JSON）", "条件（JSON）"),
    "audience_hint": ("empty: every customer", "留空即全部客戶", "留空即全部客户"),
    "audience_examples": ("Examples", "例子", "例子"),
    "audience_grammar": (
        "all / any / not combine conditions; see docs/segments.md for every field and operator.",
        "用 all / any / not 組合條件；所有欄位及運算子見 docs/segments.md。",
        "用 all / any / not 组合条件；所有字段及运算符见 docs/segments.md。",
    ),
    "preview_audience": ("Count the audience", "計算客群人數", "计算客群人数"),
    "preview_hint": (
        "The count appears here as you type.",
        "輸入條件時，人數會在此顯示。",
        "输入条件时，人数会在此显示。",
    ),
    "segment_refused": ("These conditions cannot be used", "這些條件無法使用", "这些条件无法使用"),
    "audience_count": ("{count} customers", "{count} 位客戶", "{count} 位客户"),
    "audience_everyone": ("(every customer)", "（全部客戶）", "（全部客户）"),
    "audience_as_of": ("as of {today}", "截至 {today}", "截至 {today}"),
    "audience_sample": ("A few of them (numbers masked)", "部分客戶（號碼已遮蔽）", "部分客户（号码已遮蔽）"),
    "number": ("Number", "號碼", "号码"),
    "plan": ("Plan", "計劃", "套餐"),
    "class": ("Class", "級別", "级别"),
    "stage": ("Life-cycle stage", "生命週期", "生命周期"),
    "content": ("Message", "訊息內容", "消息内容"),
    "content_hint": (
        "Each customer gets the text in their language, else the first one given. Chinese text is sent "
        "as UCS-2: 70 characters in one SMS, 67 a part when longer.",
        "每位客戶收到其語言的訊息，否則收到第一個已填寫的版本。"
        "中文以 UCS-2 發送：一則短訊 70 字，較長時每段 67 字。",
        "每位客户收到其语言的消息，否则收到第一个已填写的版本。"
        "中文以 UCS-2 发送：一条短信 70 字，较长时每段 67 字。",
    ),
    "sms_count": (
        "{encoding} · {units} characters · {parts} SMS · {left} left",
        "{encoding} · {units} 字 · {parts} 則短訊 · 尚餘 {left} 字",
        "{encoding} · {units} 字 · {parts} 条短信 · 还剩 {left} 字",
    ),
    "trigger": ("When it runs", "執行時間", "执行时间"),
    "trigger_once": ("Once", "一次", "一次"),
    "trigger_schedule": ("On a schedule", "定期", "定期"),
    "trigger_event": ("When an event happens", "事件觸發", "事件触发"),
    "trigger_at": ("At", "時間", "时间"),
    "trigger_at_hint": (
        "Hong Kong time; empty: as soon as it runs",
        "香港時間；留空即開始執行時",
        "香港时间；留空即开始执行时",
    ),
    "trigger_cron": ("Schedule (cron)", "排程（cron）", "排程（cron）"),
    "time_zone": ("Time zone", "時區", "时区"),
    "trigger_subject": ("Event", "事件", "事件"),
    "once_per_days": ("At most once in (days)", "每客戶最少相隔（日）", "每客户最少相隔（天）"),
    "trigger_condition": ("Condition after the event (JSON)", "事件後的條件（JSON）", "事件后的条件（JSON）"),
    "rules": ("Contact rules and goal", "接觸規則與目標", "接触规则与目标"),
    "control_share": ("Control group (%)", "對照組（%）", "对照组（%）"),
    "control_hint": (
        "A share of the audience (0–50 %) is held out and not contacted, "
        "to measure what the campaign changes.",
        "部分客群（0–50%）不會被接觸，作為對照以衡量活動成效。",
        "部分客群（0–50%）不会被接触，作为对照以衡量活动效果。",
    ),
    "cap_per_customer": ("Contacts per customer (at most)", "每位客戶最多接觸次數", "每位客户最多接触次数"),
    "min_gap_days": ("Days between contacts", "接觸相隔日數", "接触相隔天数"),
    "conversion_event": ("Conversion event", "轉化事件", "转化事件"),
    "conversion_days": ("Within (days)", "期限（日）", "期限（天）"),
    "conversion_absent": (
        "converted when no such event follows",
        "沒有此事件即算轉化",
        "没有此事件即算转化",
    ),
    "within_days": ("within {days} days", "{days} 日內", "{days} 天内"),
    "save_draft": ("Save draft", "儲存草稿", "保存草稿"),
    "campaign_saved": ("The campaign is saved.", "活動已儲存。", "活动已保存。"),
    # the campaign's page
    "about_campaign": ("The campaign", "活動資料", "活动资料"),
    "next_steps": ("Next steps", "下一步", "下一步"),
    "you_are_author": (
        "You wrote this campaign: someone else with the approver role must approve or reject it.",
        "此活動由你撰寫：須由另一位審批人批准或駁回。",
        "此活动由你撰写：须由另一位审批人批准或驳回。",
    ),
    "approval_note": ("Note for the author", "給撰寫人的備註", "给撰写人的备注"),
    "run_now": ("Run now", "立即執行", "立即执行"),
    "no_moves": ("Nothing for you to do here now.", "你目前無需處理。", "你目前无需处理。"),
    "history": ("History", "紀錄", "记录"),
    "move_refused": ("Not done:", "未能執行：", "未能执行："),
    "approver_is_author": (
        "The author of a campaign cannot approve or reject it; another approver must.",
        "活動撰寫人不能批准或駁回自己的活動，須由另一位審批人處理。",
        "活动撰写人不能批准或驳回自己的活动，须由另一位审批人处理。",
    ),
    "illegal_move": (
        "The campaign cannot make that move from where it is now.",
        "活動目前的狀態不能作此變更。",
        "活动目前的状态不能作此变更。",
    ),
    "run_done": (
        "Run {run} done: {targeted} customers targeted, {held_out} held out.",
        "第 {run} 次執行完成：目標客戶 {targeted} 位，對照組 {held_out} 位。",
        "第 {run} 次执行完成：目标客户 {targeted} 位，对照组 {held_out} 位。",
    ),
    # monitor
    "live_counts": ("Live counts", "即時數字", "实时数字"),
    "auto_refresh": ("(updates every {seconds} s)", "（每 {seconds} 秒更新）", "（每 {seconds} 秒更新）"),
    "outcomes_title": ("Contacts of the targeted customers", "目標客戶的接觸結果", "目标客户的接触结果"),
    "suppressed_by_reason": ("Suppressed, by reason", "被抑制的原因", "被抑制的原因"),
    "none_suppressed": ("None suppressed.", "沒有被抑制的接觸。", "没有被抑制的接触。"),
    "frequency_title": (
        "How often campaigns contacted customers",
        "客戶被活動接觸的次數",
        "客户被活动接触的次数",
    ),
    "frequency_axis": ("contacts per customer", "每位客戶接觸次數", "每位客户接触次数"),
    "frequency_hint": (
        "Customers by the number of campaign contacts they received (all campaigns).",
        "按收到活動接觸次數劃分的客戶人數（所有活動）。",
        "按收到活动接触次数划分的客户人数（所有活动）。",
    ),
    # evaluation
    "no_goal": (
        "This campaign has no conversion goal, so there is nothing to evaluate.",
        "此活動沒有轉化目標，無法評估。",
        "此活动没有转化目标，无法评估。",
    ),
    "goal_is": (
        "Conversion: a {event} event within {days} days.",
        "轉化：{days} 日內出現 {event} 事件。",
        "转化：{days} 天内出现 {event} 事件。",
    ),
    "uplift_title": ("Uplift: treatment against control", "提升：目標組對比對照組", "提升：目标组对比对照组"),
    "uplift": ("uplift", "提升", "提升"),
    "uplift_significant": (
        "The 95 % interval excludes zero: the campaign made a difference.",
        "95% 置信區間不包含零：活動有明顯成效。",
        "95% 置信区间不包含零：活动有明显效果。",
    ),
    "uplift_not_significant": (
        "The 95 % interval includes zero: no difference can be shown yet.",
        "95% 置信區間包含零：暫時未能證明有差異。",
        "95% 置信区间包含零：暂时未能证明有差异。",
    ),
    "uplift_unknown": (
        "Not enough members in both arms to compare yet.",
        "兩組人數未足以比較。",
        "两组人数未足以比较。",
    ),
    "conversion_title": ("Conversion per arm", "各組轉化率", "各组转化率"),
    "arm": ("Arm", "組別", "组别"),
    "arm_treatment": ("treatment", "目標組", "目标组"),
    "arm_control": ("control", "對照組", "对照组"),
    "members": ("Members", "人數", "人数"),
    "before": ("before", "活動前", "活动前"),
    "after": ("after", "活動後", "活动后"),
    "complaints_title": (
        "Share who complained, {days} days before and after",
        "投訴客戶比例（前後 {days} 日）",
        "投诉客户比例（前后 {days} 天）",
    ),
    "complaints_caption": ("Complaint share before and after", "活動前後投訴比例", "活动前后投诉比例"),
    "churn_title": ("Share who left the operator", "離網比例", "离网比例"),
    "churn_caption": ("Churn", "離網", "离网"),
    "survey_title": ("Survey answers by SMS", "短訊調查回覆", "短信调查回复"),
    "survey_caption": ("Survey satisfaction", "調查滿意度", "调查满意度"),
    "survey_satisfied": ("satisfied", "滿意", "满意"),
    "survey_dissatisfied": ("not satisfied", "不滿意", "不满意"),
    "survey_other": ("other answers", "其他回覆", "其他回复"),
    "survey_summary": (
        "{answered} answers; satisfaction {share}",
        "共 {answered} 個回覆；滿意度 {share}",
        "共 {answered} 个回复；满意度 {share}",
    ),
    "not_reported": (
        "This platform version does not report this figure.",
        "此平台版本未提供此數字。",
        "此平台版本未提供此数字。",
    ),
    # supervisor dashboard
    "period_from": ("From", "由", "从"),
    "period_to": ("To", "至", "至"),
    "complaints_filed": ("Complaints", "投訴", "投诉"),
    "sla_resolution": ("Resolution within SLA", "按時解決", "按时解决"),
    "still_open": ("Still open", "未結案", "未结案"),
    "fcr": ("First-contact resolution", "首次接觸解決率", "首次接触解决率"),
    "breached": ("SLA breached", "超出服務時限", "超出服务时限"),
    "escalated_open": ("Escalated, open", "已升級（未結）", "已升级（未结）"),
    "median_close": ("Median time to close", "結案時間中位數", "结案时间中位数"),
    "revisit_satisfied": ("Satisfied at revisit", "回訪滿意", "回访满意"),
    "no_complaints_period": (
        "No complaints in this period.",
        "此期間沒有投訴。",
        "此期间没有投诉。",
    ),
    "sla_title": (
        "SLA compliance and first-contact resolution",
        "服務時限達標率及首次接觸解決率",
        "服务时限达标率及首次接触解决率",
    ),
    "clock": ("Clock", "時限", "时限"),
    "compliance": ("Compliance", "達標率", "达标率"),
    "weeks_title": ("Complaints per week", "每週投訴", "每周投诉"),
    "categories_title": ("Complaints per category", "按類別投訴", "按类别投诉"),
    "areas_title": ("Areas with most complaints", "投訴最多的地區", "投诉最多的地区"),
    "area": ("Area (H3 cell)", "地區（H3 格）", "地区（H3 格）"),
    "no_area": ("no place given", "沒有地點", "没有地点"),
    "handlers_title": ("Handlers", "處理人員", "处理人员"),
    "owner": ("Owner", "負責人", "负责人"),
    "escalations_title": ("Escalated complaints", "已升級投訴", "已升级投诉"),
    "reference": ("Reference", "編號", "编号"),
    "queue": ("Queue", "隊列", "队列"),
    "clocks": ("Clocks", "時限", "时限"),
    "filed": ("Filed", "提交時間", "提交时间"),
    "no_escalations": ("No escalated complaints open.", "沒有未結的升級投訴。", "没有未结的升级投诉。"),
}


def install() -> None:
    """Add the consoles' messages to the shared catalogue (a key already there is kept)."""
    for key, row in CONSOLE_MESSAGES.items():
        MESSAGES.setdefault(key, row)
