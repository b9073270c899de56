"""The instant answer: at intake, ask coverage-map what is known of the complaint's area.

A synchronous call while the agent (or the portal customer) waits, so it is bounded by a short
timeout and never fails intake: when coverage-map is slow, down, or refuses us, the complaint is
filed anyway with the area computed here and the answer ``unavailable``, and a follow-up goes to
engineering. After a failure the client stops asking for ``pause_s`` (a circuit breaker): while
coverage-map is down every filing would otherwise pay a refused connection, or wait the whole
timeout when it hangs; the first filing after the pause tries again.

The area id is the H3 cell at coverage-map's area resolution (``coverage_h3_resolution`` must
equal ``COVERAGE_H3_RESOLUTION``, 8 by default), so answers published later find the complaint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

import h3
import httpx
from pydantic import BaseModel, Field, ValidationError

from careloop_common.auth import PRINCIPAL_HEADER, Principal, PrincipalSigner

log = logging.getLogger(__name__)

# Where the running service keeps its CoverageClient (Platform.extras).
EXTRA = "coverage"

AnswerState = Literal["published", "under_investigation", "unknown", "unavailable"]

# Who complaints is when it asks coverage-map: a service, allowed to read coverage and nothing else.
SERVICE_PRINCIPAL = Principal(
    subject="complaints", kind="service", roles=["system"], scopes=["coverage:read"]
)


@dataclass(frozen=True)
class AreaAnswer:
    """What is known of a complaint's area at intake."""

    area_id: str
    state: AnswerState
    text: str | None = None
    version: int | None = None


class _Lookup(BaseModel):
    """The part of coverage-map's LookupAnswer intake reads (services share no code but the contract)."""

    area_id: str = Field(pattern=r"^8[0-9a-f]{14}$")
    answer: Literal["published", "under_investigation", "unknown"]
    wording: str | None = None
    wording_version: int | None = None


def area_of(lat: float, lng: float, resolution: int) -> str:
    """Return the coverage area (H3 cell) a point lies in, as coverage-map computes it."""
    return str(h3.latlng_to_cell(lat, lng, resolution))


class CoverageClient:
    """Asks coverage-map for an area's known state, within a deadline, as a signed service principal."""

    def __init__(
        self,
        base_url: str,
        *,
        principal_secret: str,
        timeout_s: float,
        resolution: int,
        pause_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.resolution = resolution
        self.pause_s = pause_s
        self._paused_until = 0.0  # time.monotonic() before which we do not ask
        self._signer = PrincipalSigner(principal_secret) if principal_secret else None
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def answer_for(self, lat: float, lng: float, language: str) -> AreaAnswer:
        """Return coverage-map's answer for a point, or ``unavailable`` with the locally computed area."""
        if time.monotonic() < self._paused_until:
            return AreaAnswer(area_of(lat, lng, self.resolution), "unavailable")
        try:
            async with asyncio.timeout(self.timeout_s):
                found = await self._lookup(lat, lng, language)
        except (TimeoutError, httpx.HTTPError, ValidationError, ValueError) as exc:
            self._paused_until = time.monotonic() + self.pause_s
            # No number or place in the log: the reason is enough to see coverage-map is unwell.
            log.warning(
                "coverage-map lookup failed (%s); filing without answers for %.0f s",
                type(exc).__name__,
                self.pause_s,
            )
            return AreaAnswer(area_of(lat, lng, self.resolution), "unavailable")
        if found.answer == "published" and found.wording:
            return AreaAnswer(found.area_id, "published", found.wording, found.wording_version)
        state: AnswerState = "unknown" if found.answer == "published" else found.answer
        return AreaAnswer(found.area_id, state)

    async def _lookup(self, lat: float, lng: float, language: str) -> _Lookup:
        if self._signer is None:
            raise ValueError("no principal secret: coverage-map would refuse us")
        response = await self._http.get(
            "/coverage/v1/lookup",
            params={"lat": lat, "lng": lng, "lang": language},
            headers={PRINCIPAL_HEADER: self._signer.sign(SERVICE_PRINCIPAL)},
        )
        response.raise_for_status()
        return _Lookup.model_validate_json(response.content)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
