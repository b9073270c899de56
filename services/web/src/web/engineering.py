"""The engineering console: the ranked investigation queue, a hex map of areas coloured by level and
complaint density, and an area page with its complaints, symptoms and history where the engineer
assesses, plans and publishes the wording the front line and the portal then read."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from web import maps
from web.gateway import GatewayError
from web.pages import NAV, NavItem, PageContext, check_csrf, see_other, staff_page

router = APIRouter(prefix="/engineering", include_in_schema=False)
NAV.append(NavItem("/engineering", "engineering", "coverage:write"))

Console = Annotated[PageContext, Depends(staff_page("coverage:write"))]
AreaId = Annotated[str, Path(pattern=r"^[0-9a-f]{15}$")]
Csrf = Annotated[str, Form(max_length=64)]

TECHNOLOGIES = ("5G", "4G", "3G", "2G")
SERVICES = ("voice", "data")
LEVELS = ("good", "normal", "weak", "none")
ACTIONS = ("new_site", "sector_tuning", "indoor_system", "repeater", "capacity")
LANGS = ("zh-Hant", "zh-Hans", "en")
RECENT_COMPLAINTS = 200  # the area page lists its newest complaints


@router.get("")
async def queue(page: Console) -> Response:
    """The ranked investigation queue: most pressing area first."""
    found = await page.gateway.get("/coverage/v1/queue", page.token, lang=page.language, limit=100)
    return page.render("engineering/queue.html", items=found["items"], total=found["total"])


@router.get("/map")
async def hex_map(page: Console) -> Response:
    """Areas with complaints in the last 30 days as hexagons: colour the worst level, strength the count."""
    found = await page.gateway.get("/coverage/v1/hotspots", page.token, by="complaints", limit=500)
    spots = [s for s in found["items"] if maps.is_area(s["id"])]
    most = max((s["complaints"] for s in spots), default=1) or 1
    frame = maps.frame_around([(s["lat"], s["lng"]) for s in spots])
    hexes = [
        maps.Hexagon(
            area_id=s["id"],
            points=frame.outline(s["id"]),
            level=s["worst_level"] or "unknown",
            opacity=round(0.35 + 0.65 * s["complaints"] / most, 2),
            href=f"/engineering/areas/{s['id']}",
            label=page.t("hex_label", area=s["id"], n=s["complaints"], level=s["worst_level"] or "?"),
        )
        for s in spots
    ]
    return page.render(
        "engineering/map.html", hexes=hexes, spots=spots, map=frame.view(page.language), levels=LEVELS
    )


@router.get("/areas/{area_id}")
async def area(page: Console, area_id: AreaId, saved: str = "") -> Response:
    """An area: levels, its investigation and symptoms, its complaints, weekly history, plans, wording."""
    detail, trend, recent = await asyncio.gather(
        page.gateway.get(f"/coverage/v1/areas/{area_id}", page.token),
        _optional(page.gateway.get("/coverage/v1/hotspots/trends", page.token, area_id=area_id, weeks=12)),
        _optional(
            page.gateway.get(
                "/complaints/v1/complaints", page.token, area_id=area_id, limit=RECENT_COMPLAINTS
            )
        ),
    )
    investigation = None
    if detail.get("investigation"):
        investigation = await _optional(
            page.gateway.get(f"/coverage/v1/investigations/{detail['investigation']['id']}", page.token)
        )
    complaints = recent["items"] if isinstance(recent, dict) else None
    weeks = trend["weeks"] if isinstance(trend, dict) else []
    frame = maps.frame_around([(detail["lat"], detail["lng"])], min_span=0.03)
    return page.render(
        "engineering/area.html",
        a=detail,
        investigation=investigation if isinstance(investigation, dict) else None,
        complaints=complaints,
        weeks=weeks,
        week_max=max((w["complaints"] for w in weeks), default=0) or 1,
        wording={w["language"]: w for w in detail["wording"]},
        saved=saved,
        technologies=TECHNOLOGIES,
        services=SERVICES,
        levels=LEVELS,
        actions=ACTIONS,
        langs=LANGS,
        today=date.today().isoformat(),
        map=frame.view(page.language),
        hexes=[maps.Hexagon(area_id, frame.outline(area_id), _worst(detail["levels"]), 0.8, "", area_id)],
    )


def _worst(levels: list[dict[str, Any]]) -> str:
    order = {"none": 0, "weak": 1, "normal": 2, "good": 3}
    found = sorted((order.get(x["level"], 9), x["level"]) for x in levels)
    return found[0][1] if found else "unknown"


async def _optional(call: Any) -> Any:
    """Await a gateway call; give back its problem instead of raising, so one part can be missing."""
    try:
        return await call
    except GatewayError as exc:
        if exc.status == 401:
            raise
        return exc


def levels_from(form: dict[str, Any], prefix: str) -> dict[str, dict[str, str]]:
    """Read ``<prefix>-<technology>-<service>`` selects into the API's level map (blank ones left out)."""
    out: dict[str, dict[str, str]] = {}
    for tech in TECHNOLOGIES:
        for service in SERVICES:
            value = str(form.get(f"{prefix}-{tech}-{service}", ""))
            if value in LEVELS:
                out.setdefault(tech, {})[service] = value
    return out


