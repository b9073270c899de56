"""The campaign console: the care catalogue, the builder (segment preview, SMS counter), approval,
running, the live monitor and the evaluation report. Every figure comes from the campaigns API
through the gateway, called with the signed-in user's own token, so the service decides who may
approve (campaigns:approve, never the author) exactly as for any other client."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import Response

from careloop_common.events.campaigns import CAMPAIGN_STATUSES as STATUSES
from careloop_common.events.campaigns import TRIGGER_SUBJECTS
from web import charts, console_messages
from web.gateway import GatewayError
from web.pages import NAV, NavItem, PageContext, check_csrf, see_other, staff_page
from web.sms import count_sms

router = APIRouter(include_in_schema=False)
NAV.append(NavItem("/campaigns", "campaigns", "campaigns:read"))
console_messages.install()

API = "/campaigns/v1"
LANGUAGES = ("zh-Hant", "zh-Hans", "en")
# The moves a page offers in each status, and the scope each needs (the service checks again).
MOVES: dict[str, list[tuple[str, str]]] = {
    "draft": [("submitted", "campaigns:write"), ("cancelled", "campaigns:write")],
    "submitted": [
        ("approved", "campaigns:approve"),
        ("rejected", "campaigns:approve"),
        ("draft", "campaigns:write"),
    ],
    "rejected": [("draft", "campaigns:write"), ("cancelled", "campaigns:write")],
    "approved": [
        ("running", "campaigns:write"),
        ("scheduled", "campaigns:write"),
        ("draft", "campaigns:write"),
        ("cancelled", "campaigns:write"),
    ],
    "scheduled": [
        ("running", "campaigns:write"),
        ("paused", "campaigns:write"),
        ("cancelled", "campaigns:write"),
    ],
    "running": [("paused", "campaigns:write"), ("completed", "campaigns:write")],
    "paused": [
        ("running", "campaigns:write"),
        ("completed", "campaigns:write"),
        ("cancelled", "campaigns:write"),
    ],
    "completed": [("evaluated", "campaigns:write")],
}
APPROVALS = ("approved", "rejected")
# Everyone: a condition no subscriber fails (brand is required), so a preview can count them all.
EVERYONE = {"not": {"field": "brand", "op": "is_null"}}
MONITOR_REFRESH_S = 3
# Statuses in which a campaign's counts still move (receipts arrive after it completes, too).
MOVING = ("scheduled", "running", "paused", "completed")
# The fields and operators a segment takes (docs/segments.md; the campaigns service's registry decides,
# and names any fault, so this list only helps typing).
SEGMENT_FIELDS = (
    "region", "language", "brand", "plan_id", "customer_class", "lifecycle_stage", "value_tier",
    "fee_sensitivity", "recommended_plan_id", "plan_saving", "balance", "avg_daily_spend_3d",
    "revenue_m1", "revenue_m2", "revenue_m3", "minutes_m1", "sms_m1", "data_mb_m1",
    "long_distance_minutes_m1", "roaming_minutes_m1", "long_distance_calls_m1", "prefix_calls_m1",
    "fee_queries_m1", "top_ups_m1", "points", "points_expire_on", "contact_sms", "contact_call",
    "roaming", "roaming_country", "cell", "time_zone", "join_date", "birthday", "last_payment_at",
    "located_at", "models_at",
)  # fmt: skip
SEGMENT_OPS = (
    "=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "startswith", "is_null",
    "within_days", "within_last_days", "older_than_days",
)  # fmt: skip
# Trees the builder offers to start from (docs/segments.md has more).
AUDIENCE_EXAMPLES = (
    '{"field": "region", "op": "=", "value": "HK"}',
    '{"field": "value_tier", "op": "=", "value": "top20"}',
    '{"field": "birthday", "op": "within_days", "value": 7}',
    '{"event": "complaint.coverage", "within_days": 180}',
    '{"all": [{"field": "fee_sensitivity", "op": ">=", "value": 3}, '
    '{"field": "contact_sms", "op": "=", "value": true}]}',
)

Reader = Annotated[PageContext, Depends(staff_page("campaigns:read"))]
Writer = Annotated[PageContext, Depends(staff_page("campaigns:write"))]
CampaignId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Csrf = Annotated[str, Form(max_length=100)]
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=20_000)]


# --- the builder's form -------------------------------------------------------------------------


@dataclass
class Draft:
    """The builder's fields as typed (text), so a refused form comes back as the user left it."""

    kind: str = ""
    name: str = ""
    goal: str = ""
    audience: str = ""
    channel: str = "sms"
    content: dict[str, str] = field(default_factory=dict)
    trigger_type: str = "once"
    subject: str = TRIGGER_SUBJECTS[0]
    condition: str = ""
    once_per_days: str = "0"
    cron: str = "0 10 * * mon"
    time_zone: str = "Asia/Hong_Kong"
    at: str = ""
    control_share: str = "10"
    cap_per_customer: str = "1"
    min_gap_days: str = "0"
    conversion_event: str = ""
    conversion_days: str = "30"
    conversion_absent: bool = False

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Draft:
        """Fill the form from a template's draft (or a campaign) as the API gives it."""
        trigger = body.get("trigger") or {"type": "once"}
        conversion = body.get("conversion") or {}
        draft = cls(
            kind=str(body.get("kind", "")),
            name=str(body.get("name", "")),
            goal=str(body.get("goal", "")),
            audience=_pretty(body.get("audience")),
            channel=str(body.get("channel", "sms")),
            content={lang: str((body.get("content") or {}).get(lang, "")) for lang in LANGUAGES},
            trigger_type=str(trigger.get("type", "once")),
            control_share=_share_text(body.get("control_share", 0.0)),
            cap_per_customer=str(body.get("cap_per_customer", 1)),
            min_gap_days=str(body.get("min_gap_days", 0)),
            conversion_event=str(conversion.get("event", "")),
            conversion_days=str(conversion.get("within_days", 30)),
            conversion_absent=bool(conversion.get("absent", False)),
        )
        if draft.trigger_type == "event":
            draft.subject = str(trigger.get("subject", TRIGGER_SUBJECTS[0]))
            draft.condition = _pretty(trigger.get("condition"))
            draft.once_per_days = str(trigger.get("once_per_days", 0))
        elif draft.trigger_type == "schedule":
            draft.cron = str(trigger.get("cron", draft.cron))
            draft.time_zone = str(trigger.get("time_zone", draft.time_zone))
        elif trigger.get("at"):
            draft.at = _local_input(str(trigger["at"]))
        return draft

    def to_body(self, errors: dict[str, str]) -> dict[str, Any]:
        """Build the campaign's JSON body; note each field that cannot be read in ``errors``."""
        body: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name.strip(),
            "goal": self.goal.strip(),
            "channel": self.channel,
            "content": {lang: text.strip() for lang, text in self.content.items() if text.strip()},
            "audience": _tree(self.audience, "audience", errors),
            "trigger": self._trigger(errors),
            "control_share": _number(self.control_share, "control_share", errors, 0, 50) / 100,
            "cap_per_customer": int(_number(self.cap_per_customer, "cap_per_customer", errors, 1, 20)),
            "min_gap_days": int(_number(self.min_gap_days, "min_gap_days", errors, 0, 365)),
        }
        if self.conversion_event.strip():
            body["conversion"] = {
                "event": self.conversion_event.strip(),
                "within_days": int(_number(self.conversion_days, "conversion_days", errors, 1, 365)),
                "absent": self.conversion_absent,
            }
        return body

    def _trigger(self, errors: dict[str, str]) -> dict[str, Any]:
        if self.trigger_type == "event":
            return {
                "type": "event",
                "subject": self.subject,
                "condition": _tree(self.condition, "condition", errors),
                "once_per_days": int(_number(self.once_per_days, "once_per_days", errors, 0, 365)),
            }
        if self.trigger_type == "schedule":
            return {"type": "schedule", "cron": self.cron.strip(), "time_zone": self.time_zone.strip()}
        at = _instant(self.at, errors)
        return {"type": "once", "at": at} if at else {"type": "once"}

    def sms_counts(self) -> dict[str, Any]:
        """Return each language's SMS count, as the page shows it before any typing."""
        return {lang: count_sms(self.content.get(lang, "")) for lang in LANGUAGES}


