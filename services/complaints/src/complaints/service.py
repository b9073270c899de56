"""Domain rules of the complaints service."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.auth import Principal
from careloop_common.db import utcnow
from careloop_common.events.complaints import ComplaintFiledV1, FollowUpRequestedV1
from careloop_common.outbox import publish_later
from complaints import repository
from complaints.models import Complaint
from complaints.schemas import ComplaintCreate

# Crockford-style alphabet: no I, L, O, U, so a reference read over the phone is not misheard.
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """Return a short human reference for a complaint, e.g. ``CMP-7K3QX9T2``."""
    return "CMP-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


async def file_complaint(
    session: AsyncSession, data: ComplaintCreate, by: Principal, source: str
) -> Complaint:
    """File a complaint, owned by whoever took it, and announce it (and any follow-up) via the outbox."""
    now = utcnow()
    complaint = Complaint(
        id=str(uuid.uuid4()),
        reference=new_reference(),
        status="acknowledged",
        owner=by.subject,
        partner_id=by.partner_id,
        created_at=now,
        updated_at=now,
        **data.model_dump(mode="json"),
    )
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
                requested_at=now,
            ),
            source=source,
            subject=complaint.id,
        )
    return complaint
