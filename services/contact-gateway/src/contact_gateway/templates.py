# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Message templates: the built-in wording every install starts with, and filling in variables.

Staff may replace or add templates through the API (table ``message_template``); a stored template
wins over a built-in one with the same id and language.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

LANGUAGES = ("zh-Hant", "zh-Hans", "en")

BUILT_IN: dict[str, dict[str, str]] = {
    "complaint.received": {
        "zh-Hant": "您的投訴{reference}已受理，我們會在{due}前回覆您。",
        "zh-Hans": "您的投诉{reference}已受理，我们会在{due}前回复您。",
        "en": "We have your complaint {reference} and will answer by {due}.",
    },
    "complaint.progress": {
        "zh-Hant": "您的投訴{reference}最新進度：{progress}",
        "zh-Hans": "您的投诉{reference}最新进度：{progress}",
        "en": "Complaint {reference}: {progress}",
    },
    "complaint.closed": {
        "zh-Hant": "您的投訴{reference}已處理完畢：{resolution}。如仍有問題，請回覆本短訊。",
        "zh-Hans": "您的投诉{reference}已处理完毕：{resolution}。如仍有问题，请回复本短信。",
        "en": "Complaint {reference} is resolved: {resolution}. Reply to this message if it is not.",
    },
    "survey.satisfaction": {
        "zh-Hant": "請為我們對投訴{reference}的處理評分：回覆1（很不滿意）至5（很滿意）。",
        "zh-Hans": "请为我们对投诉{reference}的处理评分：回复1（很不满意）至5（很满意）。",
        "en": "How did we handle complaint {reference}? Reply 1 (very poor) to 5 (very good).",
    },
    "care.balance_low": {
        "zh-Hant": "您的餘額為{balance}元，約夠使用{days}天，請及時充值以免停機。",
        "zh-Hans": "您的余额为{balance}元，约够使用{days}天，请及时充值以免停机。",
        "en": "Your balance is {balance}, about {days} days of use. Top up to stay connected.",
    },
    "care.roaming": {
        "zh-Hant": "歡迎來到{place}。漫遊通話撥{prefix}前綴更划算。",
        "zh-Hans": "欢迎来到{place}。漫游通话拨{prefix}前缀更划算。",
        "en": "Welcome to {place}. Dial the {prefix} prefix for cheaper roaming calls.",
    },
    "care.major_event": {
        "zh-Hant": "{event}期間我們已為您提高信用額度，確保通訊暢通。如需協助請致電{hotline}。",
        "zh-Hans": "{event}期间我们已为您提高信用额度，确保通信畅通。如需协助请致电{hotline}。",
        "en": "During the {event} we raised your credit limit so you stay connected. Help: {hotline}.",
    },
}


class MissingVariables(ValueError):
    """A template names variables the request did not give."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"missing template variables: {', '.join(names)}")
        self.names = names


def placeholders(body: str) -> list[str]:
    """Return the ``{name}`` placeholders a template body uses, in order."""
    names: list[str] = []
    for _, field, _, _ in string.Formatter().parse(body):
        if field is not None and field not in names:
            names.append(field)
    return names


def check_body(body: str) -> None:
    """Raise ValueError unless a body is a usable template (plain ``{name}`` placeholders only)."""
    try:
        names = placeholders(body)
    except ValueError as exc:
        raise ValueError(f"not a template: {exc}") from exc
    for name in names:
        if not name.isidentifier():
            raise ValueError(f"placeholder {{{name}}} is not a plain name")


def render(body: str, variables: Mapping[str, str]) -> str:
    """Fill a template's placeholders; every placeholder must be given."""
    missing = [name for name in placeholders(body) if name not in variables]
    if missing:
        raise MissingVariables(missing)
    return body.format_map(dict(variables))
