"""Coverage settings: environment variables prefixed COVERAGE_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class CoverageSettings(ServiceSettings):
    """Settings of the coverage-map service."""

    model_config = SettingsConfigDict(env_prefix="COVERAGE_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "coverage-map"
    default_port: ClassVar[int] = 8102

    h3_resolution: int = Field(default=8, ge=5, le=12, description="H3 resolution of an area (8: ~0.7 km²)")
    district_resolution: int = Field(default=6, ge=3, le=9, description="coarser H3 resolution of a district")
    lookup_cache_s: float = Field(default=5.0, description="how long a replica reuses a lookup answer")