def _pretty(tree: Any) -> str:
    return json.dumps(tree, ensure_ascii=False, indent=2) if tree else ""


def _share_text(share: Any) -> str:
    try:
        return f"{float(share) * 100:g}"
    except (TypeError, ValueError):
        return "0"


def _local_input(instant: str) -> str:
    """An ISO instant as a datetime-local value in Hong Kong time."""
    try:
        moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return moment.astimezone(ZoneInfo("Asia/Hong_Kong")).strftime("%Y-%m-%dT%H:%M")


def _instant(local: str, errors: dict[str, str]) -> str | None:
    """A datetime-local value (Hong Kong time) as an ISO instant with its offset."""
    if not local.strip():
        return None
    try:
        moment = datetime.fromisoformat(local.strip())
    except ValueError:
        errors["at"] = "YYYY-MM-DDTHH:MM"
        return None
    return moment.replace(tzinfo=ZoneInfo("Asia/Hong_Kong")).isoformat()


def _tree(text: str, name: str, errors: dict[str, str]) -> dict[str, Any] | None:
    """Read a condition tree typed as JSON; empty is none."""
    if not text.strip():
        return None
    try:
        tree = json.loads(text)
    except ValueError as exc:
        errors[name] = f"JSON: {exc}"
        return None
    if not isinstance(tree, dict):
        errors[name] = "JSON: an object {…}"
        return None
    return tree


