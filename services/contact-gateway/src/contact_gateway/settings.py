"""ContactGateway settings: environment variables prefixed CONTACT_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class ContactGatewaySettings(ServiceSettings):
    """Settings of the contact-gateway service."""

    model_config = SettingsConfigDict(env_prefix="CONTACT_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "contact-gateway"
    default_port: ClassVar[int] = 8104
