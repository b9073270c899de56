"""The complaint lifecycle (TMF621 states), ownership and the history every change leaves.

    acknowledged ─► inProgress ⇄ held / pending ─► resolved ─► closed
         │                                           │
         └─► rejected, cancelled (from any open state) └─► inProgress (reopen)

Every change records who, when and why (``complaint_history``) and stages its event in the same
transaction (outbox). An illegal transition is a 409 problem naming the allowed ones.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.errors import ProblemError
from careloop_common.events import EventContract
from careloop_common.events.complaints import (
    ComplaintAssignedV1,
    ComplaintClosedV1,
    ComplaintReopenedV1,
    ComplaintResolvedV1,
    ComplaintTransferredV1,
    StatusChangedV1,
)
from careloop_common.outbox import publish_later
from complaints import clocks, notices, repository
from complaints.models import Complaint

STATUSES = ("acknowledged", "inProgress", "pending", "held", "resolved", "closed", "rejected", "cancelled")
OPEN = clocks.OPEN
ENDED = frozenset({"closed", "rejected", "cancelled"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "acknowledged": frozenset({"inProgress", "pending", "held", "resolved", "rejected", "cancelled"}),
    "inProgress": frozenset({"pending", "held", "resolved", "cancelled"}),
    "pending": frozenset({"inProgress", "held", "resolved", "cancelled"}),
    "held": frozenset({"inProgress", "pending", "resolved", "cancelled"}),
    "resolved": frozenset({"closed", "inProgress"}),
    "closed": frozenset(),
    "rejected": frozenset(),
    "cancelled": frozenset(),
}
# Changes the customer hears of (the portal timeline shows the same).
TOLD: dict[str, notices.Step] = {"resolved": "resolved", "closed": "closed"}

# Customers whose complaints take the green channel: higher priority, shorter SLA.
GREEN_CLASSES = frozenset({"vip", "gold"})
SUPERVISOR_QUEUE = "supervisor"


def priority_for(customer_class: str) -> str:
    """Return the priority a customer's class earns (green channel for VIP and gold)."""
    return "high" if customer_class in GREEN_CLASSES else "normal"


def queue_for(category: str, region: str, customer_class: str) -> str:
    """Return the queue a complaint waits in: by category, region and customer class."""
    lane = "green" if customer_class in GREEN_CLASSES else "standard"
    return f"{category}.{region}.{lane}"


def check_transition(complaint: Complaint, to: str) -> None:
    """Refuse a change the lifecycle does not allow, naming the ones it does."""
    if to not in STATUSES:
        raise ProblemError(422, "unknown-status", f"no status {to!r}", field="status", allowed=list(STATUSES))
    allowed = TRANSITIONS[complaint.status]
    if to not in allowed:
        raise ProblemError(
            409,
            "illegal-transition",
            f"a complaint cannot go from {complaint.status} to {to}",
            current=complaint.status,
            allowed=sorted(allowed),
        )


def record(
    session: AsyncSession,
    complaint: Complaint,
    kind: str,
    *,
    actor: str,
    at: datetime,
    from_value: str | None = None,
    to_value: str | None = None,
    reason: str | None = None,
    customer_visible: bool = False,
) -> None:
    """Add one step to the complaint's history."""
    repository.add_history(
        session,
        complaint.id,
        at=at,
        actor=actor,
        kind=kind,
        from_value=from_value,
        to_value=to_value,
        reason=reason and reason[:2000],
        customer_visible=customer_visible,
    )
    complaint.updated_at = at


def announce(session: AsyncSession, complaint: Complaint, payload: EventContract, source: str) -> None:
    """Stage an event about a complaint in the current transaction."""
    publish_later(session, payload, source=source, subject=complaint.id)


def fact(complaint: Complaint, at: datetime) -> dict[str, object]:
    """Return the fields every complaint event carries."""
    return {
        "complaint_id": complaint.id,
        "reference": complaint.reference,
        "category": complaint.category,
        "at": at,
    }


