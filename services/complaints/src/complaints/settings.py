"""Complaints settings: environment variables prefixed COMPLAINTS_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class ComplaintsSettings(ServiceSettings):
    """Settings of the complaints service."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "complaints"
    default_port: ClassVar[int] = 8101

    # The instant answer at intake (docs/complaints.md, "Instant answer").
    coverage_url: str = Field(
        default="http://127.0.0.1:8102", description="coverage-map's base URL (the launcher sets it)"
    )
    coverage_timeout_s: float = Field(
        default=0.8, gt=0, le=10, description="how long intake waits for coverage-map before filing anyway"
    )
    coverage_pause_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="after a failed lookup, how long intake files without asking coverage-map (0: ask)",
    )
    coverage_h3_resolution: int = Field(
        default=8,
        ge=5,
        le=12,
        description="H3 resolution of a coverage area; must equal coverage-map's COVERAGE_H3_RESOLUTION",
    )
    # Follow-up: the answer goes to the owner on this working day after engineering's assessment.
    dispatch_working_days: int = Field(default=3, ge=1, le=20)
    # The scheduler: SLA watcher, dispatch of answers, revisits.
    scheduler_interval_s: float = Field(default=5.0, gt=0, description="seconds between scheduler passes")
    scheduler_batch: int = Field(default=100, ge=1, le=5000, description="complaints per claim")
    # Revisit after closing: calendar days per category, else the default.
    revisit_days: dict[str, int] = Field(default_factory=lambda: {"coverage": 7})
    revisit_days_default: int = Field(default=3, ge=0, le=90)

    def revisit_delay_days(self, category: str) -> int:
        """Return how many days after closing a complaint of this category is revisited."""
        return self.revisit_days.get(category, self.revisit_days_default)
