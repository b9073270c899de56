"""The call-centre desktop: the agent's queue with SLA timers, the screen pop for a caller's number,
filing for them with the instant answer, working a complaint (take, transfer, reply and close),
and the dialer's agent calls. Every call carries the signed-in agent's own token."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import Response

from web import maps
from web.gateway import GatewayError
from web.pages import NAV, NavItem, PageContext, check_csrf, see_other, staff_page
from web.portal import NETWORKS, SYMPTOMS

router = APIRouter(prefix="/desk", include_in_schema=False)
NAV.append(NavItem("/desk", "desk", "complaints:write"))

Desk = Annotated[PageContext, Depends(staff_page("complaints:write"))]
Msisdn = Annotated[str, Query(max_length=32)]
ComplaintId = Annotated[str, Query(max_length=64)]
Csrf = Annotated[str, Form(max_length=64)]
Reason = Annotated[str, Form(max_length=2000)]

VIEWS = ("mine", "all", "escalated")
CATEGORIES = ("coverage", "billing", "service", "value_added_service", "staff", "other")
CLASSES = ("normal", "silver", "gold", "vip")
# The moves an agent may make from each state (docs/complaints.md); closing is "reply and close".
NEXT_STATES: dict[str, tuple[str, ...]] = {
    "acknowledged": ("inProgress", "pending", "held", "resolved", "rejected", "cancelled"),
    "inProgress": ("pending", "held", "resolved", "cancelled"),
    "pending": ("inProgress", "held", "resolved", "cancelled"),
    "held": ("inProgress", "pending", "resolved", "cancelled"),
    "resolved": ("closed", "inProgress"),
}
OPEN = ("acknowledged", "inProgress", "pending", "held")


@router.get("")
async def queue(page: Desk, view: Annotated[str, Query(max_length=12)] = "mine") -> Response:
    """The agent's queue: their own open complaints (or all open, or the escalated), SLA first."""
    view = view if view in VIEWS else "mine"
    params: dict[str, Any] = {"limit": 100}
    if view == "mine":
        params["mine"] = "true"
    if view == "escalated":
        params["escalated"] = "true"
    found = await page.gateway.get("/complaints/v1/queue", page.token, **params)
    template = "desk/_queue.html" if page.request.headers.get("hx-request") else "desk/queue.html"
    return page.render(template, items=found["items"], total=found["total"], view=view, views=VIEWS)


@router.get("/customer")
async def screen_pop(page: Desk, msisdn: Msisdn = "") -> Response:
    """Everything about a caller by number: profile, class, complaints, contacts, opt-outs, coverage."""
    msisdn = msisdn.replace(" ", "")
    if not msisdn:
        return see_other("/desk")
    complaints, contacts, opt_outs, profile = await asyncio.gather(
        _optional(page.gateway.get("/complaints/v1/complaints", page.token, msisdn=msisdn, limit=50)),
        _optional(page.gateway.get("/contact/v1/requests", page.token, msisdn=msisdn, limit=10)),
        _optional(page.gateway.get("/contact/v1/opt-outs", page.token, msisdn=msisdn)),
        _optional(page.gateway.get(f"/campaigns/v1/subscribers/{msisdn}/summary", page.token))
        if page.staff and page.staff.may("subscribers:read")
        else _nothing(),
    )
    if isinstance(complaints, GatewayError) and complaints.status == 422:
        return page.render(
            "desk/customer.html", 422, msisdn=msisdn, bad_number=complaints.detail, **_empty_pop()
        )
    items = [] if isinstance(complaints, GatewayError) else complaints["items"]
    profile_body = profile if isinstance(profile, dict) else None
    usual = next((c for c in items if c.get("lat") is not None and c.get("lng") is not None), None)
    coverage = None
    if usual is not None:
        coverage = await _optional(
            page.gateway.get(
                "/coverage/v1/lookup", page.token, lat=usual["lat"], lng=usual["lng"], lang=page.language
            )
        )
    return page.render(
        "desk/customer.html",
        msisdn=msisdn,
        bad_number="",
        open_items=[c for c in items if c["status"] in OPEN],
        past_items=[c for c in items if c["status"] not in OPEN],
        complaints_failed=isinstance(complaints, GatewayError),
        customer_class=(profile_body or {}).get("customer_class")
        or next((c["customer_class"] for c in items), None),
        profile=profile_body,
        contacts=contacts if isinstance(contacts, dict) else None,
        opt_outs=opt_outs if isinstance(opt_outs, dict) else None,
        usual=usual,
        coverage=coverage if isinstance(coverage, dict) else None,
        form={"language": next((c["language"] for c in items), page.language), "follow_up": True},
        errors={},
        **_file_choices(page),
    )


