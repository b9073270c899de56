"""Gateway settings: environment variables prefixed GATEWAY_ (then CARELOOP_)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings, stored_secret


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

    token_secret: str = Field(default="", description="HMAC key for staff tokens (shared by all replicas)")
    staff_token_ttl_s: int = Field(default=8 * 3600, description="staff token lifetime: one shift")
    credential_cache_s: float = Field(
        default=5.0,
        description="how long a checked key or user is trusted before the database is asked again",
    )
    oidc_issuer: str = Field(default="", description="trust staff tokens from this OIDC issuer too")
    oidc_audience: str = "careloop"
    oidc_jwks_url: str = Field(default="", description="the issuer's JWKS URL (jwks_uri)")
    oidc_roles_claim: str = Field(default="roles", description="dotted claim path holding role names")
    oidc_username_claim: str = "preferred_username"

    rate_limit_window_s: int = 60
    rate_limit_sync_interval_s: float = 0.25
    rate_limit_api_key: int = Field(default=600, description="requests per window per API key (default)")
    rate_limit_staff: int = Field(default=1200, description="requests per window per staff user")
    rate_limit_anonymous: int = Field(default=60, description="requests per window per client IP")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="CIDRs whose X-Forwarded-For is believed (ingress, load balancer)"
    )
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8080", "http://localhost:8080"],
        description="web origins allowed to call the API from a browser",
    )
    hsts: bool = Field(default=False, description="send Strict-Transport-Security (behind HTTPS)")
    openapi_cache_s: float = 30.0
    feeds_max_batch: int = 1000

    def model_post_init(self, context: Any, /) -> None:
        """Fill in the staff-token key from ``CARELOOP_HOME`` when none is configured."""
        super().model_post_init(context)
        if not self.token_secret:
            self.token_secret = stored_secret("token-secret", "GATEWAY_TOKEN_SECRET")

    def upstreams(self) -> dict[str, str]:
        """Return each upstream's base URL by name."""
        return {
            "complaints": self.complaints_url,
            "coverage-map": self.coverage_map_url,
            "campaigns": self.campaigns_url,
            "contact-gateway": self.contact_gateway_url,
            "web": self.web_url,
        }
