"""Events the complaints service publishes (stream COMPLAINTS)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from careloop_common.events.envelope import EventContract, contract


@contract
class ComplaintFiledV1(EventContract):
    """A complaint was filed on some channel."""

    subject = "complaints.complaint.filed"
    version = 1

    complaint_id: str
    reference: str
    category: str
    channel: str
    filed_at: datetime
    follow_up: bool = False


@contract
class FollowUpRequestedV1(EventContract):
    """An agent asked engineering to investigate the coverage where a complaint happened."""

    subject = "complaints.complaint.follow_up_requested"
    version = 1

    complaint_id: str
    reference: str
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    symptoms: list[str] = Field(default_factory=list)
    network: str | None = None
    customer_class: str = "normal"
    # A pseudonym of the customer (never the number), so engineering can count people, not calls.
    customer_ref: str | None = None
    requested_at: datetime
