# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The customer learns every step: one message per step, in the customer's language.

Each notice is a ``contact.cmd.send`` command staged in the same transaction as the change it
tells of (outbox), with an idempotency key of its own, so a redelivered command sends nothing
twice, and a ``notice_sent`` line in the complaint's history. Complaint notices are service
messages: quiet hours apply, marketing caps do not. The revisit is a survey, so it is ``care``: the
customer's opt-out and the caps apply to it. The wording lives in the contact gateway's templates
(``complaint.received``, ``complaint.progress``, ``complaint.closed``, ``survey.satisfaction``);
the progress phrases are here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.events.contact import SendRequestedV1
from careloop_common.outbox import publish_later
from complaints import clocks, repository
from complaints.models import Complaint

Step = Literal[
    "acknowledged", "assigned", "answered", "dispatched", "resolved", "closed", "reopened", "revisit"
]

# What the progress template says at each step that has no template of its own.
PROGRESS: dict[str, dict[str, str]] = {
    "assigned": {
        "zh-Hant": "已由專人跟進，負責同事會與您聯絡。",
        "zh-Hans": "已由专人跟进，负责同事会与您联系。",
        "en": "a care officer now owns your complaint and will contact you.",
    },
    "answered": {
        "zh-Hant": "工程部門已評估您所在地區：{answer}",
        "zh-Hans": "工程部门已评估您所在地区：{answer}",
        "en": "engineering assessed your area: {answer}",
    },
    "dispatched": {
        "zh-Hant": "負責同事將按工程評估結果回覆您。",
        "zh-Hans": "负责同事将按工程评估结果回复您。",
        "en": "your care officer will reply with engineering's findings.",
    },
    "reopened": {
        "zh-Hant": "已重新跟進，我們會盡快回覆。",
        "zh-Hans": "已重新跟进，我们会尽快回复。",
        "en": "we are working on it again and will reply soon.",
    },
    # Not the closed template: it says "is resolved", which the customer heard a moment ago.
    "closed": {
        "zh-Hant": "個案已完結，感謝您的耐心。稍後我們會請您為這次服務評分。",
        "zh-Hans": "个案已完结，感谢您的耐心。稍后我们会请您为这次服务评分。",
        "en": "the case is closed; thank you for your patience. We will ask you shortly how we did.",
    },
}
# The contact gateway refuses a template variable longer than this (a published wording may be longer).
MAX_VARIABLE = 500


def tell(
    session: AsyncSession,
    complaint: Complaint,
    step: Step,
    *,
    now: datetime,
    source: str,
    variables: dict[str, str] | None = None,
) -> SendRequestedV1:
    """Stage the customer's message for one step and restart the next-update clock."""
    template, values = _wording(complaint, step, variables or {})
    revisit = step == "revisit"
    command = SendRequestedV1(
        idempotency_key=f"complaint:{complaint.id}:{step}:{uuid.uuid4().hex[:12]}",
        msisdn=complaint.msisdn,
        # A revisit by phone is a person asking (an agent call): the answer is a disposition.
        channel="agent_call" if revisit and complaint.contact_preference == "call" else "sms",
        purpose="care" if revisit else "service",
        priority=3 if complaint.priority != "normal" else 5,
        template_id=template,
        variables=_clipped({"reference": complaint.reference, **values}),
        language=complaint.language,
        complaint_id=complaint.id,
    )
    publish_later(session, command, source=source, subject=complaint.id)
    repository.add_history(
        session,
        complaint.id,
        at=now,
        actor="system",
        kind="notice_sent",
        from_value=step,
        to_value=f"{command.channel}:{template}",
    )
    if not revisit:
        clocks.updated(complaint, now)
    return command


def _clipped(variables: dict[str, str]) -> dict[str, str]:
    """Shorten each variable to what the contact gateway takes, marking the cut."""
    return {
        name: value if len(value) <= MAX_VARIABLE else value[: MAX_VARIABLE - 1] + "…"
        for name, value in variables.items()
    }


def _wording(complaint: Complaint, step: Step, extra: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Return the template and its variables for a step."""
    if step == "acknowledged":
        due = complaint.resolution_due or complaint.created_at
        local = due.astimezone(clocks.calendar_of(complaint).tz)
        return "complaint.received", {"due": local.strftime("%Y-%m-%d %H:%M")}
    if step == "resolved":
        return "complaint.closed", {"resolution": extra.get("resolution") or complaint.resolution or "-"}
    if step == "revisit":
        return "survey.satisfaction", {}
    phrase = PROGRESS[step][complaint.language].format(answer=extra.get("answer", ""))
    return "complaint.progress", {"progress": phrase}