def _number(text: str, name: str, errors: dict[str, str], low: float, high: float) -> float:
    """Read a number typed in a form within bounds; note the field otherwise."""
    try:
        value = float(text.strip())
    except ValueError:
        errors[name] = f"{low:g} - {high:g}"
        return low
    if not low <= value <= high:
        errors[name] = f"{low:g} - {high:g}"
        return low
    return value


async def _templates(page: PageContext) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.gateway.get(f"{API}/catalogue", page.token)
    return found


def _render_builder(
    page: PageContext,
    draft: Draft,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problem: str = "",
    problem_items: list[str] | None = None,
    preview: dict[str, Any] | None = None,
    campaign_id: str = "",
) -> Response:
    return page.render(
        "campaigns/builder.html",
        status,
        draft=draft,
        errors=errors or {},
        problem=problem,
        problem_items=problem_items or [],
        preview=preview,
        subjects=TRIGGER_SUBJECTS,
        counts=draft.sms_counts(),
        campaign_id=campaign_id,
        examples=AUDIENCE_EXAMPLES,
        segment_fields=SEGMENT_FIELDS,
        segment_ops=SEGMENT_OPS,
    )


def _problem_items(exc: GatewayError) -> list[str]:
    return [f"{e.get('field', '')}: {e.get('message', '')}".strip(": ") for e in exc.errors]


# --- the pages ----------------------------------------------------------------------------------


@router.get("/campaigns")
async def campaign_list(
    page: Reader, status: Annotated[str, Query(pattern="^[a-z]{0,12}$")] = ""
) -> Response:
    """List campaigns, newest first, by status."""
    if status and status not in STATUSES:
        status = ""
    found = await page.gateway.get(f"{API}/campaigns", page.token, status=status, limit=100)
    return page.render(
        "campaigns/list.html",
        campaigns=found["items"],
        total=found["total"],
        status=status,
        statuses=STATUSES,
    )


@router.get("/campaigns/catalogue")
async def catalogue(page: Reader) -> Response:
    """Show the care catalogue: the seeds' kinds of care and their templates to draft from."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for template in await _templates(page):
        kinds.setdefault(template["kind_name"], []).append(template)
    return page.render("campaigns/catalogue.html", kinds=kinds)


@router.get("/campaigns/new")
async def builder(page: Writer, template: Annotated[str, Query(max_length=48)] = "") -> Response:
    """Show the builder, filled from a catalogue template."""
    found = next((t for t in await _templates(page) if t["id"] == template), None)
    if found is None:
        return see_other("/campaigns/catalogue")
    return _render_builder(page, Draft.from_api(found["draft"]))


@router.get("/campaigns/{campaign_id}/edit")
async def edit_page(page: Writer, campaign_id: CampaignId) -> Response:
    """Show the builder for a draft or rejected campaign."""
    campaign = await page.gateway.get(f"{API}/campaigns/{campaign_id}", page.token)
    return _render_builder(page, Draft.from_api(campaign), campaign_id=campaign_id)


async def draft_form(
    kind: Annotated[str, Form(max_length=48)],
    name: Annotated[str, Form(max_length=200)] = "",
    goal: Annotated[str, Form(max_length=2000)] = "",
    audience: Long = "",
    channel: Short = "sms",
    content_zh_hant: Annotated[str, Form(alias="content_zh-Hant", max_length=1000)] = "",
    content_zh_hans: Annotated[str, Form(alias="content_zh-Hans", max_length=1000)] = "",
    content_en: Annotated[str, Form(max_length=1000)] = "",
    trigger_type: Short = "once",
    subject: Short = "",
    condition: Long = "",
    once_per_days: Short = "0",
    cron: Short = "",
    time_zone: Short = "Asia/Hong_Kong",
    at: Short = "",
    control_share: Short = "0",
    cap_per_customer: Short = "1",
    min_gap_days: Short = "0",
    conversion_event: Short = "",
    conversion_days: Short = "30",
    conversion_absent: Short = "",
) -> Draft:
    """Read the builder's form into a Draft (dependency)."""
    return Draft(
        kind=kind,
        name=name,
        goal=goal,
        audience=audience,
        channel=channel if channel in ("sms", "voice_call") else "sms",
        content={"zh-Hant": content_zh_hant, "zh-Hans": content_zh_hans, "en": content_en},
        trigger_type=trigger_type if trigger_type in ("event", "schedule", "once") else "once",
        subject=subject,
        condition=condition,
        once_per_days=once_per_days,
        cron=cron,
        time_zone=time_zone,
        at=at,
        control_share=control_share,
        cap_per_customer=cap_per_customer,
        min_gap_days=min_gap_days,
        conversion_event=conversion_event,
        conversion_days=conversion_days,
        conversion_absent=bool(conversion_absent),
    )


