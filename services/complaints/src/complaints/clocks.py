"""A complaint's SLA clocks, kept on its row: which clocks run, their deadlines, when to look again.

``sla.py`` does the business-time arithmetic; this module applies it to a complaint. Deadlines are
stored as columns (``first_response_due``, ``next_update_due``, ``resolution_due``) for the agent's
queue, and ``sla_check_at`` is the earliest warning or deadline not yet announced, so the watcher
finds due work with one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from complaints import sla
from complaints.models import Complaint

Clock = Literal["first_response", "next_update", "resolution"]
CLOCKS: tuple[Clock, ...] = ("first_response", "next_update", "resolution")
OPEN = frozenset({"acknowledged", "inProgress", "pending", "held"})


@dataclass(frozen=True)
class RunningClock:
    """One clock that runs for a complaint: since when, and its target in business time."""

    name: Clock
    started: datetime
    target: timedelta


def calendar_of(complaint: Complaint) -> sla.BusinessCalendar:
    """Return the business calendar of the complaint's region."""
    return sla.BusinessCalendar.for_region(complaint.region)


def running_clocks(complaint: Complaint) -> list[RunningClock]:
    """Return the clocks that still run: none once the complaint is resolved or ended."""
    if complaint.status not in OPEN:
        return []
    targets = sla.targets_for(complaint.category, complaint.priority)
    clocks = []
    if complaint.first_responded_at is None:
        clocks.append(RunningClock("first_response", complaint.created_at, targets.first_response))
    clocks.append(
        RunningClock("next_update", complaint.last_update_at or complaint.created_at, targets.next_update)
    )
    clocks.append(RunningClock("resolution", complaint.created_at, targets.resolution))
    return clocks


def pauses_of(complaint: Complaint) -> list[sla.Pause]:
    """Return the complaint's pauses (pending on the customer) as instants."""
    return [
        (datetime.fromisoformat(str(start)), datetime.fromisoformat(end) if end else None)
        for start, end in complaint.pauses
    ]


def refresh(complaint: Complaint, warn_fraction: float = sla.DEFAULT_WARN_FRACTION) -> None:
    """Recompute the deadlines and the next instant the watcher must look at the complaint."""
    calendar = calendar_of(complaint)
    pauses = pauses_of(complaint)
    dues: dict[str, datetime | None] = dict.fromkeys(CLOCKS)
    checks: list[datetime] = []
    for clock in running_clocks(complaint):
        due = sla.due_at(calendar, clock.started, clock.target, pauses)
        dues[clock.name] = due
        if f"{clock.name}:breached" in complaint.sla_flags or due is None:
            continue
        if f"{clock.name}:warning" in complaint.sla_flags:
            checks.append(due)
        else:
            warn = sla.warn_at(calendar, clock.started, clock.target, pauses, warn_fraction)
            checks.append(warn or due)
    complaint.first_response_due = dues["first_response"]
    complaint.next_update_due = dues["next_update"]
    complaint.resolution_due = dues["resolution"]
    complaint.sla_check_at = min(checks) if checks else None


def pause(complaint: Complaint, now: datetime) -> None:
    """Stop the clocks: the complaint waits on the customer."""
    if not complaint.pauses or complaint.pauses[-1][1] is not None:
        complaint.pauses = [*complaint.pauses, [now.isoformat(), None]]
    refresh(complaint)


def resume(complaint: Complaint, now: datetime) -> None:
    """Start the clocks again after a pause."""
    if complaint.pauses and complaint.pauses[-1][1] is None:
        start = complaint.pauses[-1][0]
        complaint.pauses = [*complaint.pauses[:-1], [start, now.isoformat()]]
    refresh(complaint)


def responded(complaint: Complaint, now: datetime) -> None:
    """Mark the first response given (the first-response clock stops)."""
    if complaint.first_responded_at is None:
        complaint.first_responded_at = now
        refresh(complaint)


def updated(complaint: Complaint, now: datetime) -> None:
    """The customer was told something: the next-update clock starts again."""
    started = complaint.last_update_at or complaint.created_at
    flags = [f for f in complaint.sla_flags if not f.startswith("next_update:")]
    complaint.last_update_at = now
    if started == now and flags == complaint.sla_flags and complaint.next_update_due is not None:
        return  # already running from now (the receipt of a filing): the deadlines stand as computed
    complaint.sla_flags = flags
    refresh(complaint)


@dataclass(frozen=True)
class ClockReading:
    """Where one clock stands now, for the queue and the watcher."""

    name: Clock
    status: sla.ClockStatus


def read(
    complaint: Complaint, now: datetime, warn_fraction: float = sla.DEFAULT_WARN_FRACTION
) -> list[ClockReading]:
    """Read every running clock of a complaint at ``now``."""
    calendar = calendar_of(complaint)
    pauses = pauses_of(complaint)
    return [
        ClockReading(
            clock.name,
            sla.clock_status(calendar, clock.started, clock.target, pauses, now, warn_fraction),
        )
        for clock in running_clocks(complaint)
    ]
