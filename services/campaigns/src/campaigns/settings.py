"""Campaigns settings: environment variables prefixed CAMPAIGNS_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
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
    import_max_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="the largest file POST /campaigns/v1/imports takes (bytes)"
    )
    model_refresh_interval_s: float = Field(
        default=2.0, gt=0, description="how often the models of subscribers changed by feeds are recomputed"
    )
    place_history_days: int = Field(
        default=30, ge=1, le=366, description="days of where subscribers were seen kept for major-event care"
    )
    contact_history_days: int = Field(
        default=180,
        ge=1,
        le=3660,
        description="days after a pair of numbers' latest call their call counts are dropped",
    )
    time_zone: str = Field(
        default="Asia/Hong_Kong",
        description="the operator's time zone: whose calendar 'today' is in segments' day windows",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """Return the operator's time zone."""
        return ZoneInfo(self.time_zone)
