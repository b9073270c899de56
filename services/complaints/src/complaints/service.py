"""Domain rules of the complaints service."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.auth import Principal
from careloop_common.db import utcnow
from careloop_common.events.complaints import ComplaintFiledV1, FollowUpRequestedV1
from careloop_common.outbox import publish_later
from careloop_common.pseudonyms import customer_ref
from complaints import clocks, lifecycle, repository
from complaints.models import Complaint
from complaints.schemas import ComplaintCreate, CustomerView

# Crockford-style alphabet: no I, L, O, U, so a reference read over the phone is not misheard.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_PREFIX = "trk_"


def new_reference() -> str:
    """Return a short human reference for a complaint, e.g. ``CMP-7K3QX9T2``."""
    return "CMP-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def new_tracking_token() -> tuple[str, str]:
    """Return an unguessable tracking token for the customer and the hash we keep of it."""
    token = TRACKING_PREFIX + secrets.token_urlsafe(24)
    return token, tracking_hash(token)


def tracking_hash(token: str) -> str:
    """Return the stored form of a tracking token (the gateway passes the same hash as subject)."""
    return hashlib.sha256(token.encode()).hexdigest()


def tracking_hash_of(principal: Principal) -> str | None:
    """Return the tracking-token hash a portal customer's principal carries, if any."""
    if principal.kind != "customer" or not principal.subject.startswith("trk:"):
        return None
    return principal.subject.removeprefix("trk:")


async def file_complaint(
    session: AsyncSession, data: ComplaintCreate, by: Principal, source: str, customer_key: str
) -> tuple[Complaint, str]:
    """File a complaint, owned by whoever took it, and announce it (and any follow-up) via the outbox.

    Returns the complaint and the customer's tracking token, which is not stored and cannot be
    shown again.
    """
    now = utcnow()
    token, token_hash = new_tracking_token()
    fields = data.model_dump()
    region = region_of(data.msisdn)
    complaint = Complaint(
        id=str(uuid.uuid4()),
        reference=new_reference(),
        status="acknowledged",
        owner=by.subject,
        partner_id=by.partner_id,
        tracking_token_hash=token_hash,
        region=region,
        priority=lifecycle.priority_for(data.customer_class),
        queue=lifecycle.queue_for(data.category, region, data.customer_class),
        created_at=now,
        updated_at=now,
        **{**fields, "symptoms": [str(s) for s in data.symptoms], "occurred_at": data.occurred_at},
    )
    clocks.refresh(complaint)
    await repository.add(session, complaint)
    publish_later(
        session,
        ComplaintFiledV1(
            complaint_id=complaint.id,
            reference=complaint.reference,
            category=complaint.category,
            channel=complaint.channel,
            filed_at=now,
            follow_up=complaint.follow_up,
        ),
        source=source,
        subject=complaint.id,
    )
    if complaint.follow_up and complaint.lat is not None and complaint.lng is not None:
        publish_later(
            session,
            FollowUpRequestedV1(
                complaint_id=complaint.id,
                reference=complaint.reference,
                lat=complaint.lat,
                lng=complaint.lng,
                symptoms=complaint.symptoms,
                network=complaint.network,
                customer_ref=customer_ref(complaint.msisdn, customer_key),
                requested_at=now,
            ),
            source=source,
            subject=complaint.id,
        )
    return complaint, token


# Country calling codes → the region whose calendar and queues serve the customer.
REGIONS_BY_CODE = {"852": "HK", "853": "HK", "86": "CN"}


def region_of(msisdn: str, default: str = "HK") -> str:
    """Return the region that serves a number: Hong Kong, mainland China, else the default."""
    for code, region in REGIONS_BY_CODE.items():
        if msisdn.startswith("+" + code):
            return region
    return default


def customer_view(complaint: Complaint) -> CustomerView:
    """Show a complaint as its customer may see it: the number masked, no staff fields."""
    return CustomerView(
        reference=complaint.reference,
        status=complaint.status,
        category=complaint.category,
        channel=complaint.channel,
        msisdn_masked=mask_msisdn(complaint.msisdn),
        symptoms=list(complaint.symptoms),
        address=complaint.address,
        created_at=complaint.created_at,
        updated_at=complaint.updated_at,
    )


def mask_msisdn(msisdn: str) -> str:
    """Show a number as ``+852******67``: enough for the customer to recognise it."""
    return msisdn[:4] + "*" * max(0, len(msisdn) - 6) + msisdn[-2:]