@router.post("/areas/{area_id}/assess")
async def assess(page: Console, area_id: AreaId, request: Request) -> Response:
    """Record an assessment (levels and findings) and, when one is given, the improvement plan."""
    form = await request.form()
    check_csrf(page, str(form.get("csrf", "")))
    body: dict[str, Any] = {"levels": levels_from(dict(form), "level")}
    findings = str(form.get("findings", "")).strip()[:4000]
    if findings:
        body["findings"] = findings
    if form.get("investigation_id"):
        body["investigation_id"] = str(form["investigation_id"])[:64]
    action = str(form.get("action", ""))
    if action in ACTIONS:
        body["plan"] = {
            "action": action,
            "target_date": str(form.get("target_date", ""))[:10],
            "expected_levels": levels_from(dict(form), "expected") or body["levels"],
        }
        description = str(form.get("plan_description", "")).strip()[:2000]
        if description:
            body["plan"]["description"] = description
    await page.gateway.post(f"/coverage/v1/areas/{area_id}/assessments", page.token, body)
    return see_other(f"/engineering/areas/{area_id}?saved=assessed#wording")


@router.post("/areas/{area_id}/wording")
async def save_wording(page: Console, area_id: AreaId, request: Request) -> Response:
    """Save the draft wording in each language given; publish it too when asked."""
    form = await request.form()
    check_csrf(page, str(form.get("csrf", "")))
    for language in LANGS:
        text = str(form.get(f"text-{language}", "")).strip()
        if text:
            await page.gateway.call(
                "PUT",
                f"/coverage/v1/areas/{area_id}/wording/drafts/{language}",
                page.token,
                json={"text": text[:2000]},
            )
    if form.get("publish"):
        await page.gateway.post(f"/coverage/v1/areas/{area_id}/wording/publish", page.token, {})
        return see_other(f"/engineering/areas/{area_id}?saved=published#wording")
    return see_other(f"/engineering/areas/{area_id}?saved=drafted#wording")


@router.post("/plans/{plan_id}")
async def move_plan(
    page: Console,
    plan_id: Annotated[str, Path(max_length=64)],
    csrf: Csrf,
    status: Annotated[str, Form(max_length=20)],
    area_id: Annotated[str, Form(pattern=r"^[0-9a-f]{15}$")],
) -> Response:
    """Move a plan on (in progress, done, cancelled)."""
    check_csrf(page, csrf)
    await page.gateway.call("PATCH", f"/coverage/v1/plans/{plan_id}", page.token, json={"status": status})
    return see_other(f"/engineering/areas/{area_id}?saved=plan")
