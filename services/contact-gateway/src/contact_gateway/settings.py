"""ContactGateway settings: environment variables prefixed CONTACT_ (then CARELOOP_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from careloop_common.settings import ServiceSettings


class ContactGatewaySettings(ServiceSettings):
    """Settings of the contact-gateway service."""

    model_config = SettingsConfigDict(env_prefix="CONTACT_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "contact-gateway"
    default_port: ClassVar[int] = 8104

    smsc_urls: str = Field(
        default="",
        description="SMSC connectors, comma-separated for failover: "
        "smpp://user:pass@host:2775?throughput=100&window=10&source=1000",
    )
    voice_url: str = Field(
        default="",
        description="voice platform (Asterisk ARI): ari://user:pass@host:8088?app=careloop&endpoint=PJSIP/{number}@trunk",
    )
    sender_id: str = Field(default="careloop", max_length=20, description="default SMS source address")
    default_time_zone: str = Field(
        default="Asia/Hong_Kong", description="time zone of a customer whose number names none (or several)"
    )
    quiet_hours: dict[str, str] = Field(
        default={"service": "", "care": "21:00-09:00"},
        description='local hours when nothing of a purpose goes, e.g. {"care": "21:00-09:00"}; "": none',
    )
    care_cap_day: int = Field(default=2, ge=0, description="care contacts per customer and channel per 24 h")
    care_cap_week: int = Field(
        default=4, ge=0, description="care contacts per customer and channel per 7 days"
    )
    care_cap_month: int = Field(
        default=8, ge=0, description="care contacts per customer and channel per 30 days"
    )
    dispatch_batch: int = Field(default=256, ge=1, le=5000, description="messages one dispatch pass claims")
    dispatch_poll_s: float = Field(
        default=0.5, gt=0, description="how often an idle dispatcher looks for work"
    )
    send_lease_s: float = Field(default=120.0, gt=0, description="how long a claimed message is held")
    max_attempts: int = Field(default=8, ge=1, description="submit attempts before a message fails")
    retry_base_s: float = Field(default=2.0, gt=0, description="first retry delay; doubles per attempt")
    retry_max_s: float = Field(default=300.0, gt=0, description="longest retry delay")
    agent_lease_s: float = Field(default=300.0, gt=0, description="how long an agent holds a claimed call")
    receipt_match_s: float = Field(
        default=5.0, gt=0, description="how often early receipts are matched again"
    )
    default_validity_h: int = Field(default=48, ge=1, description="expiry of a request that names none")
