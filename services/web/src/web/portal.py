"""The customer portal (no login): file a coverage complaint, track it, check coverage and plans."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from web.pages import Page

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(page: Page) -> Response:
    """The portal's front page: what a customer can do here."""
    return page.render("portal/home.html")
