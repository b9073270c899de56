"""Events the coverage-map service publishes (stream COVERAGE)."""

from __future__ import annotations

from datetime import datetime

from careloop_common.events.envelope import EventContract, contract


@contract
class InvestigationOpenedV1(EventContract):
    """Engineering opened an investigation for an area after a first follow-up request."""

    subject = "coverage.investigation.opened"
    version = 1

    investigation_id: str
    area_id: str
    complaint_id: str
    opened_at: datetime
