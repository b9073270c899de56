"""A campaign's life: draft → submitted → approved / rejected → scheduled → running ⇄ paused →
completed → evaluated, with who may move it and when it may still be edited.

The seeds' closed loop (needs → plan → approve → execute → evaluate) made strict: a campaign is
approved by someone other than its author, and what was approved is what runs — an approved
campaign can no longer be edited, only withdrawn to draft (which drops the approval).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from careloop_common.errors import ProblemError
from careloop_common.events.campaigns import CAMPAIGN_STATUSES

STATUSES = CAMPAIGN_STATUSES

# Where each status may go; what is not listed is a 409.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "cancelled"}),
    "submitted": frozenset({"approved", "rejected", "draft"}),
    "rejected": frozenset({"draft", "cancelled"}),
    "approved": frozenset({"scheduled", "running", "draft", "cancelled"}),
    "scheduled": frozenset({"running", "paused", "cancelled"}),
    "running": frozenset({"paused", "completed"}),
    "paused": frozenset({"running", "completed", "cancelled"}),
    "completed": frozenset({"evaluated"}),
    "evaluated": frozenset(),
    "cancelled": frozenset(),
}

EDITABLE = frozenset({"draft", "rejected"})
# Statuses in which a campaign targets customers (its triggers fire, its schedule runs).
LIVE = frozenset({"running"})

# A schedule must fire within this long, or it is refused as one that never will.
CRON_HORIZON = timedelta(days=366)

# Which scope a move needs beyond campaigns:write.
APPROVAL_MOVES = frozenset({"approved", "rejected"})


def check_transition(status: str, to: str) -> None:
    """Refuse a move the lifecycle does not allow, naming the ones it does."""
    if to not in STATUSES:
        raise ProblemError(422, "unknown-status", f"no status {to!r}", field="status", allowed=list(STATUSES))
    allowed = TRANSITIONS[status]
    if to not in allowed:
        raise ProblemError(
            409,
            "illegal-transition",
            f"a campaign cannot go from {status} to {to}",
            allowed=sorted(allowed),
        )


def check_approver(author: str, approver: str) -> None:
    """Refuse an approval (or rejection) by the campaign's own author: four eyes, always."""
    if author == approver:
        raise ProblemError(
            403,
            "approver-is-author",
            "a campaign must be approved or rejected by someone other than its author",
        )


def check_editable(status: str) -> None:
    """Refuse an edit of a campaign that is submitted, approved or later: what was approved runs."""
    if status not in EDITABLE:
        raise ProblemError(
            409,
            "campaign-locked",
            f"a {status} campaign cannot be edited; withdraw it to draft first (which drops any approval)"
            if status in ("submitted", "approved")
            else f"a {status} campaign cannot be edited",
        )


def in_control_group(campaign_id: str, msisdn: str, share: float) -> bool:
    """Say whether a customer is held out of a campaign as control: deterministic, so a customer
    met again (another run, a trigger firing twice) always lands in the same group.

    The hash of campaign and number, read as a fraction in [0, 1), is compared with the share:
    independent of the order customers are met in, and different per campaign, so the same
    customers are not held out of every campaign.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_id}:{msisdn}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def next_cron_fire(cron: str, time_zone: str, after: datetime) -> datetime:
    """Return when a schedule next fires after a moment (UTC), refusing one that never does."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProblemError(
            422, "unknown-time-zone", f"no time zone {time_zone!r}", field="trigger.time_zone"
        ) from exc
    if not croniter.is_valid(cron):
        raise ProblemError(422, "invalid-cron", f"{cron!r} is not a cron expression", field="trigger.cron")
    try:
        fire = croniter(cron, after.astimezone(zone)).get_next(datetime)
    except CroniterBadDateError:
        fire = None
    if fire is None or fire - after > CRON_HORIZON:
        raise ProblemError(
            422, "cron-never-fires", f"{cron!r} does not fire within a year", field="trigger.cron"
        )
    return fire.astimezone(UTC)
