"""Imports: cell sites (OpenCelliD CSV) and coverage polygons (GeoJSON) become predicted area levels.

An upload is spooled to a temporary file and checked at a glance, a job row is committed, and a
background task owned by the app reads the file in batches: parsing and rating run in a worker
thread (so the API keeps answering), the database work in short transactions of its own. Imports
are idempotent: the same file gives the same cell sites, levels and report. The level rule is
documented in docs/coverage.md ("Imports").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import IO, Any

import h3
from fastapi import Request
from h3.api import basic_int as h3i
from starlette.requests import ClientDisconnect

from careloop_common.app import Platform
from careloop_common.db import SessionFactory, transaction, utcnow
from careloop_common.errors import ProblemError
from coverage_map import repository
from coverage_map.models import ImportJob
from coverage_map.service import LEVELS, SERVICES, SOURCE_RANK, TECHNOLOGIES, Grid
from coverage_map.settings import CoverageSettings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_CSV_BYTES = 512 * MIB
# A GeoJSON document is parsed whole, so it gets a much smaller cap than a CSV streamed by line.
MAX_GEOJSON_BYTES = 64 * MIB
BATCH_ROWS = 2_000
FEATURE_BATCH_CELLS = 20_000
# Level rows per transaction: keeps the one SQLite connection free for the API between chunks.
LEVEL_ROWS_PER_TRANSACTION = 20_000
MAX_STORED_ERRORS = 1_000
# A valid OpenCelliD row is under 200 bytes; anything much longer is refused without reading it whole.
MAX_LINE_BYTES = 4_096
SNIFF_BYTES = 64 * 1024

CELL_SITES = "cell_sites"
COVERAGE_POLYGONS = "coverage_polygons"
RUNNING, DONE, FAILED = "running", "done", "failed"
CSV_TYPES = frozenset({"text/csv", "application/csv"})
GEOJSON_TYPES = frozenset({"application/geo+json", "application/json"})
INTERRUPTED = (
    "interrupted: the service stopped during the import; import the file again (imports are idempotent)"
)
EXTRA = "imports"

CSV_COLUMNS = (
    "radio",
    "mcc",
    "net",
    "area",
    "cell",
    "unit",
    "lon",
    "lat",
    "range",
    "samples",
    "changeable",
    "created",
    "updated",
    "averageSignal",
)
COLUMN = {name: position for position, name in enumerate(CSV_COLUMNS)}
RADIO_TECHNOLOGY = {"GSM": "2G", "UMTS": "3G", "CDMA": "3G", "LTE": "4G", "NR": "5G"}
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# --- the level rule (docs/coverage.md, "Imports") ----------------------------------------------------

RANK = {name: rank for rank, name in enumerate(LEVELS)}  # none 0, weak 1, normal 2, good 3
MAX_RINGS = 6
GOOD_WITHIN = 0.5  # of the cell's reach
NORMAL_WITHIN = 0.8
# averageSignal caps the whole cell's levels: (at least this many dBm, best level allowed).
SIGNAL_CAPS = ((-90, "good"), (-105, "normal"), (-math.inf, "weak"))
# OpenCelliD writes 0 for "not measured"; values outside this band are not dBm we can believe.
PLAUSIBLE_SIGNAL_DBM = (-150, -25)


def ring_spacing_m(resolution: int) -> float:
    """Return the distance between the centres of neighbouring areas at a resolution (metres)."""
    return math.sqrt(3) * float(h3.average_hexagon_edge_length(resolution, unit="m"))


def signal_cap(average_signal: int | None) -> int:
    """Return the best level rank a cell's average signal allows (unknown signals cap nothing)."""
    low, high = PLAUSIBLE_SIGNAL_DBM
    if average_signal is None or not low <= average_signal <= high:
        return RANK["good"]
    return next(RANK[level] for floor, level in SIGNAL_CAPS if average_signal >= floor)