DraftForm = Annotated[Draft, Depends(draft_form)]
Intent = Annotated[str, Form(max_length=20)]


@router.post("/campaigns/new")
async def create(page: Writer, draft: DraftForm, csrf: Csrf = "", intent: Intent = "save") -> Response:
    """Draft the campaign (or, for 'preview', count its audience and show the form again)."""
    check_csrf(page, csrf)
    return await _save(page, draft, intent, None)


@router.post("/campaigns/{campaign_id}/edit")
async def save_edit(
    page: Writer, campaign_id: CampaignId, draft: DraftForm, csrf: Csrf = "", intent: Intent = "save"
) -> Response:
    """Save changes to a draft or rejected campaign."""
    check_csrf(page, csrf)
    return await _save(page, draft, intent, campaign_id)


async def _save(page: PageContext, draft: Draft, intent: str, campaign_id: str | None) -> Response:
    errors: dict[str, str] = {}
    body = draft.to_body(errors)
    if intent == "preview":
        preview = await _preview(page, body.get("audience"))
        return _render_builder(page, draft, errors=errors, preview=preview, campaign_id=campaign_id or "")
    if errors:
        return _render_builder(page, draft, 422, errors, page.t("fix_fields"), campaign_id=campaign_id or "")
    try:
        if campaign_id:
            body.pop("kind")
            saved = await page.gateway.call("PATCH", f"{API}/campaigns/{campaign_id}", page.token, json=body)
        else:
            saved = await page.gateway.post(f"{API}/campaigns", page.token, body)
    except GatewayError as exc:
        if exc.status not in (409, 422):
            raise
        return _render_builder(
            page,
            draft,
            exc.status,
            exc.field_messages(),
            exc.detail or exc.title,
            _problem_items(exc),
            campaign_id=campaign_id or "",
        )
    return see_other(f"/campaigns/{saved['id']}?saved=1")


async def _preview(page: PageContext, tree: dict[str, Any] | None) -> dict[str, Any]:
    """Count a tree's audience: the count and sample, or the faults the service named."""
    try:
        found: dict[str, Any] = await page.gateway.post(
            f"{API}/segments/preview", page.token, {"conditions": tree or EVERYONE, "sample_size": 5}
        )
    except GatewayError as exc:
        if exc.status != 422:
            raise
        return {"error": exc.detail or exc.title, "items": _problem_items(exc)}
    return {**found, "everyone": tree is None}


@router.post("/campaigns/segment-preview")
async def segment_preview(page: Reader, audience: Long = "", csrf: Csrf = "") -> Response:
    """The audience count as the marketer types (an htmx fragment)."""
    check_csrf(page, csrf)
    errors: dict[str, str] = {}
    tree = _tree(audience, "audience", errors)
    preview = {"error": errors["audience"], "items": []} if errors else await _preview(page, tree)
    return page.render("campaigns/_preview.html", preview=preview)


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    page: Reader, campaign_id: CampaignId, saved: Annotated[str, Query(max_length=8)] = ""
) -> Response:
    """Show a campaign: what it is, where it is in its life, what may be done next, its history."""
    return await _render_campaign(page, campaign_id, notice=page.t("campaign_saved") if saved else "")


