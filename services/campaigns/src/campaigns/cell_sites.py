"""The cell-site registry: the operator's network names its cells by cell id (an ECGI, a CGI), not
by H3 cell; the registry keeps where each cell is, so an incident can be declared by network cells.

A site's H3 cell is that of its position at the resolution places are kept at, worked out when the
site is stored, so resolving ids is one indexed read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import repository
from campaigns.incidents import MAX_DECLARED_CELLS, PLACE_RESOLUTION, Area, area_from_cells, bad_area
from campaigns.schemas import CellSitePut

MAX_UNKNOWN_LISTED = 20  # unknown ids a problem names: enough to act on, bounded in size


async def upsert(session: AsyncSession, items: Sequence[CellSitePut], *, now: datetime) -> int:
    """Create or replace cell sites, each with the H3 cell of its position; return how many ids.

    An id given twice in a batch takes its last item, as writing the items one after another would.
    """
    last = {item.cell_id: item for item in items}
    rows = [
        {
            "cell_id": item.cell_id,
            "lat": item.lat,
            "lng": item.lng,
            "cell": str(h3.latlng_to_cell(item.lat, item.lng, PLACE_RESOLUTION)),
            "name": item.name,
            "updated_at": now,
        }
        for item in last.values()
    ]
    await repository.upsert_cell_sites(session, rows)
    return len(rows)


async def area_from_network_cells(session: AsyncSession, cell_ids: Sequence[str]) -> Area:
    """Resolve network cell ids through the registry to H3 cells; raise invalid-area for unknown ids."""
    if not cell_ids:
        raise bad_area("the area lists no network cells")
    if len(cell_ids) > MAX_DECLARED_CELLS:
        raise bad_area(f"the area lists more than {MAX_DECLARED_CELLS} network cells: declare a polygon")
    cells = await repository.cells_of_sites(session, cell_ids)
    unknown = sorted({cell_id for cell_id in cell_ids if cell_id not in cells})
    if unknown:
        listed = unknown[:MAX_UNKNOWN_LISTED]
        more = f" and {len(unknown) - len(listed)} more" if len(unknown) > len(listed) else ""
        problem = bad_area(f"network cells not in the cell-site registry: {', '.join(listed)}{more}")
        problem.extra["unknown_cell_ids"] = listed
        raise problem
    return area_from_cells(sorted(set(cells.values())))
