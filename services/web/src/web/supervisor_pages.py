"""The supervisor dashboard: SLA compliance, first-contact resolution, complaint trends by week,
area and category, handlers, and the escalated complaints, from the complaints reports API."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from web import charts, console_messages
from web.i18n import Translator
from web.pages import NAV, NavItem, PageContext, staff_page

router = APIRouter(include_in_schema=False)
NAV.append(NavItem("/supervisor", "dashboard", "complaints:supervise"))
console_messages.install()

REPORTS = "/complaints/v1/reports"
REGIONS = ("HK", "CN")
CATEGORIES = ("coverage", "billing", "service", "value_added_service", "staff", "other")
CLOCKS = ("first_response", "next_update", "resolution")
DEFAULT_WEEKS = 8

Supervisor = Annotated[PageContext, Depends(staff_page("complaints:supervise"))]


def default_period(today: date) -> tuple[str, str]:
    """The period a dashboard opens on: the last eight weeks up to today."""
    return (today - timedelta(weeks=DEFAULT_WEEKS)).isoformat(), today.isoformat()


@router.get("/supervisor")
async def dashboard(
    page: Supervisor,
    from_: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = None,
    to: Annotated[str | None, Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = None,
    region: Annotated[str, Query(pattern="^(HK|CN)?$")] = "",
    category: Annotated[str, Query(pattern="^[a-z_]{0,24}$")] = "",
) -> Response:
    """Show the period's complaint figures, trends and escalations."""
    first, last = default_period(datetime.now(UTC).date())
    filters = {
        "from": first if from_ is None else from_,
        "to": last if to is None else to,
        "region": region,
        "category": category if category in CATEGORIES else "",
    }
    token = page.token
    get = page.gateway.get
    summary, weeks, categories, areas, handlers, escalated = await asyncio.gather(
        get(f"{REPORTS}/summary", token, **filters),
        get(f"{REPORTS}/breakdown", token, by="week", limit=60, **filters),
        get(f"{REPORTS}/breakdown", token, by="category", **filters),
        get(f"{REPORTS}/breakdown", token, by="area", limit=10, **filters),
        get(f"{REPORTS}/handlers", token, limit=10, **filters),
        get("/complaints/v1/queue", token, escalated="true", limit=20),
    )
    return page.render(
        "supervisor/dashboard.html",
        filters=filters,
        regions=REGIONS,
        categories=CATEGORIES,
        summary=summary,
        weeks=weeks,
        categories_report=categories,
        areas=areas,
        handlers=handlers,
        escalated=escalated,
        clocks=CLOCKS,
        charts=dashboard_charts(page, summary, weeks, categories),
    )


def dashboard_charts(
    page: PageContext, summary: dict[str, Any], weeks: dict[str, Any], categories: dict[str, Any]
) -> dict[str, Any]:
    """Draw the dashboard's charts: SLA compliance per clock, complaints per week and per category."""
    t, none = page.t, page.t("no_data")
    sla = summary.get("sla", {})
    return {
        "sla": charts.bar_chart(
            [
                charts.Bar(t(f"clock_{clock}"), sla.get(clock, {}).get("compliance"), "after")
                for clock in CLOCKS
            ]
            + [charts.Bar(t("fcr"), summary.get("fcr_rate"), "treatment")],
            t("sla_title"),
            charts.percent,
            max_value=1.0,
            no_data=none,
        ),
        "weeks": charts.column_chart(
            [charts.Bar(str(g["key"]), float(g["complaints"]), "frequency") for g in weeks.get("items", [])],
            t("weeks_title"),
        ),
        "categories": charts.bar_chart(
            [
                charts.Bar(_category(t, g["key"]), float(g["complaints"]), "control")
                for g in categories.get("items", [])
            ],
            t("categories_title"),
            no_data=none,
        ),
    }


def _category(t: Translator, key: str | None) -> str:
    return t(f"category_{key}") if key else t("none")
