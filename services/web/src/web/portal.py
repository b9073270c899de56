"""The customer portal (no login): file a coverage complaint with a point on a map and see the
instant answer, track it with its reference and tracking code, check coverage and published plans.

Every call goes to the gateway without a staff credential: the portal routes are anonymous there
(limited per client IP) and tracking uses the customer's own tracking token.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response

from web import maps
from web.gateway import GatewayError
from web.pages import Page, PageContext

router = APIRouter(include_in_schema=False)

SYMPTOMS = (
    "no_signal",
    "weak_signal",
    "call_drop",
    "cannot_call",
    "poor_voice",
    "slow_data",
    "no_data",
    "sms_failure",
)
NETWORKS = ("5G", "4G", "3G", "2G")
Coordinate = Annotated[float | None, Query(ge=-180, le=180)]


def forwarded_for(page: PageContext) -> str | None:
    """The customer's address chain, passed on so the gateway can limit per customer (when it trusts us)."""
    return page.request.headers.get("x-forwarded-for")


@router.get("/")
async def home(page: Page) -> Response:
    """The portal's front page: what a customer can do here, and the latest published plans."""
    plans, failed = await _plans(page, limit=5)
    return page.render("portal/home.html", plans=plans, plans_failed=failed)


@router.get("/file")
async def file_form(page: Page) -> Response:
    """The coverage complaint form."""
    return page.render("portal/file.html", **_form_context(page, {"follow_up": True}, {}))


@router.post("/file")
async def file_complaint(
    page: Page,
    msisdn: Annotated[str, Form(max_length=32)],
    lat: Annotated[str, Form(max_length=20)] = "",
    lng: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    indoor: Annotated[bool, Form()] = False,
    symptoms: Annotated[list[str] | None, Form()] = None,
    network: Annotated[str, Form(max_length=4)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    follow_up: Annotated[bool, Form()] = False,
    contact_preference: Annotated[str, Form(max_length=8)] = "sms",
    language: Annotated[str, Form(max_length=8)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """File the complaint on the portal and show the receipt with the instant answer."""
    form: dict[str, Any] = {
        "msisdn": msisdn.replace(" ", ""),
        "lat": lat.strip(),
        "lng": lng.strip(),
        "address": address,
        "indoor": indoor,
        "symptoms": [s for s in symptoms or [] if s in SYMPTOMS],
        "network": network if network in NETWORKS else "",
        "description": description,
        "follow_up": follow_up,
        "contact_preference": contact_preference,
        "language": language or page.language,
    }
    body, errors = _complaint_body(page, form)
    if errors:
        return page.render("portal/file.html", 422, **_form_context(page, form, errors))
    headers = {"Idempotency-Key": f"portal-{nonce}"} if nonce else None
    try:
        receipt = await page.gateway.call(
            "POST",
            "/complaints/v1/portal/complaints",
            json=body,
            headers=headers,
            forwarded_for=forwarded_for(page),
        )
    except GatewayError as exc:
        if exc.status != 422:
            raise
        return page.render(
            "portal/file.html", 422, **_form_context(page, form, exc.field_messages() or {"_": exc.detail})
        )
    return page.render("portal/receipt.html", receipt=receipt)


def _complaint_body(page: PageContext, form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn the form into the portal API's body, or say which fields are wrong."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "category": "coverage",
        "msisdn": form["msisdn"],
        "symptoms": form["symptoms"],
        "follow_up": form["follow_up"],
        "contact_preference": form["contact_preference"]
        if form["contact_preference"] in ("sms", "call")
        else "sms",
        "language": form["language"] if form["language"] in ("zh-Hant", "zh-Hans", "en") else page.language,
    }
    if not form["msisdn"]:
        errors["msisdn"] = page.t("required")
    point = _point(form["lat"], form["lng"])
    if point is None and (form["lat"] or form["lng"] or form["follow_up"]):
        errors["lat"] = page.t("map_hint")
    if point is not None:
        body["lat"], body["lng"] = point
    for name in ("address", "description", "network"):
        if form[name]:
            body[name] = form[name]
    if form["indoor"]:
        body["indoor"] = True
    return body, errors


def _point(lat: str, lng: str) -> tuple[float, float] | None:
    """Read a latitude and longitude pair from form text; None unless both are sound numbers."""
    try:
        point = float(lat), float(lng)
    except ValueError:
        return None
    return point if -90 <= point[0] <= 90 and -180 <= point[1] <= 180 else None


def _form_context(page: PageContext, form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    point = _point(str(form.get("lat", "")), str(form.get("lng", "")))
    return {
        "form": form,
        "errors": errors,
        "symptoms": SYMPTOMS,
        "networks": NETWORKS,
        "nonce": secrets.token_urlsafe(16),
        "map": maps.view(page.language),
        "pin": maps.project(*point) if point and maps.inside(*point) else None,
    }


@router.get("/track")
async def track_form(page: Page, reference: Annotated[str, Query(max_length=40)] = "") -> Response:
    """The tracking form (the reference may come filled in from the receipt)."""
    return page.render("portal/track.html", reference=reference, view=None, error="")


@router.post("/track")
async def track(
    page: Page,
    reference: Annotated[str, Form(max_length=40)],
    token: Annotated[str, Form(max_length=200)],
) -> Response:
    """Show a complaint's status and timeline to the customer holding its tracking code."""
    token = token.strip()
    view = None
    if token.startswith("trk_"):
        try:
            view = await page.gateway.get("/complaints/v1/portal/complaint", token)
        except GatewayError as exc:
            if exc.status not in (401, 403, 404):
                raise
    if view is None or view["reference"].upper() != reference.strip().upper():
        return page.render(
            "portal/track.html", 404, reference=reference, view=None, error=page.t("not_found_complaint")
        )
    return page.render("portal/track.html", reference=reference, view=view, error="")


@router.get("/check")
async def check(page: Page, lat: Coordinate = None, lng: Coordinate = None) -> Response:
    """What is known of a place (levels, plan, wording), and the published plans."""
    found = None
    if lat is not None and lng is not None:
        found = await page.gateway.get("/coverage/v1/public/lookup", lat=lat, lng=lng, lang=page.language)
    plans, failed = await _plans(page, limit=50)
    point = (lat, lng) if lat is not None and lng is not None else None
    return page.render(
        "portal/check.html",
        found=found,
        form={"lat": "" if lat is None else lat, "lng": "" if lng is None else lng},
        plans=plans,
        plans_failed=failed,
        map=maps.view(page.language),
        pin=maps.project(*point) if point and maps.inside(*point) else None,
        plan_hexes=[maps.project(p["lat"], p["lng"]) for p in plans if maps.inside(p["lat"], p["lng"])],
    )


async def _plans(page: PageContext, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The published improvement plans, or none and a flag when they could not be loaded."""
    try:
        found = await page.gateway.get("/coverage/v1/public/plans", lang=page.language, limit=limit)
    except GatewayError:
        return [], True
    return list(found["items"]), False
