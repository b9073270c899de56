"""Web settings: environment variables prefixed WEB_ (then CARELOOP_)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings, stored_secret


class WebSettings(ServiceSettings):
    """Settings of the web pages service: where the gateway is and how staff sessions are kept."""

    model_config = SettingsConfigDict(env_prefix="WEB_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "web"
    default_port: ClassVar[int] = 8105

    gateway_url: str = Field(
        default="http://127.0.0.1:8080", description="the gateway the pages call (server-side)"
    )
    gateway_timeout_s: float = 10.0
    session_secret: str = Field(
        default="", description="key that encrypts and signs the staff session cookie (same on every replica)"
    )
    cookie_secure: bool = Field(default=False, description="mark cookies Secure (behind HTTPS)")
    default_language: str = "zh-Hant"

    def model_post_init(self, context: Any, /) -> None:
        """Fill in the session key from ``CARELOOP_HOME`` when none is configured."""
        super().model_post_init(context)
        if not self.session_secret:
            self.session_secret = stored_secret("web-session-secret", "WEB_SESSION_SECRET")