def change_status(
    session: AsyncSession,
    complaint: Complaint,
    to: str,
    *,
    by: str,
    now: datetime,
    source: str,
    reason: str | None = None,
    revisit_due_at: datetime | None = None,
) -> None:
    """Move a complaint in its lifecycle: clocks, history, events and the customer's notice.

    ``revisit_due_at`` is when a complaint being closed is revisited (the closed event says it).
    """
    check_transition(complaint, to)
    resolved_at = complaint.resolved_at
    before = complaint.status
    complaint.status = to
    if to == "resolved" and before == "acknowledged" and complaint.first_responded_at is None:
        complaint.first_contact_resolution = True
    _move_clocks(complaint, before, to, by, now)
    if to == "resolved":
        complaint.resolved_at = now
        complaint.resolution = reason or complaint.resolution
    if to == "closed":
        complaint.closed_at = now
        complaint.revisit_due_at = revisit_due_at
    record(
        session,
        complaint,
        "status_changed",
        actor=by,
        at=now,
        from_value=before,
        to_value=to,
        reason=reason,
        customer_visible=True,
    )
    announce(
        session,
        complaint,
        StatusChangedV1(**fact(complaint, now), from_status=before, to_status=to, by=by, reason=reason),
        source,
    )
    if to == "resolved":
        announce(
            session,
            complaint,
            ComplaintResolvedV1(
                **fact(complaint, now), by=by, first_contact=complaint.first_contact_resolution
            ),
            source,
        )
    elif to == "closed":
        announce(
            session,
            complaint,
            ComplaintClosedV1(**fact(complaint, now), by=by, revisit_due_at=complaint.revisit_due_at),
            source,
        )
    elif before == "resolved" and to == "inProgress":
        _reopen(session, complaint, by=by, now=now, source=source, reason=reason, resolved_at=resolved_at)
    if to in TOLD:
        notices.tell(
            session, complaint, TOLD[to], now=now, source=source, variables={"resolution": reason or ""}
        )


def _move_clocks(complaint: Complaint, before: str, to: str, by: str, now: datetime) -> None:
    """Pause while pending on the customer; any staff move is the first response."""
    if to == "pending":
        clocks.pause(complaint, now)
    elif before == "pending":
        clocks.resume(complaint, now)
    if by != "system" and to != "acknowledged":
        clocks.responded(complaint, now)
    clocks.refresh(complaint)


def _reopen(
    session: AsyncSession,
    complaint: Complaint,
    *,
    by: str,
    now: datetime,
    source: str,
    reason: str | None,
    resolved_at: datetime | None,
) -> None:
    """A resolved complaint comes back: the resolution clock runs from where it stood."""
    if resolved_at is not None:
        # The time it sat resolved is not the owner's: the clocks stood still meanwhile.
        complaint.pauses = [*complaint.pauses, [resolved_at.isoformat(), now.isoformat()]]
    complaint.resolved_at = None
    complaint.first_contact_resolution = False
    complaint.sla_flags = [f for f in complaint.sla_flags if not f.startswith("resolution:")]
    clocks.refresh(complaint)
    announce(
        session,
        complaint,
        ComplaintReopenedV1(**fact(complaint, now), by=by, reason=reason or "reopened"),
        source,
    )
    notices.tell(session, complaint, "reopened", now=now, source=source)


def assign(
    session: AsyncSession,
    complaint: Complaint,
    owner: str,
    *,
    by: str,
    now: datetime,
    source: str,
    tell: bool = True,
) -> None:
    """Give a complaint its owner (at intake, or when a queued complaint is taken)."""
    before = complaint.owner
    complaint.owner = owner
    record(
        session,
        complaint,
        "assigned",
        actor=by,
        at=now,
        from_value=before if before != owner else None,
        to_value=owner,
        customer_visible=tell,
    )
    announce(
        session,
        complaint,
        ComplaintAssignedV1(
            **fact(complaint, now), owner=owner, queue=complaint.queue, priority=complaint.priority
        ),
        source,
    )
    if tell:
        notices.tell(session, complaint, "assigned", now=now, source=source)


def transfer(
    session: AsyncSession,
    complaint: Complaint,
    to_owner: str,
    *,
    by: str,
    reason: str,
    now: datetime,
    source: str,
    queue: str | None = None,
) -> None:
    """Hand a complaint over explicitly: the new owner has it to the end, and the history says why."""
    if complaint.status in ENDED:
        raise ProblemError(409, "complaint-ended", f"a {complaint.status} complaint cannot be handed over")
    if to_owner == complaint.owner:
        raise ProblemError(409, "same-owner", f"{to_owner} already owns this complaint", field="to_owner")
    before = complaint.owner
    complaint.owner = to_owner
    if queue is not None:
        complaint.queue = queue
    record(
        session,
        complaint,
        "transferred",
        actor=by,
        at=now,
        from_value=before,
        to_value=to_owner,
        reason=reason,
    )
    announce(
        session,
        complaint,
        ComplaintTransferredV1(
            **fact(complaint, now), from_owner=before, to_owner=to_owner, queue=complaint.queue, reason=reason
        ),
        source,
    )


def escalate(session: AsyncSession, complaint: Complaint, *, now: datetime, reason: str) -> None:
    """Put a complaint in the supervisor queue (its owner keeps it; the supervisor now sees it)."""
    if complaint.escalated:
        return
    complaint.escalated = True
    record(
        session,
        complaint,
        "escalated",
        actor="system",
        at=now,
        from_value=complaint.queue,
        to_value=f"{SUPERVISOR_QUEUE}.{complaint.region}",
        reason=reason,
    )
