# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Reply wording templates: what the front line reads to a customer about an area, by situation.

A situation is chosen from the area's worst level and its plan's status. Templates use
``{district}``, ``{planned_month}``, ``{completed_month}`` and ``{action}``; engineering drafts from
them after an assessment or a plan change, staff edit the draft, and publishing makes it the answer.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Literal

Situation = Literal["fine", "weak_no_plan", "plan_scheduled", "plan_done"]
LANGUAGES = ("zh-Hant", "zh-Hans", "en")

TEMPLATES: dict[Situation, dict[str, str]] = {
    "fine": {
        "en": "Our engineers checked the coverage around {district} and found it normal. If you "
        "still have trouble, please restart your phone and tell us the exact place and time.",
        "zh-Hant": "我們的工程師已檢查{district}一帶的網絡覆蓋，結果正常。如仍有問題，請重新開機，"
        "並告訴我們確實的地點和時間。",
        "zh-Hans": "我们的工程师已检查{district}一带的网络覆盖，结果正常。如仍有问题，请重新开机，"
        "并告诉我们确实的地点和时间。",
    },
    "weak_no_plan": {
        "en": "We know the coverage around {district} is weak. Our engineers are studying how to "
        "improve it and we will tell you as soon as a plan is set.",
        "zh-Hant": "我們知道{district}一帶的網絡覆蓋較弱。工程師正研究改善方案，定案後會盡快通知您。",
        "zh-Hans": "我们知道{district}一带的网络覆盖较弱。工程师正研究改善方案，定案后会尽快通知您。",
    },
    "plan_scheduled": {
        "en": "We know the coverage around {district} is weak. We plan to {action} there by "
        "{planned_month}. Thank you for your patience.",
        "zh-Hant": "我們知道{district}一帶的網絡覆蓋較弱，計劃於{planned_month}前{action}。多謝您的耐心。",
        "zh-Hans": "我们知道{district}一带的网络覆盖较弱，计划于{planned_month}前{action}。感谢您的耐心。",
    },
    "plan_done": {
        "en": "We improved the coverage around {district} in {completed_month} ({action}). If you "
        "still have trouble there, please tell us.",
        "zh-Hant": "我們已於{completed_month}改善{district}一帶的網絡覆蓋（{action}）。"
        "如仍有問題，請告訴我們。",
        "zh-Hans": "我们已于{completed_month}改善{district}一带的网络覆盖（{action}）。"
        "如仍有问题，请告诉我们。",
    },
}

ACTIONS: dict[str, dict[str, str]] = {
    "new_site": {"en": "build a new cell site", "zh-Hant": "興建新基站", "zh-Hans": "兴建新基站"},
    "sector_tuning": {"en": "retune the antennas", "zh-Hant": "調校天線", "zh-Hans": "调校天线"},
    "indoor_system": {
        "en": "install an indoor system",
        "zh-Hant": "安裝室內覆蓋系統",
        "zh-Hans": "安装室内覆盖系统",
    },
    "repeater": {"en": "install a repeater", "zh-Hant": "安裝信號放大器", "zh-Hans": "安装信号放大器"},
    "capacity": {"en": "add network capacity", "zh-Hant": "增加網絡容量", "zh-Hans": "增加网络容量"},
}

YOUR_AREA = {"en": "your area", "zh-Hant": "閣下所在地區", "zh-Hans": "阁下所在地区"}
_MONTHS_EN = tuple(calendar.month_name)[1:]


def month_text(day: date, language: str) -> str:
    """Write a month the way a customer reads it: ``March 2027`` or ``2027年3月``."""
    if language == "en":
        return f"{_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月"


def situation_for(worst_level: str | None, plan_status: str | None) -> Situation:
    """Choose the template situation from the area's worst level and its plan's status."""
    if plan_status == "done":
        return "plan_done"
    if plan_status in ("planned", "in_progress"):
        return "plan_scheduled"
    if worst_level in ("none", "weak"):
        return "weak_no_plan"
    return "fine"


def draft(
    language: str,
    *,
    district: str | None,
    worst_level: str | None,
    plan_status: str | None = None,
    plan_action: str | None = None,
    planned: date | None = None,
    completed: date | None = None,
) -> str:
    """Fill the right template for an area in one language."""
    template = TEMPLATES[situation_for(worst_level, plan_status)][language]
    return template.format(
        district=district or YOUR_AREA[language],
        action=ACTIONS.get(plan_action or "", {}).get(language, ""),
        planned_month=month_text(planned, language) if planned else "",
        completed_month=month_text(completed, language) if completed else "",
    )
