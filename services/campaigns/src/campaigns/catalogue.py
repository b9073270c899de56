# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""The care catalogue: the seeds' eight kinds of care and their activities as built-in templates.

A template is a starting point for a campaign: its kind, a default audience, trigger, content in
each language, contact rules and conversion goal, drawn from the Fujian Mobile case (seed 001).
A marketer drafts a campaign from one (``kind`` names it) and edits what they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The eight kinds of care the seeds sort their 33 activities into.
KINDS = {
    "bill_information": "Bill information (话费信息)",
    "value_added_services": "Value-added services (增值业务)",
    "tariff_communication": "Tariff communication (资费沟通)",
    "differentiated_service": "Differentiated service (差异化服务)",
    "humanistic_care": "Humanistic care (人文关怀)",
    "complaint_follow_up": "Complaint follow-up care (投诉追踪关怀)",
    "loyalty_points": "Loyalty points (积分计划)",
    "retention": "Retention (客户挽留关怀)",
}


@dataclass(frozen=True)
class Template:
    """A built-in campaign template."""

    id: str
    kind: str
    name: str
    goal: str
    trigger: dict[str, Any]
    content: dict[str, str]
    audience: dict[str, Any] | None = None
    conversion: dict[str, Any] | None = None
    cap_per_customer: int = 1
    min_gap_days: int = 0
    control_share: float = 0.1
    channel: str = "sms"
    notes: str = ""
    tags: tuple[str, ...] = field(default=())