def ring_levels(range_m: int, average_signal: int | None, spacing_m: float) -> list[int]:
    """Return the level rank a cell gives each ring of areas around its own (index = ring).

    Ring i's centres are about i x spacing away; the cell reaches min(range, 6 rings). A ring
    within half the reach is good, within 0.8 normal, up to the reach weak. The site's own area
    is always rated: good, or normal when the range is under half a spacing (the cell covers
    less than its own area). The average signal then caps every ring.
    """
    reach = min(float(range_m), MAX_RINGS * spacing_m)
    rings = min(MAX_RINGS, int(reach // spacing_m))
    cap = signal_cap(average_signal)
    own = RANK["good"] if range_m * 2 >= spacing_m else RANK["normal"]
    levels = [min(own, cap)]
    for ring in range(1, rings + 1):
        share = ring * spacing_m / reach
        rank = (
            RANK["good"]
            if share <= GOOD_WITHIN
            else RANK["normal"]
            if share <= NORMAL_WITHIN
            else RANK["weak"]
        )
        levels.append(min(rank, cap))
    return levels


DISK_SIZE = 1 + 3 * MAX_RINGS * (MAX_RINGS + 1)


@lru_cache(maxsize=4_096)
def rings_around(cell: int) -> tuple[tuple[int, ...], ...]:
    """Return the areas within MAX_RINGS of a cell, grouped by ring (cached: a site has many cells).

    Away from pentagons grid_disk lists the disk ring by ring (1, 6, 12 ... areas); that is
    checked at both ends of every ring, and where it does not hold each distance is measured.
    """
    disk = h3i.grid_disk(cell, MAX_RINGS)
    if len(disk) == DISK_SIZE:
        rings, start = [], 0
        for distance in range(MAX_RINGS + 1):
            ring = disk[start : start + (6 * distance or 1)]
            start += len(ring)
            if h3i.grid_distance(cell, ring[0]) != distance or h3i.grid_distance(cell, ring[-1]) != distance:
                break
            rings.append(tuple(ring))
        else:
            return tuple(rings)
    grouped: list[list[int]] = [[] for _ in range(MAX_RINGS + 1)]
    for other in disk:
        with contextlib.suppress(h3.H3BaseException):  # a pentagon's distortion: leave that area out
            grouped[h3i.grid_distance(cell, other)].append(other)
    return tuple(tuple(ring) for ring in grouped)


class BestLevels:
    """The best level this job has offered per area, technology and service; only gains are written.

    Within one import the best level wins; keeping it here (a few bytes per area) spares the
    database from re-writing an area each time another cell covers it.
    """

    def __init__(self) -> None:
        self._best: dict[tuple[str, str | None], dict[int, int]] = {}
        self._pending: dict[tuple[int, str, str | None], int] = {}
        self.known_areas: set[int] = set()

    def offer(self, cells: Iterable[int], technology: str, service: str | None, rank: int) -> list[int]:
        """Record a level for areas (service None: voice and data alike) where it beats the best so far.

        Returns the areas this job had not rated before (they may need an area row).
        """
        best = self._best.setdefault((technology, service), {})
        pending, known, new = self._pending, self.known_areas, []
        for cell in cells:
            if best.get(cell, -1) < rank:
                best[cell] = rank
                pending[(cell, technology, service)] = rank
                if cell not in known:
                    known.add(cell)
                    new.append(cell)
        return new

    def drain(self) -> dict[tuple[int, str, str | None], int]:
        """Return the gains since the last drain and forget them."""
        pending, self._pending = self._pending, {}
        return pending


@dataclass
class Batch:
    """What one slice of a file brings: rows for the database and the lines refused."""

    sites: list[dict[str, Any]] = field(default_factory=list)
    areas: list[dict[str, Any]] = field(default_factory=list)
    levels: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0
    ok: int = 0
    bytes_read: int = 0
    done: bool = False


class BadRow(ValueError):
    """A row or feature that cannot be imported; the message is the reason reported."""


def level_rows(
    gains: dict[tuple[int, str, str | None], int], *, source: str, job_id: str, at: datetime
) -> list[dict[str, Any]]:
    """Turn level gains into area_level rows (a gain for no particular service rates both)."""
    rows = []
    for (cell, technology, service), rank in gains.items():
        area_id = h3.int_to_str(cell)
        for one in (service,) if service else SERVICES:
            rows.append(
                {
                    "area_id": area_id,
                    "technology": technology,
                    "service": one,
                    "level": LEVELS[rank],
                    "source": source,
                    "source_ref": job_id,
                    "observed_at": at,
                    "recorded_by": f"import:{job_id}",
                }
            )
    return rows


def area_rows(cells: Sequence[int], grid: Grid, at: datetime) -> list[dict[str, Any]]:
    """Return area rows (centre and district) for cells first seen by this job, as ensure_area makes them."""
    rows = []
    for cell in cells:
        area_id = h3.int_to_str(cell)
        lat, lng = h3.cell_to_latlng(area_id)
        rows.append(
            {
                "id": area_id,
                "district_id": grid.district_of(area_id),
                "lat": lat,
                "lng": lng,
                "created_at": at,
            }
        )
    return rows


# --- cell sites: the OpenCelliD CSV layout ------------------------------------------------------------


def _int(fields: list[str], name: str, low: int, high: int) -> int:
    """Return a whole-number column within bounds, or raise BadRow."""
    raw = fields[COLUMN[name]]
    try:
        value = int(raw)
    except ValueError:
        raise BadRow(f"{name} is not a whole number: {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadRow(f"{name} {value} is out of range ({low}..{high})")
    return value


def _float(fields: list[str], name: str, low: float, high: float) -> float:
    """Return a numeric column within bounds, or raise BadRow."""
    raw = fields[COLUMN[name]]
    try:
        value = float(raw)
    except ValueError:
        raise BadRow(f"{name} is not a number: {raw[:40]!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise BadRow(f"{name} {raw[:40]} is out of range ({low:g}..{high:g})")
    return value


@dataclass(frozen=True)
class SiteRow:
    """One valid CSV row."""

    radio: str
    technology: str
    mcc: int
    net: int
    area: int
    cell: int
    lat: float
    lng: float
    range_m: int
    samples: int
    average_signal: int | None


def parse_site(fields: list[str]) -> SiteRow:
    """Validate one CSV row's fields; raise BadRow with the reason."""
    if len(fields) != len(CSV_COLUMNS):
        raise BadRow(f"expected {len(CSV_COLUMNS)} columns, found {len(fields)}")
    radio = fields[0].upper()
    technology = RADIO_TECHNOLOGY.get(radio)
    if technology is None:
        raise BadRow(f"unknown radio {fields[0][:20]!r} (GSM, UMTS, CDMA, LTE or NR)")
    range_m = _int(fields, "range", -INT32_MAX, INT32_MAX)
    if range_m <= 0:
        raise BadRow(f"range must be positive, found {range_m}")
    signal_raw = fields[COLUMN["averageSignal"]]
    return SiteRow(
        radio=radio,
        technology=technology,
        mcc=_int(fields, "mcc", 0, 999),
        net=_int(fields, "net", 0, INT32_MAX),
        area=_int(fields, "area", 0, INT32_MAX),
        cell=_int(fields, "cell", 0, INT64_MAX),
        lat=_float(fields, "lat", -90, 90),
        lng=_float(fields, "lon", -180, 180),
        range_m=range_m,
        samples=_int(fields, "samples", 0, INT32_MAX),
        average_signal=round(_float(fields, "averageSignal", -1e6, 1e6)) if signal_raw else None,
    )


def split_line(line: str) -> list[str]:
    """Split a CSV line on commas (the layout never quotes), trimming blanks and stray quotes."""
    return [value.strip(' "\t\r\n') for value in line.split(",")]


def sniff_csv(path: str) -> None:
    """Refuse at once a file that is empty or is not an OpenCelliD-layout CSV (a 422 problem)."""
    with open(path, "rb") as file:
        head = file.read(SNIFF_BYTES)
    if not head.strip():
        raise ProblemError(422, "empty-upload", "the file is empty")
    if b"\x00" in head:
        raise ProblemError(422, "not-csv", "the file is not text: expected an OpenCelliD-layout CSV")
    lines = head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()
    if len(head) == SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut short
    if not any(len(split_line(line)) == len(CSV_COLUMNS) for line in lines[:50] if line.strip()):
        raise ProblemError(
            422,
            "not-csv",
            f"no line has the {len(CSV_COLUMNS)} columns of the OpenCelliD layout: {','.join(CSV_COLUMNS)}",
        )


class CellSiteReader:
    """Reads an OpenCelliD CSV in batches and rates the areas each cell covers (runs in a worker thread)."""

    def __init__(self, path: str, grid: Grid, job_id: str, at: datetime) -> None:
        self.grid, self.job_id, self.at = grid, job_id, at
        self.spacing = ring_spacing_m(grid.area_resolution)
        self.best = BestLevels()
        self.line = 0
        self.bytes_read = 0
        self._header_checked = False
        self._offered: dict[str, tuple[int, list[int]]] = {}
        self._file: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close(), used across batches

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _next_line(self) -> bytes | None:
        """Return the next physical line, or b"" for one too long to read (skipped to its end)."""
        raw = self._file.readline(MAX_LINE_BYTES)
        if not raw:
            return None
        self.line += 1
        self.bytes_read += len(raw)
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = self._file.readline(MAX_LINE_BYTES)
                self.bytes_read += len(raw)
            return b""
        return raw

    def next_batch(self, size: int) -> Batch:
        """Read up to ``size`` data rows: site rows, new areas, level gains and the refused lines."""
        batch = Batch()
        sites: dict[tuple[str, int, int, int, int], dict[str, Any]] = {}
        new_areas: list[int] = []
        while batch.rows < size:
            raw = self._next_line()
            if raw is None:
                batch.done = True
                break
            text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
            if raw and not text.strip():
                continue
            fields = split_line(text)
            if not self._header_checked:
                self._header_checked = True
                if fields[0].lower() == "radio":
                    continue
            batch.rows += 1
            try:
                if not raw:
                    raise BadRow(f"line longer than {MAX_LINE_BYTES} bytes")
                site = parse_site(fields)
            except BadRow as bad:
                batch.errors.append({"line": self.line, "reason": str(bad)})
                continue
            batch.ok += 1
            own = h3i.latlng_to_cell(site.lat, site.lng, self.grid.area_resolution)
            sites[(site.radio, site.mcc, site.net, site.area, site.cell)] = self._site_row(site, own)
            self._rate(site, own, new_areas)
        batch.sites = list(sites.values())
        batch.areas = area_rows(new_areas, self.grid, self.at)
        batch.levels = level_rows(self.best.drain(), source="derived", job_id=self.job_id, at=self.at)
        batch.bytes_read = self.bytes_read
        return batch

    def _site_row(self, site: SiteRow, own: int) -> dict[str, Any]:
        """Return the cell_site row of a valid CSV row."""
        return {
            "radio": site.radio,
            "mcc": site.mcc,
            "net": site.net,
            "area": site.area,
            "cell": site.cell,
            "lat": site.lat,
            "lng": site.lng,
            "range_m": site.range_m,
            "samples": site.samples,
            "average_signal": site.average_signal,
            "area_id": h3.int_to_str(own),
            "import_id": self.job_id,
            "updated_at": self.at,
        }

    def _rate(self, site: SiteRow, own: int, new_areas: list[int]) -> None:
        """Offer the levels the cell gives each area in its reach; note areas this job has not seen.

        A site's cells usually follow one another in the file: rings the previous cells of the same
        technology in the same area already rated as well or better are skipped.
        """
        levels = ring_levels(site.range_m, site.average_signal, self.spacing)
        last_area, offered = self._offered.get(site.technology, (None, []))
        if last_area != own:
            offered = []
        rings = rings_around(own)
        for distance, rank in enumerate(levels):
            if distance >= len(offered) or rank > offered[distance]:
                new_areas.extend(self.best.offer(rings[distance], site.technology, None, rank))
        merged = [max(pair) for pair in itertools.zip_longest(levels, offered, fillvalue=-1)]
        self._offered[site.technology] = (own, merged)


# --- coverage polygons: GeoJSON -----------------------------------------------------------------------


def _check_positions(ring: Any, where: str) -> None:
    """Refuse a linear ring that is not a closed list of [lng, lat] positions within range."""
    if not isinstance(ring, list) or len(ring) < 4:
        raise BadRow(f"{where} must be a ring of at least 4 positions")
    for position in ring:
        if not (
            isinstance(position, list)
            and len(position) >= 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2])
        ):
            raise BadRow(f"{where} holds a position that is not [lng, lat]: {str(position)[:40]}")
        lng, lat = position[0], position[1]
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise BadRow(f"{where} holds a position out of range: [{lng}, {lat}]")


def _check_geometry(geometry: Any) -> dict[str, Any]:
    """Return a Polygon or MultiPolygon geometry after checking its coordinates; raise BadRow."""
    if not isinstance(geometry, dict):
        raise BadRow("geometry is missing")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise BadRow(f"geometry type {str(kind)[:30]!r} is not Polygon or MultiPolygon")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        raise BadRow("geometry.coordinates is empty")
    for p, polygon in enumerate(polygons):
        if not isinstance(polygon, list) or not polygon:
            raise BadRow("geometry.coordinates holds a polygon without rings")
        for r, ring in enumerate(polygon):
            _check_positions(ring, f"polygon {p} ring {r}" if kind == "MultiPolygon" else f"ring {r}")
    return {"type": kind, "coordinates": coordinates}


def parse_feature(feature: Any, resolution: int) -> tuple[str, tuple[str, ...], int, list[str]]:
    """Return a feature's technology, services, level rank and the areas it fills; raise BadRow."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise BadRow("not a GeoJSON Feature")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise BadRow("properties is not an object")
    technology = str(properties.get("technology") or "").upper()
    if technology not in TECHNOLOGIES:
        raise BadRow(f"technology must be one of {', '.join(TECHNOLOGIES)}")
    service = properties.get("service")
    if service is not None and service not in SERVICES:
        raise BadRow(f"service must be {' or '.join(SERVICES)}, or absent for both")
    level = properties.get("level")
    if level not in LEVELS:
        raise BadRow(f"level must be one of {', '.join(LEVELS)}")
    geometry = _check_geometry(feature.get("geometry"))
    try:
        cells = [str(cell) for cell in h3.geo_to_cells(geometry, resolution)]
    except (h3.H3BaseException, ValueError, TypeError) as exc:
        raise BadRow(f"invalid geometry: {exc}") from None
    if not cells:
        raise BadRow(f"the polygon holds no area centre at resolution {resolution}")
    return technology, (service,) if service else SERVICES, RANK[level], cells


class PolygonReader:
    """Polyfills a FeatureCollection's features in batches into level gains (runs in a worker thread)."""

    def __init__(self, features: list[Any], grid: Grid, job_id: str, at: datetime) -> None:
        self.features, self.grid, self.job_id, self.at = features, grid, job_id, at
        self.best = BestLevels()
        self.position = 0

    def next_batch(self, max_cells: int) -> Batch:
        """Fill features until about ``max_cells`` areas: new areas, level gains and refused features."""
        batch = Batch()
        new_areas: list[int] = []
        cells_seen = 0
        while cells_seen < max_cells and self.position < len(self.features):
            index = self.position
            self.position += 1
            batch.rows += 1
            try:
                technology, services, rank, cells = parse_feature(
                    self.features[index], self.grid.area_resolution
                )
            except BadRow as bad:
                batch.errors.append({"index": index, "reason": str(bad)})
                continue
            batch.ok += 1
            cells_seen += len(cells)
            ints = [h3.str_to_int(area_id) for area_id in cells]
            # Each service on its own: one feature for "voice" and another for both must compare.
            for service in services:
                new_areas.extend(self.best.offer(ints, technology, service, rank))
        batch.done = self.position >= len(self.features)
        batch.areas = area_rows(new_areas, self.grid, self.at)
        batch.levels = level_rows(self.best.drain(), source="prediction", job_id=self.job_id, at=self.at)
        return batch


def load_feature_collection(path: str) -> list[Any]:
    """Parse a spooled GeoJSON FeatureCollection and return its features; a 422 problem otherwise."""
    with open(path, "rb") as file:
        data = file.read()
    if not data.strip():
        raise ProblemError(422, "empty-upload", "the file is empty")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ProblemError(422, "not-geojson", f"the file is not JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ProblemError(422, "not-geojson", "expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ProblemError(422, "not-geojson", "the FeatureCollection has no features")
    return features


# --- jobs ---------------------------------------------------------------------------------------------


@dataclass
class Progress:
    """A job's counters and the errors kept (all are counted, at most MAX_STORED_ERRORS stored)."""

    bytes_total: int
    bytes_read: int = 0
    rows_total: int = 0
    rows_ok: int = 0
    rows_bad: int = 0
    written_areas: set[int] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, batch: Batch, bytes_read: int) -> None:
        """Count a batch in."""
        self.bytes_read = bytes_read
        self.rows_total += batch.rows
        self.rows_ok += batch.ok
        self.rows_bad += len(batch.errors)
        self.errors.extend(batch.errors[: max(0, MAX_STORED_ERRORS - len(self.errors))])

    def values(self) -> dict[str, Any]:
        """Return the import_job columns this progress sets."""
        return {
            "bytes_read": self.bytes_read,
            "rows_total": self.rows_total,
            "rows_ok": self.rows_ok,
            "rows_bad": self.rows_bad,
            "areas_updated": len(self.written_areas),
            "errors": list(self.errors),
        }


@dataclass(frozen=True)
class Spool:
    """An upload saved to a temporary file."""

    path: str
    size: int


def _remove(path: str) -> None:
    """Delete a temporary file if it is still there."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _media_type(request: Request) -> str:
    """Return the request's media type without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def spool(request: Request, limit: int) -> Spool:
    """Stream a request body to a temporary file; a 413 problem past ``limit`` bytes.

    Writes are small (one received chunk) and land in the page cache, so they stay in the loop.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ProblemError(413, "payload-too-large", f"the file is larger than {limit} bytes", limit=limit)
    handle, path = tempfile.mkstemp(prefix="careloop-import-")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ProblemError(
                        413, "payload-too-large", f"the file is larger than {limit} bytes", limit=limit
                    )
                out.write(chunk)
    except ClientDisconnect:
        _remove(path)
        raise ProblemError(
            400, "upload-interrupted", "the upload ended before the whole file arrived"
        ) from None
    except BaseException:
        _remove(path)
        raise
    return Spool(path, size)


Step = Callable[[], Awaitable[Batch]]
STOP_GRACE_S = 5.0


class Stopped(Exception):
    """The service is shutting down: the import stops between two batches."""


class Importer:
    """Accepts uploads, runs each import as a background task of the app, and records its progress."""

    def __init__(self, sessions: SessionFactory, grid: Grid) -> None:
        self.sessions = sessions
        self.grid = grid
        self.max_csv_bytes = MAX_CSV_BYTES
        self.max_geojson_bytes = MAX_GEOJSON_BYTES
        self.batch_rows = BATCH_ROWS
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    # --- accepting uploads

    async def accept_cell_sites(self, request: Request, *, filename: str | None, by: str) -> ImportJob:
        """Spool and check an OpenCelliD CSV, record its job, and start importing it."""
        self._check_open()
        if _media_type(request) not in CSV_TYPES:
            raise ProblemError(415, "unsupported-media-type", "send the file as text/csv")
        upload = await spool(request, self.max_csv_bytes)
        try:
            await asyncio.to_thread(sniff_csv, upload.path)
            job = await self._create_job(CELL_SITES, filename, upload.size, by)
        except BaseException:
            _remove(upload.path)
            raise
        self._launch(job.id, self._run_cell_sites(job, upload.path), spooled=upload.path)
        return job

    async def accept_coverage_polygons(self, request: Request, *, filename: str | None, by: str) -> ImportJob:
        """Spool and parse a GeoJSON FeatureCollection, record its job, and start importing it."""
        self._check_open()
        if _media_type(request) not in GEOJSON_TYPES:
            raise ProblemError(
                415, "unsupported-media-type", "send the file as application/geo+json or application/json"
            )
        upload = await spool(request, self.max_geojson_bytes)
        try:
            features = await asyncio.to_thread(load_feature_collection, upload.path)
        finally:
            _remove(upload.path)
        job = await self._create_job(COVERAGE_POLYGONS, filename, upload.size, by)
        self._launch(job.id, self._run_polygons(job, features))
        return job

    def _check_open(self) -> None:
        """Refuse new imports once the service is shutting down."""
        if self._stopping:
            raise ProblemError(
                503, "service-unavailable", "the service is shutting down", headers={"Retry-After": "5"}
            )

    async def _create_job(self, kind: str, filename: str | None, size: int, by: str) -> ImportJob:
        """Commit a running job, so it is visible before its task starts."""
        job = ImportJob(
            id=str(uuid.uuid4()),
            kind=kind,
            filename=filename,
            status=RUNNING,
            bytes_total=size,
            errors=[],
            created_by=by,
            started_at=utcnow(),
        )
        async with transaction(self.sessions) as session:
            await repository.add(session, job)
        return job

    # --- running

    def _launch(self, job_id: str, work: Awaitable[None], *, spooled: str | None = None) -> None:
        """Run an import as a task the app owns (stopped at shutdown); its spooled file goes with it."""
        task = asyncio.create_task(self._guard(job_id, work), name=f"import-{job_id}")
        self._tasks[job_id] = task

        def forget(_: asyncio.Task[None]) -> None:
            # Here rather than in the task: a task cancelled before it starts runs none of its code.
            self._tasks.pop(job_id, None)
            if spooled is not None:
                _remove(spooled)

        task.add_done_callback(forget)

    async def _guard(self, job_id: str, work: Awaitable[None]) -> None:
        """Run an import; an unexpected failure fails the job (logged) instead of leaving it running."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Stopped:
            await self._fail(job_id, INTERRUPTED)
        except Exception as exc:
            log.exception("import %s failed", job_id)
            try:
                await self._fail(job_id, f"failed: {type(exc).__name__}; the error has been logged")
            except Exception:
                # The database is gone too: the next startup fails the job.
                log.exception("could not mark import %s failed", job_id)

    async def _run_cell_sites(self, job: ImportJob, path: str) -> None:
        """Import a spooled CSV batch by batch, then finish the job."""
        reader = await asyncio.to_thread(CellSiteReader, path, self.grid, job.id, job.started_at)
        try:
            await self._run(job, lambda: asyncio.to_thread(reader.next_batch, self.batch_rows))
        finally:
            reader.close()

    async def _run_polygons(self, job: ImportJob, features: list[Any]) -> None:
        """Import parsed features batch by batch, then finish the job."""
        reader = PolygonReader(features, self.grid, job.id, job.started_at)
        await self._run(job, lambda: asyncio.to_thread(reader.next_batch, FEATURE_BATCH_CELLS))

    async def _run(self, job: ImportJob, step: Step) -> None:
        """Write each batch, then its progress, each in a short transaction; finish with done.

        The next batch is read in its thread while this one is written, so parsing and the
        database overlap.
        """
        progress = Progress(bytes_total=job.bytes_total or 0)
        source = "derived" if job.kind == CELL_SITES else "prediction"
        upcoming: asyncio.Future[Batch] = asyncio.ensure_future(step())
        try:
            while True:
                batch = await upcoming
                if not batch.done:
                    upcoming = asyncio.ensure_future(step())
                await self._write(batch, source, progress)
                progress.add(batch, batch.bytes_read if job.kind == CELL_SITES else progress.bytes_total)
                if batch.done:
                    break
                await self._save(job.id, status=RUNNING, **progress.values())
                if self._stopping:
                    raise Stopped
        finally:
            # The reader's thread cannot be interrupted: let it finish before its file is closed.
            await asyncio.gather(upcoming, return_exceptions=True)
        await self._save(job.id, status=DONE, finished_at=utcnow(), **progress.values())

    async def _write(self, batch: Batch, source: str, progress: Progress) -> None:
        """Write areas and sites, then levels in chunks; note which areas got a level."""
        async with transaction(self.sessions) as session:
            await repository.insert_missing_areas(session, batch.areas)
            await repository.upsert_cell_sites(session, batch.sites)
        for start in range(0, len(batch.levels), LEVEL_ROWS_PER_TRANSACTION):
            async with transaction(self.sessions) as session:
                written = await repository.upsert_predicted_levels(
                    session,
                    batch.levels[start : start + LEVEL_ROWS_PER_TRANSACTION],
                    source=source,
                    ranks=SOURCE_RANK,
                )
            progress.written_areas.update(int(area_id, 16) for area_id in written)

    async def _save(self, job_id: str, **values: Any) -> None:
        """Record a job's progress; status "running" also heals a job another replica wrongly failed."""
        async with transaction(self.sessions) as session:
            await repository.update_import_job(session, job_id, values)

    async def _fail(self, job_id: str, reason: str) -> None:
        """Mark a job failed with a reason, keeping the errors it recorded."""
        async with transaction(self.sessions) as session:
            job = await repository.get_import_job(session, job_id)
            if job is not None and job.status != DONE:
                fail(job, reason)

    # --- lifecycle

    async def fail_interrupted(self) -> int:
        """Fail jobs a crash left running (their files are gone); return how many."""
        async with transaction(self.sessions) as session:
            jobs = await repository.import_jobs_with_status(session, RUNNING)
            for job in jobs:
                fail(job, INTERRUPTED)
        if jobs:
            log.warning("%d import(s) left running by a previous process marked failed", len(jobs))
        return len(jobs)

    async def stop(self) -> None:
        """Stop running imports between batches and mark them failed (a re-import finishes the work).

        A task cancelled in the middle of a statement can leave SQLite's one connection locked,
        so imports first get STOP_GRACE_S to reach the end of their batch; only then are they
        cancelled (and a job left running is failed at the next startup).
        """
        self._stopping = True
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def fail(job: ImportJob, reason: str) -> None:
    """Set a job failed now; the reason goes last in its errors as {"failure": reason}."""
    job.status = FAILED
    job.finished_at = utcnow()
    kept = [error for error in job.errors if "failure" not in error][:MAX_STORED_ERRORS]
    job.errors = [*kept, {"failure": reason}]


def failure_of(job: ImportJob) -> str | None:
    """Return why a job failed, if it did."""
    if job.status != FAILED:
        return None
    return next((str(e["failure"]) for e in reversed(job.errors) if "failure" in e), "failed")


def row_errors(job: ImportJob) -> Iterator[dict[str, Any]]:
    """Yield a job's refused rows and features (not its failure note)."""
    return (e for e in job.errors if "failure" not in e)


def importer_of(request: Request) -> Importer:
    """Return the app's importer (dependency)."""
    value: Importer = request.app.state.platform.extras[EXTRA]
    return value


def lifecycle(
    settings: CoverageSettings,
) -> tuple[Callable[[Platform], Awaitable[None]], Callable[[Platform], Awaitable[None]]]:
    """Return the startup and shutdown hooks that own the importer and its tasks."""

    async def start(platform: Platform) -> None:
        importer = Importer(platform.sessions, Grid(settings.h3_resolution, settings.district_resolution))
        await importer.fail_interrupted()
        platform.extras[EXTRA] = importer

    async def stop(platform: Platform) -> None:
        importer: Importer | None = platform.extras.get(EXTRA)
        if importer is not None:
            await importer.stop()

    return start, stop
