"""Campaigns settings: environment variables prefixed CAMPAIGNS_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class CampaignsSettings(ServiceSettings):
    """Settings of the campaigns service."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGNS_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "campaigns"
    default_port: ClassVar[int] = 8103

    scheduler_interval_s: float = Field(
        default=30.0, gt=0, le=3600, description="how often due batch campaigns are looked for"
    )
