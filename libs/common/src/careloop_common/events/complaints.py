"""Events the complaints service publishes (stream COMPLAINTS)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

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
    # Where and who, for services that care about the customer afterwards (campaigns' coverage-
    # improved notice and revisit surveys): a pseudonym, never the number; absent on old events.
    customer_ref: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    area_id: str | None = None


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


class _ComplaintFact(EventContract):
    """Fields every complaint fact carries, so consumers can route without a lookup."""

    complaint_id: str
    reference: str
    category: str
    at: datetime


@contract
class ComplaintAssignedV1(_ComplaintFact):
    """A complaint has an owner: whoever took it, or the queue it waits in."""

    subject = "complaints.complaint.assigned"
    version = 1

    owner: str
    queue: str
    priority: str


@contract
class ComplaintTransferredV1(_ComplaintFact):
    """Ownership was handed over explicitly, with a reason."""

    subject = "complaints.complaint.transferred"
    version = 1

    from_owner: str
    to_owner: str
    queue: str
    reason: str


@contract
class StatusChangedV1(_ComplaintFact):
    """A complaint moved in its lifecycle (TMF621 states)."""

    subject = "complaints.complaint.status_changed"
    version = 1

    from_status: str
    to_status: str
    by: str
    reason: str | None = None


@contract
class SlaWarningV1(_ComplaintFact):
    """An SLA clock is close to its deadline."""

    subject = "complaints.complaint.sla_warning"
    version = 1

    clock: Literal["first_response", "next_update", "resolution"]
    due_at: datetime
    owner: str


@contract
class SlaBreachedV1(_ComplaintFact):
    """An SLA clock passed its deadline; the complaint went to the supervisor queue."""

    subject = "complaints.complaint.sla_breached"
    version = 1

    clock: Literal["first_response", "next_update", "resolution"]
    due_at: datetime
    owner: str
    region: str


@contract
class AnswerAttachedV1(_ComplaintFact):
    """Engineering's answer for the complaint's area was attached (at intake or later)."""

    subject = "complaints.complaint.answer_attached"
    version = 1

    area_id: str
    answer_state: str
    wording_version: int | None = None
    dispatch_at: datetime | None = None


@contract
class ComplaintResolvedV1(_ComplaintFact):
    """The owner resolved the complaint."""

    subject = "complaints.complaint.resolved"
    version = 1

    by: str
    first_contact: bool = False


@contract
class ComplaintClosedV1(_ComplaintFact):
    """A complaint was closed; its revisit is scheduled."""

    subject = "complaints.complaint.closed"
    version = 1

    by: str
    revisit_due_at: datetime | None = None


@contract
class ComplaintReopenedV1(_ComplaintFact):
    """A resolved complaint was reopened (the customer says it is not fixed)."""

    subject = "complaints.complaint.reopened"
    version = 1

    by: str
    reason: str


@contract
class RevisitCompletedV1(_ComplaintFact):
    """The customer answered the revisit after closing."""

    subject = "complaints.complaint.revisit_completed"
    version = 1

    satisfied: bool | None = None
    score: int | None = Field(default=None, ge=1, le=5)
    channel: str
