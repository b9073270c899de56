"""Pages: served as static files; every page talks to the gateway's API from the browser."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """Serve the landing page."""
    return FileResponse(STATIC / "index.html", media_type="text/html")
