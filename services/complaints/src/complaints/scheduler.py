"""The complaints scheduler: SLA watcher, dispatch of engineering's answers, revisits after closing.

Every replica runs it. Each step claims due complaints in a transaction of its own (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so replicas take disjoint rows), applies the rule, and the change
itself (a flag, ``dispatched_at``, ``revisit_sent_at``, a new ``sla_check_at``) takes the row out of
what is due: a pass repeated, or run by two replicas, does nothing twice. ``run_once`` takes
``now``, so tests drive it through days of business time without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.inbox import stop_if_cancelled
from complaints import repository, service
from complaints.models import Complaint

log = logging.getLogger(__name__)

Claim = Callable[[AsyncSession, datetime, int], Awaitable[Sequence[Complaint]]]
Step = Callable[..., None]
# A step that keeps finding full batches stops after this many, so one pass stays short.
MAX_BATCHES_PER_PASS = 20


@dataclass(frozen=True)
class PassCounts:
    """How many complaints each step handled in one pass."""

    sla_checked: int
    dispatched: int
    revisits_sent: int


async def run_once(sessions: SessionFactory, *, now: datetime, source: str, batch: int = 100) -> PassCounts:
    """Run every step once for the instant ``now``."""

    async def drain(claim: Claim, step: Step) -> int:
        return await _drain(sessions, claim, step, now, source, batch)

    return PassCounts(
        sla_checked=await drain(repository.claim_sla_due, service.watch_sla),
        dispatched=await drain(repository.claim_dispatch_due, service.dispatch_answer),
        revisits_sent=await drain(repository.claim_revisits_due, service.send_revisit),
    )


async def _drain(
    sessions: SessionFactory, claim: Claim, step: Step, now: datetime, source: str, batch: int
) -> int:
    """Claim and handle due complaints a batch (one transaction) at a time until none are left."""
    handled = 0
    for _ in range(MAX_BATCHES_PER_PASS):
        async with transaction(sessions) as session:
            due = await claim(session, now, batch)
            for complaint in due:
                step(session, complaint, now=now, source=source)
        handled += len(due)
        if len(due) < batch:
            break
    return handled


async def run_forever(sessions: SessionFactory, *, source: str, interval_s: float, batch: int) -> None:
    """Run a pass every ``interval_s`` until cancelled; a failed pass is logged and tried again."""
    while True:
        stop_if_cancelled()  # a swallowed cancellation must not keep the pass loop alive
        try:
            counts = await run_once(sessions, now=utcnow(), source=source, batch=batch)
            if counts != PassCounts(0, 0, 0):
                log.info("scheduler pass: %s", counts)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduler pass failed; trying again in %.0fs", interval_s)
        await asyncio.sleep(interval_s)
