"""Web settings: environment variables prefixed WEB_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class WebSettings(ServiceSettings):
    """Settings of the web pages service."""

    model_config = SettingsConfigDict(env_prefix="WEB_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "web"
    default_port: ClassVar[int] = 8105
