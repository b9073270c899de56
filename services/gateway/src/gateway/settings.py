"""Gateway settings: environment variables prefixed GATEWAY_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Settings of the gateway: where each upstream service answers and how long to wait."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8080

    admin_api_key: str = Field(default="", description="bootstrap admin key (CARELOOP_ADMIN_API_KEY)")
    complaints_url: str = "http://127.0.0.1:8101"
    coverage_map_url: str = "http://127.0.0.1:8102"
    campaigns_url: str = "http://127.0.0.1:8103"
    contact_gateway_url: str = "http://127.0.0.1:8104"
    web_url: str = "http://127.0.0.1:8105"
    upstream_timeout_s: float = 30.0
    upstream_connect_timeout_s: float = 2.0
    upstream_pool_size: int = 256

    def upstreams(self) -> dict[str, str]:
        """Return each upstream's base URL by name."""
        return {
            "complaints": self.complaints_url,
            "coverage-map": self.coverage_map_url,
            "campaigns": self.campaigns_url,
            "contact-gateway": self.contact_gateway_url,
            "web": self.web_url,
        }
