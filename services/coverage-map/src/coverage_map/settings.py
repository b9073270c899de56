"""Coverage settings: environment variables prefixed COVERAGE_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class CoverageSettings(ServiceSettings):
    """Settings of the coverage-map service."""

    model_config = SettingsConfigDict(env_prefix="COVERAGE_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "coverage-map"
    default_port: ClassVar[int] = 8102

    h3_resolution: int = 8