def _empty_pop() -> dict[str, Any]:
    return {
        "open_items": [],
        "past_items": [],
        "complaints_failed": False,
        "customer_class": None,
        "profile": None,
        "contacts": None,
        "opt_outs": None,
        "usual": None,
        "coverage": None,
        "form": {},
        "errors": {},
    }


def _file_choices(page: PageContext) -> dict[str, Any]:
    return {
        "categories": CATEGORIES,
        "classes": CLASSES,
        "symptoms": SYMPTOMS,
        "networks": NETWORKS,
        "nonce": secrets.token_urlsafe(16),
        "map": maps.view(page.language),
    }


async def _optional(call: Any) -> Any:
    """Await a gateway call; give back its problem instead of raising, so one part can be missing."""
    try:
        return await call
    except GatewayError as exc:
        if exc.status == 401:
            raise
        return exc


async def _nothing() -> None:
    return None


@router.post("/customer/file")
async def file_for_customer(
    page: Desk,
    csrf: Csrf,
    msisdn: Annotated[str, Form(max_length=32)],
    category: Annotated[str, Form(max_length=32)] = "coverage",
    customer_class: Annotated[str, Form(max_length=12)] = "normal",
    symptoms: Annotated[list[str] | None, Form()] = None,
    network: Annotated[str, Form(max_length=4)] = "",
    lat: Annotated[str, Form(max_length=20)] = "",
    lng: Annotated[str, Form(max_length=20)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    follow_up: Annotated[bool, Form()] = False,
    language: Annotated[str, Form(max_length=8)] = "zh-Hant",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """File a complaint for the caller (channel call centre); the agent owns it from now on."""
    check_csrf(page, csrf)
    body: dict[str, Any] = {
        "category": category,
        "channel": "call_centre",
        "msisdn": msisdn,
        "customer_class": customer_class,
        "symptoms": [s for s in symptoms or [] if s in SYMPTOMS],
        "follow_up": follow_up,
        "language": language,
    }
    try:
        if lat.strip() or lng.strip():
            body["lat"], body["lng"] = float(lat), float(lng)
    except ValueError:
        body["lat"] = lat  # let the platform name the field
    for name, value in (("network", network), ("address", address), ("description", description)):
        if value:
            body[name] = value
    headers = {"Idempotency-Key": f"desk-{nonce}"} if nonce else None
    filed = await page.gateway.call(
        "POST", "/complaints/v1/complaints", page.token, json=body, headers=headers
    )
    return see_other(f"/desk/complaints/{filed['id']}?filed=1")


@router.get("/complaints/{complaint_id}")
async def complaint(page: Desk, complaint_id: str, filed: bool = False) -> Response:
    """One complaint: its form, owner, clocks, instant answer, history, and what may be done next."""
    found, history = await asyncio.gather(
        page.gateway.get(f"/complaints/v1/complaints/{complaint_id}", page.token),
        page.gateway.get(f"/complaints/v1/complaints/{complaint_id}/history", page.token, limit=200),
    )
    return page.render(
        "desk/complaint.html",
        c=found,
        history=history["items"],
        filed=filed,
        next_states=NEXT_STATES.get(found["status"], ()),
        takeable=str(found["owner"]).startswith("queue:"),
    )


async def _act(page: PageContext, complaint_id: str, path: str, body: dict[str, Any]) -> Response:
    """Make one move on a complaint and come back to it (a refusal shows as a page)."""
    await page.gateway.post(f"/complaints/v1/complaints/{complaint_id}{path}", page.token, body)
    return see_other(f"/desk/complaints/{complaint_id}")


@router.post("/complaints/{complaint_id}/take")
async def take(page: Desk, complaint_id: str, csrf: Csrf) -> Response:
    """Take a complaint waiting in its queue."""
    check_csrf(page, csrf)
    return await _act(page, complaint_id, "/take", {})


@router.post("/complaints/{complaint_id}/status")
async def move(
    page: Desk,
    complaint_id: str,
    csrf: Csrf,
    status: Annotated[str, Form(max_length=20)],
    reason: Reason = "",
) -> Response:
    """Move a complaint to another state, saying why."""
    check_csrf(page, csrf)
    return await _act(page, complaint_id, "/status", {"status": status, "reason": reason or None})


@router.post("/complaints/{complaint_id}/close")
async def reply_and_close(page: Desk, complaint_id: str, csrf: Csrf, reply: Reason) -> Response:
    """Reply to the customer (the resolution they are sent) and close the case."""
    check_csrf(page, csrf)
    found = await page.gateway.get(f"/complaints/v1/complaints/{complaint_id}", page.token)
    if found["status"] != "resolved":
        await page.gateway.post(
            f"/complaints/v1/complaints/{complaint_id}/status",
            page.token,
            {"status": "resolved", "reason": reply},
        )
    return await _act(page, complaint_id, "/status", {"status": "closed", "reason": reply})


@router.post("/complaints/{complaint_id}/transfer")
async def transfer(
    page: Desk,
    complaint_id: str,
    csrf: Csrf,
    to_owner: Annotated[str, Form(max_length=100)],
    reason: Reason,
) -> Response:
    """Hand a complaint over to a colleague (or a queue), saying why."""
    check_csrf(page, csrf)
    await page.gateway.post(
        f"/complaints/v1/complaints/{complaint_id}/transfer",
        page.token,
        {"to_owner": to_owner.strip(), "reason": reason},
    )
    return see_other("/desk")


@router.get("/dialer")
async def dialer(page: Desk) -> Response:
    """The dialer: take the next agent call."""
    return page.render("desk/dialer.html", task=None, none_waiting=False)


@router.post("/dialer/next")
async def next_call(page: Desk, csrf: Csrf) -> Response:
    """Claim the next due agent call; show it with the outcome form, or say none waits."""
    check_csrf(page, csrf)
    task = await page.gateway.post("/contact/v1/dialer/claim", page.token, {"skills": []})
    if task is None:
        return page.render("desk/dialer.html", task=None, none_waiting=True)
    return see_other(f"/desk/dialer/{task['request']['id']}")


@router.get("/dialer/{request_id}")
async def held_call(page: Desk, request_id: str) -> Response:
    """A call the agent holds: whom to call, what to say, and the outcome form."""
    found = await page.gateway.get(f"/contact/v1/requests/{request_id}", page.token)
    return page.render("desk/dialer.html", task=found, none_waiting=False)


@router.post("/dialer/{request_id}/outcome")
async def call_outcome(
    page: Desk,
    request_id: str,
    csrf: Csrf,
    outcome: Annotated[str, Form(max_length=20)],
    disposition: Annotated[str, Form(max_length=64)] = "",
    notes: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record what happened on the call."""
    check_csrf(page, csrf)
    body = {"outcome": outcome, "disposition": disposition or None, "notes": notes or None}
    await page.gateway.post(f"/contact/v1/calls/{request_id}/outcome", page.token, body)
    return see_other("/desk/dialer")
