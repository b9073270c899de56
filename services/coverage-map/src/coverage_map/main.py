"""Entry point: ``uvicorn coverage_map.main:create_app --factory``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careloop_common.app import create_service_app
from coverage_map import api, consumers, imports
from coverage_map.settings import CoverageSettings


def create_app(settings: CoverageSettings | None = None) -> FastAPI:
    """Build the coverage-map service."""
    settings = settings or CoverageSettings()
    start_imports, stop_imports = imports.lifecycle(settings)
    return create_service_app(
        settings,
        title="careloop coverage map",
        description="Areas, investigations, assessments, improvement plans, reply wording and hot spots.",
        routers=[api.router],
        consumers=consumers.specs(settings),
        migrations_dir=Path(__file__).parent / "migrations",
        on_startup=start_imports,
        on_shutdown=stop_imports,
    )
