"""Campaigns tables (SQLModel: X(table=True)).

The audience lives here: one ``subscriber`` row per customer with its profile, the usage
aggregates the operator's feeds keep current, and the outputs of the models (life-cycle stage,
value tier, fee sensitivity, the best-fitting plan). ``plan`` is the tariff catalogue the
tariff-matching model prices usage against. ``subscriber_event`` keeps the past events segments
ask about ("complained about coverage in the last 180 days"). ``model_run`` records each run of the
models with the value-tier cut-off it applied, so recomputing a few subscribers ranks them against
the population the last full run saw. ``segment`` keeps the named condition trees marketers save
(segments.py is their language).
the population the last full run saw. ``model_due`` lists subscribers whose feeds changed a model
input since their outputs were computed; ``audience_import`` records each bulk import of the audience.
Major-event care (incidents.py) keeps ``place_seen`` (where the network saw each subscriber),
``call_contact`` (whom they call, how often), and per ``incident`` its people and call rounds;
``network_cell_site`` maps the network's own cell ids to positions (cell_sites.py).

Money is in the operator's currency as a float with two decimals of meaning; usage counts are
per calendar month, ``_m1`` being the last complete month.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Float, Index, Integer, SmallInteger, String
from sqlmodel import Field, SQLModel

from careloop_common.db import UTCDateTime, metadata

__all__ = [
    "Campaign",
    "CampaignMember",
    "CampaignStep",
    "ModelRun",
    "Plan",
    "Segment",
    "Subscriber",
    "SubscriberEvent",
    "metadata",
]
__all__ = [
    "CallContact",
    "ImportJob",
    "Incident",
    "IncidentCall",
    "IncidentPerson",
    "ModelDue",
    "ModelRun",
    "NetworkCellSite",
    "PlaceSeen",
    "Plan",
    "Subscriber",
    "SubscriberEvent",
    "metadata",
]

AUTO_ID = BigInteger().with_variant(Integer, "sqlite")

CUSTOMER_CLASSES = ("vip", "gold", "normal", "key_account")
LIFECYCLE_STAGES = ("acquisition", "growth", "maturity", "decline")
VALUE_TIERS = ("top20", "rest")


class Subscriber(SQLModel, table=True):
    """A customer: profile, usage aggregates kept current from feeds, and model outputs."""

    __tablename__ = "subscriber"
    __table_args__ = (
        Index("ix_subscriber_region_class", "region", "customer_class"),
        Index("ix_subscriber_cell", "cell"),
    )

    # ── profile (feeds.crm.subscriber_upserted, bulk import) ──────────────────────────────────
    msisdn: str = Field(sa_column=Column(String(16), primary_key=True))  # E.164
    customer_ref: str = Field(sa_column=Column(String(32), nullable=False, index=True))  # keyed pseudonym
    brand: str = Field(sa_column=Column(String(32), nullable=False))
    plan_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    region: str = Field(sa_column=Column(String(16), nullable=False))  # HK, CN-GD, …
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    language: str = Field(default="zh-Hant", sa_column=Column(String(8), nullable=False))
    join_date: date = Field(sa_column=Column(Date, nullable=False))
    birthday: date | None = Field(default=None, sa_column=Column(Date))
    customer_class: str = Field(default="normal", sa_column=Column(String(16), nullable=False))
    contact_sms: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    contact_call: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    # When the CRM profile and the plan held were current: older feed events do not overwrite them.
    profile_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    plan_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    # ── money (feeds.bss.*) ───────────────────────────────────────────────────────────────────
    balance: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    balance_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    bill_period: str | None = Field(default=None, sa_column=Column(String(7)))  # YYYY-MM of the _m1 values
    revenue_m1: float = Field(default=0.0, sa_column=Column(Float, nullable=False))  # last bill
    revenue_m2: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    revenue_m3: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    # Spend per day over the last 7 days, oldest first; the mean of the last three is kept as a
    # column so "balance < 3 * avg_daily_spend_3d" is one comparison in SQL.
    daily_spend: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    avg_daily_spend_3d: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    spend_through: date | None = Field(default=None, sa_column=Column(Date))  # daily_spend's last day
    top_ups_m1: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_payment_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    points: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    points_expire_on: date | None = Field(default=None, sa_column=Column(Date))

    # ── usage, last complete month (feeds.bss.bill_issued, feeds.network.call_detail) ─────────
    minutes_m1: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    sms_m1: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    data_mb_m1: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    long_distance_minutes_m1: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    roaming_minutes_m1: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    # Long-distance calls dialled with the operator's cheap prefix (12593 in the seeds).
    prefix_calls_m1: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    long_distance_calls_m1: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    fee_queries_m1: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # manual queries

    # ── where the network last saw them (feeds.network.location_updated) ──────────────────────
    cell: str | None = Field(default=None, sa_column=Column(String(16)))  # H3 cell
    roaming: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    roaming_country: str | None = Field(default=None, sa_column=Column(String(2)))
    located_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    # ── model outputs (recomputed on import and on change) ────────────────────────────────────
    lifecycle_stage: str | None = Field(default=None, sa_column=Column(String(16)))
    value_tier: str | None = Field(default=None, sa_column=Column(String(8)))
    fee_sensitivity: int | None = Field(default=None, sa_column=Column(SmallInteger))  # 1 (low) … 4
    recommended_plan_id: str | None = Field(default=None, sa_column=Column(String(32)))
    plan_saving: float | None = Field(default=None, sa_column=Column(Float))  # per month
    models_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Plan(SQLModel, table=True):
    """A tariff plan of the catalogue: its fee, what it includes, and what usage beyond costs."""

    __tablename__ = "plan"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    name: str = Field(sa_column=Column(String(128), nullable=False))
    monthly_fee: float = Field(sa_column=Column(Float, nullable=False))
    included_minutes: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    included_sms: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    included_data_mb: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    per_minute: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    per_sms: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    per_mb: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    long_distance_per_minute: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    roaming_per_minute: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SubscriberEvent(SQLModel, table=True):
    """A past event of a customer that segments can ask about (a complaint, a plan change, …)."""

    __tablename__ = "subscriber_event"
    __table_args__ = (
        Index("ix_subscriber_event_lookup", "msisdn", "kind", "at"),
        Index("ix_subscriber_event_kind_at", "kind", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True, autoincrement=True))
    msisdn: str = Field(sa_column=Column(String(16), nullable=False))
    kind: str = Field(sa_column=Column(String(48), nullable=False))  # complaint.coverage, plan.changed, …
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    detail: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ModelRun(SQLModel, table=True):
    """One recompute of the models: what it covered and the value-tier cut-off it applied."""

    __tablename__ = "model_run"

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True, autoincrement=True))
    scope: str = Field(sa_column=Column(String(8), nullable=False))  # all | some
    as_of: date = Field(sa_column=Column(Date, nullable=False))  # the day tenure is counted to
    # Mean monthly revenue from which a subscriber is top20; None when the population was empty.
    value_cutoff: float | None = Field(default=None, sa_column=Column(Float))
    cutoff_population: int = Field(sa_column=Column(Integer, nullable=False))  # rows the cut-off stands on
    scored: int = Field(sa_column=Column(Integer, nullable=False))
    recommended: int = Field(sa_column=Column(Integer, nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Segment(SQLModel, table=True):
    """A saved, named segment: a condition tree over subscribers, who wrote it and when."""

    __tablename__ = "segment"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    name: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    description: str | None = Field(default=None, sa_column=Column(String(2000)))
    conditions: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    updated_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Campaign(SQLModel, table=True):
    """A care campaign: its goal, audience, trigger, content and rules, and where it is in its life."""

    __tablename__ = "campaign"
    __table_args__ = (Index("ix_campaign_status_trigger", "status", "trigger_kind"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    goal: str = Field(sa_column=Column(String(2000), nullable=False))
    kind: str = Field(sa_column=Column(String(48), nullable=False))  # a catalogue template's id
    status: str = Field(sa_column=Column(String(16), nullable=False))
    # The audience: a segment condition tree (segments.py), or a saved segment's id.
    audience: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    segment_id: str | None = Field(default=None, sa_column=Column(String(36)))
    # event (subject + condition), schedule (cron + time zone) or once (at).
    trigger_kind: str = Field(sa_column=Column(String(16), nullable=False))
    trigger: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    channel: str = Field(default="sms", sa_column=Column(String(16), nullable=False))
    content: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )  # by language
    priority: int = Field(default=5, sa_column=Column(SmallInteger, nullable=False))
    cap_per_customer: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    min_gap_days: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    control_share: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    conversion: dict[str, object] | None = Field(default=None, sa_column=Column(JSON))
    starts_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    ends_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    author: str = Field(sa_column=Column(String(128), nullable=False))
    approver: str | None = Field(default=None, sa_column=Column(String(128)))
    approved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    next_run_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    runs: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CampaignStep(SQLModel, table=True):
    """One change of a campaign: who, when, from what to what, and why."""

    __tablename__ = "campaign_step"

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True, autoincrement=True))
    campaign_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))  # created edited status run
    from_value: str | None = Field(default=None, sa_column=Column(String(32)))
    to_value: str | None = Field(default=None, sa_column=Column(String(32)))
    note: str | None = Field(default=None, sa_column=Column(String(1000)))


class CampaignMember(SQLModel, table=True):
    """A customer a campaign met: their arm (treatment or control), what became of the contact, and
    any conversion."""

    __tablename__ = "campaign_member"
    __table_args__ = (
        Index("ix_campaign_member_outcome", "campaign_id", "outcome"),
        Index("ix_campaign_member_ref", "customer_ref", "campaign_id"),
    )

    campaign_id: str = Field(sa_column=Column(String(36), primary_key=True))
    msisdn: str = Field(sa_column=Column(String(16), primary_key=True))
    customer_ref: str = Field(sa_column=Column(String(32), nullable=False))
    arm: str = Field(sa_column=Column(String(9), nullable=False))  # treatment | control
    # targeted held_out suppressed accepted sent delivered failed
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(64)))
    touches: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # control: as if contacted
    first_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The end of the conversion window (first_at + the goal's days): an event of the goal's kind
    # between first_at and this converts the customer. Kept so the query needs no date arithmetic.
    conversion_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The customer's latest SMS reply to the campaign (a survey's answer: "1" satisfied, "2" not).
    answer: str | None = Field(default=None, sa_column=Column(String(160)))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ModelDue(SQLModel, table=True):
    """A subscriber whose model inputs changed since the models last ran on them.

    Written in the transaction that changed the inputs, so no change is forgotten by a crash;
    ``version`` grows with each change, so a recompute removes only the marks it has seen.
    """

    __tablename__ = "model_due"

    msisdn: str = Field(sa_column=Column(String(16), primary_key=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportJob(SQLModel, table=True):
    """One bulk import of subscribers: its progress, counts, and the first rows it refused."""

    # Not "import_job": coverage-map has that table, and every service shares one metadata registry.
    __tablename__ = "audience_import"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    filename: str | None = Field(default=None, sa_column=Column(String(300)))
    format: str = Field(sa_column=Column(String(8), nullable=False))  # csv | parquet
    status: str = Field(sa_column=Column(String(16), nullable=False))  # running done failed
    failure: str | None = Field(default=None, sa_column=Column(String(1000)))
    bytes_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_total: int | None = Field(default=None, sa_column=Column(BigInteger))  # known for Parquet
    progress: float = Field(default=0.0, sa_column=Column(Float, nullable=False))  # 0 … 1 of the file read
    rows_read: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_imported: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_rejected: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # Rejected rows as {"row", "field", "reason"}: the first MAX_REPORTED_ERRORS of them.
    errors: list[dict[str, object]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    models_scored: int | None = Field(default=None, sa_column=Column(Integer))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# ── major-event care (incidents.py) ───────────────────────────────────────────────────────────────


class PlaceSeen(SQLModel, table=True):
    """Where the network saw a subscriber, and when: the history major-event care looks back on.

    ``subscriber.cell`` holds only the newest place; an incident declared after the event has to
    know who was in the area since its window began. Rows older than the history kept are pruned.
    """

    __tablename__ = "place_seen"
    __table_args__ = (Index("ix_place_seen_at", "at"), Index("ix_place_seen_msisdn", "msisdn", "at"))

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True, autoincrement=True))
    msisdn: str = Field(sa_column=Column(String(16), nullable=False))
    cell: str = Field(sa_column=Column(String(16), nullable=False))  # H3, resolution 8
    lat: float = Field(sa_column=Column(Float, nullable=False))  # the cell's centre: a bounding-box filter
    lng: float = Field(sa_column=Column(Float, nullable=False))
    roaming: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class CallContact(SQLModel, table=True):
    """How often a subscriber called a number (from call detail records): who their closest are."""

    __tablename__ = "call_contact"
    __table_args__ = (Index("ix_call_contact_counterpart", "counterpart"),)

    msisdn: str = Field(sa_column=Column(String(16), primary_key=True))  # the caller, a subscriber
    counterpart: str = Field(sa_column=Column(String(21), primary_key=True))  # E.164 when it could be read
    calls: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    seconds: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    last_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Incident(SQLModel, table=True):
    """A declared major event (an earthquake, a typhoon): its area, window, care calls and state."""

    __tablename__ = "incident"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(8), nullable=False))  # active | closed
    area: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # as declared
    cells: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # compacted H3
    min_lat: float = Field(sa_column=Column(Float, nullable=False))
    max_lat: float = Field(sa_column=Column(Float, nullable=False))
    min_lng: float = Field(sa_column=Column(Float, nullable=False))
    max_lng: float = Field(sa_column=Column(Float, nullable=False))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    content: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )  # by language
    channel: str = Field(default="agent_call", sa_column=Column(String(16), nullable=False))
    rounds: int = Field(default=3, sa_column=Column(SmallInteger, nullable=False))
    round_gap_s: int = Field(default=3600, sa_column=Column(Integer, nullable=False))
    contacts_per_person: int = Field(default=5, sa_column=Column(SmallInteger, nullable=False))
    credit_limit: float | None = Field(default=None, sa_column=Column(Float))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_by: str | None = Field(default=None, sa_column=Column(String(128)))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class IncidentPerson(SQLModel, table=True):
    """Someone an incident cares for: a subscriber in the area or one of their closest contacts."""

    __tablename__ = "incident_person"
    __table_args__ = (
        Index("ix_incident_person_ref", "incident_id", "customer_ref"),
        Index("ix_incident_person_due", "next_round_at"),
    )

    incident_id: str = Field(sa_column=Column(String(36), primary_key=True))
    msisdn: str = Field(sa_column=Column(String(21), primary_key=True))
    customer_ref: str = Field(sa_column=Column(String(32), nullable=False))
    role: str = Field(sa_column=Column(String(8), nullable=False))  # affected | contact
    via: str = Field(sa_column=Column(String(16), nullable=False))  # located roaming entered contact
    contact_of: str | None = Field(default=None, sa_column=Column(String(16)))  # the affected msisdn
    language: str = Field(default="zh-Hant", sa_column=Column(String(8), nullable=False))
    # calling answered safe needs_help unreachable
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    rounds: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False))  # calls placed
    next_round_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_call: str | None = Field(default=None, sa_column=Column(String(48)))  # the last round's result
    credit_protected: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(1000)))
    outcome_by: str | None = Field(default=None, sa_column=Column(String(128)))
    outcome_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    added_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IncidentCall(SQLModel, table=True):
    """One care call round placed for an incident, and what came of it."""

    __tablename__ = "incident_call"
    __table_args__ = (Index("ix_incident_call_incident", "incident_id", "placed_at"),)

    id: int | None = Field(default=None, sa_column=Column(AUTO_ID, primary_key=True, autoincrement=True))
    incident_id: str = Field(sa_column=Column(String(36), nullable=False))
    msisdn: str = Field(sa_column=Column(String(21), nullable=False))
    round: int = Field(sa_column=Column(SmallInteger, nullable=False))
    placed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    result: str | None = Field(default=None, sa_column=Column(String(48)))
    result_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class NetworkCellSite(SQLModel, table=True):
    """A network cell (its id as the operator's network names it) and where it is: incidents
    declared by network cells are resolved through it to H3 cells."""

    __tablename__ = "network_cell_site"

    cell_id: str = Field(sa_column=Column(String(32), primary_key=True))  # e.g. 460-00-1234567-12
    lat: float = Field(sa_column=Column(Float, nullable=False))
    lng: float = Field(sa_column=Column(Float, nullable=False))
    cell: str = Field(sa_column=Column(String(16), nullable=False))  # H3 of the position, resolution 8
    name: str | None = Field(default=None, sa_column=Column(String(128)))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