def _low_balance() -> dict[str, Any]:
    # Seed 001, case 1: 88 % of customers cut off reconnect within three days, so remind them
    # when the balance covers less than three days of their recent spend.
    return {"field": "balance", "op": "<", "expr": {"mul": [3, {"field": "avg_daily_spend_3d"}]}}


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template(
            id="balance_reminder",
            kind="bill_information",
            name="Dynamic balance reminder",
            goal="Fewer customers cut off for a low balance",
            trigger={
                "type": "event",
                "subject": "feeds.bss.balance_changed",
                "condition": _low_balance(),
                "once_per_days": 30,
            },
            content={
                "zh-Hant": "您的話費餘額約夠用三天，請及早增值，以免停機。",
                "zh-Hans": "您的话费余额约够用三天，请及早充值，以免停机。",
                "en": "Your balance will last about three more days. Top up soon to stay connected.",
            },
            conversion={"event": "payment.received", "within_days": 3},
            cap_per_customer=12,
            min_gap_days=7,
            notes="seed 001 case 1: remind three days before the balance runs out",
        ),
        Template(
            id="prefix_long_distance",
            kind="tariff_communication",
            name="Cheap long-distance prefix (12593), at the call",
            goal="Customers making long-distance calls learn the cheap prefix",
            trigger={
                "type": "event",
                "subject": "feeds.network.call_detail",
                # At the long-distance call itself, to a customer who does not dial the prefix.
                "condition": {
                    "all": [
                        {"event": "call.long_distance", "within_days": 1},
                        {"not": {"event": "call.prefix", "within_days": 90}},
                        {"field": "prefix_calls_m1", "op": "=", "value": 0},
                    ]
                },
                "once_per_days": 30,
            },
            content={
                "zh-Hant": "長途電話先撥12593，收費更相宜。",
                "zh-Hans": "拨打长途电话前加拨12593，资费更优惠。",
                "en": "Dial 12593 before long-distance numbers to pay less.",
            },
            conversion={"event": "call.prefix", "within_days": 30},
            cap_per_customer=3,
            notes="seed 001 case 2: signalling finds the moment; only customers not using the prefix",
        ),
        Template(
            id="prefix_roaming",
            kind="tariff_communication",
            name="Roaming tariff care, on arrival",
            goal="Customers arriving abroad know the cheaper way to call home",
            trigger={"type": "event", "subject": "feeds.network.location_updated", "once_per_days": 7},
            audience={"field": "roaming", "op": "=", "value": True},
            content={
                "zh-Hant": "歡迎抵達！漫遊時撥打本地先加12593，收費更相宜。",
                "zh-Hans": "欢迎抵达！漫游时拨打电话加拨12593，资费更优惠。",
                "en": "Welcome! While roaming, dial 12593 first to pay less for calls home.",
            },
            conversion={"event": "call.prefix", "within_days": 14},
            cap_per_customer=6,
        ),
        Template(
            id="plan_recommendation",
            kind="tariff_communication",
            name="Plan recommendation (tariff matching)",
            goal="Customers on a plan that fits badly move to the one that fits",
            trigger={"type": "schedule", "cron": "0 10 5 * *", "time_zone": "Asia/Hong_Kong"},
            audience={
                "all": [
                    {"not": {"field": "recommended_plan_id", "op": "is_null"}},
                    {"field": "lifecycle_stage", "op": "=", "value": "maturity"},
                ]
            },
            content={
                "zh-Hant": "根據您近月用量，轉用更合適的月費計劃每月可節省費用，詳情請回覆查詢。",
                "zh-Hans": "根据您近月用量，改用更合适的套餐每月可节省费用，详情请回复查询。",
                "en": "Based on your recent usage, another plan would save you money each month. "
                "Reply for details.",
            },
            conversion={"event": "plan.changed", "within_days": 30},
            cap_per_customer=3,
            min_gap_days=60,
            notes="seed 001 case 3: the tariff-matching model picks the plan",
        ),
        Template(
            id="green_bill",
            kind="bill_information",
            name="Green e-bill for fee-sensitive customers",
            goal="Fee-sensitive customers know where to see their charges",
            trigger={"type": "schedule", "cron": "0 10 2 * *", "time_zone": "Asia/Hong_Kong"},
            audience={
                "all": [
                    {"field": "fee_sensitivity", "op": ">=", "value": 3},
                    {"field": "lifecycle_stage", "op": "in", "value": ["acquisition", "growth"]},
                ]
            },
            content={
                "zh-Hant": "免費訂閱電子賬單，每月話費一目了然。",
                "zh-Hans": "免费订阅电子账单，每月话费一目了然。",
                "en": "Subscribe to the free e-bill and see every month's charges at a glance.",
            },
            conversion={"event": "ebill.subscribed", "within_days": 30},
            notes="seed 001 case 4: the fee-sensitivity model, levels 3 and 4",
        ),
        Template(
            id="payment_received",
            kind="bill_information",
            name="Payment received",
            goal="Customers know their payment arrived",
            trigger={"type": "event", "subject": "feeds.bss.payment_received"},
            content={
                "zh-Hant": "已收到您的繳費，多謝。",
                "zh-Hans": "已收到您的缴费，谢谢。",
                "en": "We have received your payment. Thank you.",
            },
            cap_per_customer=20,
            control_share=0.0,
        ),
        Template(
            id="points_expiring",
            kind="loyalty_points",
            name="Points about to expire",
            goal="Customers use their points before they lapse",
            trigger={"type": "schedule", "cron": "0 10 * * mon", "time_zone": "Asia/Hong_Kong"},
            audience={
                "all": [
                    {"field": "points", "op": ">", "value": 0},
                    {"field": "points_expire_on", "op": "within_days", "value": 30},
                ]
            },
            content={
                "zh-Hant": "您的積分將於30天內到期，請盡快兌換。",
                "zh-Hans": "您的积分将于30天内到期，请尽快兑换。",
                "en": "Your points expire within 30 days. Redeem them soon.",
            },
            conversion={"event": "points.redeemed", "within_days": 30},
            min_gap_days=30,
            cap_per_customer=4,
        ),
        Template(
            id="coverage_improved_notice",
            kind="complaint_follow_up",
            name="Coverage improved: tell the area's past complainers",
            goal="Customers who complained about an area's coverage hear that it was fixed",
            # Fires when coverage-map completes a plan; meets the area's past coverage complainers.
            trigger={"type": "event", "subject": "coverage.plan.completed"},
            audience={"event": "complaint.coverage", "within_days": 180},
            content={
                "zh-Hant": "您早前反映網絡覆蓋問題的地區已完成網絡優化，謝謝您的意見。如仍有問題請致電1000。",
                "zh-Hans": "您之前反映网络覆盖问题的地区已完成网络优化，谢谢您的意见。如仍有问题请致电1000。",
                "en": (
                    "We have improved the network where you reported poor coverage. "
                    "Thank you. Still a problem? Call 1000."
                ),
            },
            conversion={"event": "complaint.coverage", "within_days": 90, "absent": True},
            min_gap_days=30,
            cap_per_customer=3,
        ),
        Template(
            id="complaint_revisit",
            kind="complaint_follow_up",
            name="Coverage complainers: a follow-up visit",
            goal="Customers who complained about coverage feel heard",
            trigger={"type": "schedule", "cron": "0 11 1 * *", "time_zone": "Asia/Hong_Kong"},
            audience={"event": "complaint.coverage", "within_days": 180},
            content={
                "zh-Hant": "早前您反映的網絡問題現況如何？回覆1滿意、2不滿意。",
                "zh-Hans": "您之前反映的网络问题现在如何？回复1满意、2不满意。",
                "en": "How is the coverage you told us about? Reply 1 if satisfied, 2 if not.",
            },
            conversion={"event": "complaint.coverage", "within_days": 90, "absent": True},
            min_gap_days=90,
            cap_per_customer=2,
        ),
        Template(
            id="birthday_greeting",
            kind="humanistic_care",
            name="Birthday greeting",
            goal="Customers feel remembered",
            trigger={"type": "schedule", "cron": "0 9 * * *", "time_zone": "Asia/Hong_Kong"},
            audience={"field": "birthday", "op": "within_days", "value": 0},
            content={
                "zh-Hant": "祝您生日快樂！",
                "zh-Hans": "祝您生日快乐！",
                "en": "Happy birthday from all of us!",
            },
            min_gap_days=300,
            cap_per_customer=20,  # one a year, for as long as the campaign runs (up to the cap)
            control_share=0.0,
        ),
        Template(
            id="high_value_survey",
            kind="differentiated_service",
            name="Top 20 % customers: satisfaction survey",
            goal="Hear the customers who bring most of the revenue",
            trigger={"type": "schedule", "cron": "0 10 15 */3 *", "time_zone": "Asia/Hong_Kong"},
            audience={"field": "value_tier", "op": "=", "value": "top20"},
            content={
                "zh-Hant": "感謝您一直支持！請以1至5分評價我們的服務。",
                "zh-Hans": "感谢您一直支持！请以1至5分评价我们的服务。",
                "en": "Thank you for staying with us! Please rate our service from 1 to 5.",
            },
            control_share=0.0,
            cap_per_customer=4,
            min_gap_days=80,
        ),
        Template(
            id="decline_retention",
            kind="retention",
            name="Customers spending less: a retention call",
            goal="Fewer customers in decline leave",
            channel="voice_call",
            trigger={"type": "schedule", "cron": "0 14 * * tue", "time_zone": "Asia/Hong_Kong"},
            audience={"field": "lifecycle_stage", "op": "=", "value": "decline"},
            content={
                "zh-Hant": "客戶服務主任致電了解您的需要。",
                "zh-Hans": "客户服务经理致电了解您的需要。",
                "en": "A care officer calls to hear what you need.",
            },
            conversion={"event": "plan.changed", "within_days": 60},
            control_share=0.2,
            min_gap_days=90,
        ),
    )
}


def template(template_id: str) -> Template | None:
    """Return a built-in template by id."""
    return TEMPLATES.get(template_id)


def as_draft(template_id: str) -> dict[str, Any]:
    """Return a template as the body of a new campaign (POST /campaigns) drafted from it."""
    found = TEMPLATES[template_id]
    return {
        "name": found.name,
        "goal": found.goal,
        "kind": found.id,
        "audience": found.audience,
        "trigger": found.trigger,
        "channel": found.channel,
        "content": found.content,
        "cap_per_customer": found.cap_per_customer,
        "min_gap_days": found.min_gap_days,
        "control_share": found.control_share,
        "conversion": found.conversion,
    }
