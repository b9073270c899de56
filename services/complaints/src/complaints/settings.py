"""Complaints settings: environment variables prefixed COMPLAINTS_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class ComplaintsSettings(ServiceSettings):
    """Settings of the complaints service."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "complaints"
    default_port: ClassVar[int] = 8101
