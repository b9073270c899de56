"""The campaigns service's events (stream CAMPAIGNS) and its command to billing.

Events name customers by ``customer_ref`` (the keyed pseudonym every service shares), never by
number; the credit-protection command is addressed to billing, which needs the number itself.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from careloop_common.events.envelope import EventContract, contract

# A campaign's statuses (from_status / to_status below): the campaigns API takes and answers them,
# and the campaign pages offer them, from this one list.
CAMPAIGN_STATUSES = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "scheduled",
    "running",
    "paused",
    "completed",
    "evaluated",
    "cancelled",
)
# Events a campaign can be triggered by: the operator's feeds, and coverage-map's completed plans.
TRIGGER_SUBJECTS = (
    "feeds.bss.balance_changed",
    "feeds.bss.bill_issued",
    "feeds.bss.payment_received",
    "feeds.bss.plan_changed",
    "feeds.bss.daily_spend_closed",
    "feeds.crm.subscriber_upserted",
    "feeds.network.location_updated",
    "feeds.network.call_detail",
    "coverage.plan.completed",
)


@contract
class CampaignStatusChangedV1(EventContract):
    """A campaign moved in its life (submitted, approved, running, completed …)."""

    subject = "campaigns.campaign.status_changed"
    version = 1

    campaign_id: str
    kind: str
    from_status: str | None
    to_status: str
    actor: str
    at: datetime


@contract
class CampaignRunCompletedV1(EventContract):
    """A batch run of a campaign finished: how many customers it met and what became of them."""

    subject = "campaigns.run.completed"
    version = 1

    campaign_id: str
    run: int
    targeted: int = Field(ge=0)
    held_out: int = Field(ge=0)
    suppressed: int = Field(ge=0)
    at: datetime


@contract
class CreditProtectionRequestedV1(EventContract):
    """Major-event care asks billing to keep a subscriber connected (a command, not a fact).

    Billing raises the subscriber's credit limit (or suspends arrears barring) until ``until`` so
    no one in a disaster area is cut off for an unpaid balance; the same ``idempotency_key`` again
    changes nothing. ``credit_limit`` None means billing's own emergency limit.
    """

    subject = "campaigns.cmd.protect_credit"
    version = 1

    idempotency_key: str = Field(min_length=1, max_length=255)
    incident_id: str
    incident_name: str
    msisdn: str
    customer_ref: str
    credit_limit: float | None = Field(default=None, ge=0)
    until: datetime
    at: datetime