async def _render_campaign(
    page: PageContext, campaign_id: str, status: int = 200, notice: str = "", problem: str = ""
) -> Response:
    campaign, steps = await asyncio.gather(
        page.gateway.get(f"{API}/campaigns/{campaign_id}", page.token),
        page.gateway.get(f"{API}/campaigns/{campaign_id}/steps", page.token),
    )
    assert page.staff is not None
    offered = [to for to, scope in MOVES.get(campaign["status"], []) if page.staff.may(scope)]
    return page.render(
        "campaigns/detail.html",
        status,
        campaign=campaign,
        steps=steps,
        approvals=[to for to in offered if to in APPROVALS],
        moves=[to for to in offered if to not in APPROVALS],
        notice=notice,
        problem=problem,
        counts={lang: count_sms(text) for lang, text in campaign["content"].items()},
        is_author=campaign["author"] == page.staff.username,
        may_write=page.staff.may("campaigns:write"),
    )


@router.post("/campaigns/{campaign_id}/moves")
async def move(
    page: Reader,
    campaign_id: CampaignId,
    status: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=1000)] = "",
    csrf: Csrf = "",
) -> Response:
    """Move a campaign in its life; a refusal (403 author, 409 illegal) shows on the campaign's page."""
    check_csrf(page, csrf)
    body: dict[str, Any] = {"status": status}
    if note.strip():
        body["note"] = note.strip()
    try:
        await page.gateway.post(f"{API}/campaigns/{campaign_id}/moves", page.token, body)
    except GatewayError as exc:
        if exc.status not in (403, 409, 422):
            raise
        return await _render_campaign(page, campaign_id, exc.status, problem=_refusal(page, exc))
    return see_other(f"/campaigns/{campaign_id}")


def _refusal(page: PageContext, exc: GatewayError) -> str:
    """Say why the service refused a move, in the page's language where we know the reason."""
    known = {"approver-is-author": "approver_is_author", "illegal-transition": "illegal_move"}
    key = known.get(exc.slug)
    text = page.t(key) if key else exc.title
    return f"{text} ({exc.status}: {exc.detail})" if exc.detail else text


@router.post("/campaigns/{campaign_id}/runs")
async def run_now(page: Writer, campaign_id: CampaignId, csrf: Csrf = "") -> Response:
    """Run a running campaign over its audience now, then watch it on the monitor."""
    check_csrf(page, csrf)
    try:
        met = await page.gateway.post(f"{API}/campaigns/{campaign_id}/runs", page.token, {})
    except GatewayError as exc:
        if exc.status != 409:
            raise
        return await _render_campaign(page, campaign_id, 409, problem=exc.detail or exc.title)
    return see_other(
        f"/campaigns/{campaign_id}/monitor?run={met['run']}&targeted={met['targeted']}&held_out={met['held_out']}"
    )


WholeQuery = Annotated[int | None, Query(ge=0, le=1_000_000_000)]


@router.get("/campaigns/{campaign_id}/monitor")
async def monitor(
    page: Reader,
    campaign_id: CampaignId,
    run: WholeQuery = None,
    targeted: WholeQuery = None,
    held_out: WholeQuery = None,
) -> Response:
    """The live monitor: who the campaign met and what became of each contact (refreshes itself)."""
    campaign = await page.gateway.get(f"{API}/campaigns/{campaign_id}", page.token)
    live = await _live(page, campaign_id)
    notice = (
        page.t("run_done", run=run, targeted=targeted or 0, held_out=held_out or 0) if run is not None else ""
    )
    return page.render(
        "campaigns/monitor.html",
        campaign=campaign,
        notice=notice,
        refresh_s=MONITOR_REFRESH_S if campaign["status"] in MOVING else 0,
        **live,
    )


@router.get("/campaigns/{campaign_id}/monitor/live")
async def monitor_live(page: Reader, campaign_id: CampaignId) -> Response:
    """The monitor's figures alone (the fragment the page refreshes)."""
    live = await _live(page, campaign_id)
    return page.render("campaigns/_live.html", campaign_id=campaign_id, refresh_s=MONITOR_REFRESH_S, **live)


async def _live(page: PageContext, campaign_id: str) -> dict[str, Any]:
    counts, frequency = await asyncio.gather(
        page.gateway.get(f"{API}/campaigns/{campaign_id}/counts", page.token),
        page.gateway.get(f"{API}/contact-frequency", page.token),
    )
    return {
        "counts": counts,
        "figures": monitor_figures(counts),
        "outcome_chart": charts.bar_chart(
            [charts.Bar(page.t(f"outcome_{k}"), v, k) for k, v in _outcome_bars(counts)],
            page.t("outcomes_title"),
            no_data=page.t("no_data"),
        ),
        "frequency_chart": frequency_chart(page, frequency),
    }


def _outcome_bars(counts: dict[str, Any]) -> list[tuple[str, int]]:
    by = counts.get("by_outcome", {})
    return [(k, int(by.get(k, 0))) for k in ("accepted", "sent", "delivered", "failed", "suppressed")]


def monitor_figures(counts: dict[str, Any]) -> list[tuple[str, int | None]]:
    """The monitor's headline figures: targeted, held out, suppressed, sent (or beyond), delivered,
    failed, converted."""
    by = counts.get("by_outcome", {})
    sent = sum(int(by.get(k, 0)) for k in ("sent", "delivered", "failed"))
    return [
        ("targeted", int(counts.get("targeted", 0))),
        ("held_out", int(counts.get("held_out", 0))),
        ("suppressed", sum(int(v) for v in counts.get("suppressed", {}).values())),
        ("sent", sent),
        ("delivered", int(by.get("delivered", 0))),
        ("failed", int(by.get("failed", 0))),
        ("converted", counts.get("converted")),
    ]


def frequency_chart(page: PageContext, buckets: list[dict[str, Any]]) -> Any:
    """The contact-frequency histogram: customers touched 1, 2, … 10+ times by campaigns."""
    return charts.column_chart(
        [charts.Bar(str(b["touches"]), float(b["customers"]), "frequency") for b in buckets],
        page.t("frequency_title"),
        axis_label=page.t("frequency_axis"),
    )


@router.get("/campaigns/{campaign_id}/evaluation")
async def evaluation(page: Reader, campaign_id: CampaignId) -> Response:
    """The evaluation report: treatment against control, with charts drawn on the server."""
    campaign = await page.gateway.get(f"{API}/campaigns/{campaign_id}", page.token)
    frequency = await page.gateway.get(f"{API}/contact-frequency", page.token)
    try:
        found = await page.gateway.get(f"{API}/campaigns/{campaign_id}/evaluation", page.token)
    except GatewayError as exc:
        if exc.status != 409:
            raise
        found = None
    return page.render(
        "campaigns/evaluation.html",
        campaign=campaign,
        result=found,
        charts=evaluation_charts(page, found) if found else {},
        frequency_chart=frequency_chart(page, frequency),
    )


def evaluation_charts(page: PageContext, result: dict[str, Any]) -> dict[str, Any]:
    """Draw the evaluation's charts: uplift with its interval, conversion per arm, and (where the
    platform reports them) complaint share before/after, churn and survey satisfaction."""
    t, none = page.t, page.t("no_data")
    treatment, control = result["treatment"], result["control"]
    drawn: dict[str, Any] = {
        "uplift": charts.interval_chart(
            result.get("uplift"),
            result.get("uplift_low"),
            result.get("uplift_high"),
            t("uplift_title"),
            t("uplift"),
            no_data=none,
        ),
        "conversion": charts.bar_chart(
            [
                charts.Bar(t("arm_treatment"), treatment.get("rate"), "treatment"),
                charts.Bar(t("arm_control"), control.get("rate"), "control"),
            ],
            t("conversion_title"),
            charts.percent,
            no_data=none,
        ),
    }
    complaints = result.get("complaints")
    if complaints:
        drawn["complaints"] = charts.grouped_bars(
            [
                (
                    t(f"arm_{arm}"),
                    [
                        charts.Bar(t("before"), complaints[arm].get("before"), "before"),
                        charts.Bar(t("after"), complaints[arm].get("after"), "after"),
                    ],
                )
                for arm in ("treatment", "control")
            ],
            t("complaints_title", days=complaints.get("window_days", "")),
            [("before", t("before")), ("after", t("after"))],
            no_data=none,
        )
    churn = result.get("churn")
    if churn:
        drawn["churn"] = charts.bar_chart(
            [charts.Bar(t(f"arm_{arm}"), churn[arm].get("rate"), arm) for arm in ("treatment", "control")],
            t("churn_title"),
            charts.percent,
            no_data=none,
        )
    survey = result.get("survey")
    if survey:
        drawn["survey"] = charts.bar_chart(
            [
                charts.Bar(t("survey_satisfied"), float(survey.get("satisfied", 0)), "after"),
                charts.Bar(t("survey_dissatisfied"), float(survey.get("dissatisfied", 0)), "bad"),
                charts.Bar(t("survey_other"), float(survey.get("other", 0)), "control"),
            ],
            t("survey_title"),
            no_data=none,
        )
    return drawn
