"""Imports: OpenCelliD CSV cell sites and GeoJSON coverage polygons become predicted area levels."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from careloop_common.db import SessionFactory, create_engine, create_session_factory, transaction, utcnow
from careloop_common.testing import auth_headers, running_app, service_settings, wait_until
from coverage_map import imports, service
from coverage_map.main import create_app
from coverage_map.models import AreaLevel, CellSite, ImportJob
from coverage_map.settings import CoverageSettings

CENTRAL = (22.2819, 114.1582)
SHA_TIN = (22.3817, 114.1877)
EAST_OF_SHA_TIN = (22.3817, 114.2077)
HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
CSV = {"Content-Type": "text/csv"}
GEOJSON = {"Content-Type": "application/geo+json"}
SPACING_M = math.sqrt(3) * h3.average_hexagon_edge_length(8, unit="m")


def writing() -> dict[str, str]:
    return auth_headers("coverage:write", "coverage:read", subject="planner")


def reading() -> dict[str, str]:
    return auth_headers("coverage:read")


def row(
    radio: str, cell: int, lat: float, lng: float, range_m: object, signal: object = 0, **replace: object
) -> str:
    values: dict[str, object] = {
        "radio": radio,
        "mcc": 454,
        "net": 0,
        "area": 100,
        "cell": cell,
        "unit": 0,
        "lon": lng,
        "lat": lat,
        "range": range_m,
        "samples": 12,
        "changeable": 1,
        "created": 1_500_000_000,
        "updated": 1_600_000_000,
        "averageSignal": signal,
    }
    values.update(replace)
    return ",".join(str(v) for v in values.values())


@dataclass
class Service:
    client: httpx.AsyncClient
    app: FastAPI

    @property
    def sessions(self) -> SessionFactory:
        sessions: SessionFactory = self.app.state.platform.sessions
        return sessions

    @property
    def importer(self) -> imports.Importer:
        importer: imports.Importer = self.app.state.platform.extras["imports"]
        return importer

    async def upload(
        self, body: str | bytes, headers: dict[str, str], path: str = "cell-sites"
    ) -> httpx.Response:
        route = {"cell-sites": "cell-site-imports", "coverage-polygons": "coverage-polygon-imports"}[path]
        return await self.client.post(f"/coverage/v1/{route}", content=body, headers={**writing(), **headers})

    async def finished(self, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
        async def done() -> dict[str, Any] | None:
            answer = await self.client.get(f"/coverage/v1/imports/{job_id}", headers=reading())
            assert answer.status_code == 200, answer.text
            job: dict[str, Any] = answer.json()
            return job if job["status"] != "running" else None

        job: dict[str, Any] = await wait_until(
            done, timeout_s=timeout_s, interval_s=0.1, message=f"import {job_id} to finish"
        )
        return job

    async def run(
        self, body: str | bytes, headers: dict[str, str] = CSV, path: str = "cell-sites"
    ) -> dict[str, Any]:
        accepted = await self.upload(body, headers, path)
        assert accepted.status_code == 202, accepted.text
        return await self.finished(accepted.json()["id"])

    async def levels(self) -> dict[tuple[str, str, str], AreaLevel]:
        async with self.sessions() as session:
            rows = await session.scalars(select(AreaLevel))
            return {(r.area_id, r.technology, r.service): r for r in rows}

    async def sites(self) -> list[CellSite]:
        async with self.sessions() as session:
            return list(await session.scalars(select(CellSite).order_by(col(CellSite.cell))))


@pytest.fixture
async def svc(database_url: str, nats_url: str) -> AsyncIterator[Service]:
    settings = service_settings(CoverageSettings, database_url, nats_url, run_background=False)
    app = create_app(settings)
    async with running_app(app) as client:
        yield Service(client, app)


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Spool uploads into the test's own directory, to see that none is left behind."""
    path = tmp_path / "spool"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def leftovers(path: Path) -> list[str]:
    return [entry.name for entry in path.iterdir()]


def ring(lat: float, lng: float, distance: int) -> set[str]:
    return set(h3.grid_ring(h3.latlng_to_cell(lat, lng, 8), distance))


def disk(lat: float, lng: float, distance: int) -> set[str]:
    return set(h3.grid_disk(h3.latlng_to_cell(lat, lng, 8), distance))


# --- the level rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("range_m", "signal", "expected"),
    [
        (3_000, 0, ["good", "good", "normal", "weak"]),  # rings at 0, 0.31, 0.61, 0.92 of the reach
        (2_000, -80, ["good", "good", "weak"]),  # 0.46, 0.92
        (900, None, ["good"]),  # no neighbour's centre within reach: its own area only
        (100, 0, ["normal"]),  # covers less than its own area
        (3_000, -100, ["normal", "normal", "normal", "weak"]),  # fair signal caps at normal
        (3_000, -110, ["weak", "weak", "weak", "weak"]),  # poor signal caps at weak
        (3_000, 7, ["good", "good", "normal", "weak"]),  # not a dBm value: ignored
        (50_000, 0, ["good", "good", "good", "good", "normal", "weak", "weak"]),  # reach clipped at 6 rings
    ],
)
def test_the_level_rule(range_m: int, signal: int | None, expected: list[str]) -> None:
    levels = imports.ring_levels(range_m, signal, SPACING_M)
    assert [service.LEVELS[rank] for rank in levels] == expected


# --- cell sites -------------------------------------------------------------------------------------


async def test_good_rows_are_kept_bad_rows_reported_and_levels_seeded(svc: Service) -> None:
    body = "\n".join(
        [
            HEADER,
            row("LTE", 1, *CENTRAL, 3_000),  # line 2
            row("LTE", 2, *CENTRAL, 3_000, mcc=""),  # line 3: mcc missing
            row("GSM", 3, 95.0, CENTRAL[1], 500),  # line 4: lat out of range
            "LTE,454,0,100,4,0,114.1",  # line 5: too few columns
            "",  # blank: skipped, not counted
            row("WIMAX", 5, *CENTRAL, 1_000),  # line 7: unknown radio
            row("UMTS", 6, *CENTRAL, 0),  # line 8: range 0
            row("NR", 7, *SHA_TIN, 100, signal="strong"),  # line 9: averageSignal not a number
            row("GSM", 8, *SHA_TIN, 1_000, signal=-110),  # line 10: good, poor signal
            row("LTE", 10, *SHA_TIN, 3_000),  # line 11
            row("LTE", 9, *EAST_OF_SHA_TIN, 2_000, signal=-110),  # line 12: weak where line 11 is better
            "LTE," * 2_000,  # line 13: far too long to be a row
        ]
    )
    accepted = await svc.upload(body + "\n", CSV)
    assert accepted.status_code == 202
    assert accepted.headers["location"] == f"/coverage/v1/imports/{accepted.json()['id']}"
    assert accepted.json()["status"] == "running"
    job = await svc.finished(accepted.json()["id"])

    assert job["status"] == "done"
    assert (job["rows_total"], job["rows_ok"], job["rows_bad"]) == (11, 4, 7)
    reasons = {error["line"]: error["reason"] for error in job["errors"]}
    assert sorted(reasons) == [3, 4, 5, 7, 8, 9, 13]
    assert "mcc" in reasons[3]
    assert "lat" in reasons[4]
    assert "range" in reasons[4]
    assert "14 columns" in reasons[5]
    assert "WIMAX" in reasons[7]
    assert "range must be positive" in reasons[8]
    assert "averageSignal" in reasons[9]
    assert reasons[13] == "line longer than 4096 bytes"

    sites = await svc.sites()
    assert [(s.radio, s.cell) for s in sites] == [("LTE", 1), ("GSM", 8), ("LTE", 9), ("LTE", 10)]
    assert sites[0].area_id == h3.latlng_to_cell(*CENTRAL, 8)
    assert sites[1].average_signal == -110

    levels = await svc.levels()
    central = h3.latlng_to_cell(*CENTRAL, 8)
    own = levels[(central, "4G", "voice")]
    assert (own.level, own.source, own.source_ref, own.recorded_by) == (
        "good",
        "derived",
        job["id"],
        f"import:{job['id']}",
    )
    assert levels[(central, "4G", "data")].level == "good"
    for distance, expected in ((1, "good"), (2, "normal"), (3, "weak")):
        assert {levels[(a, "4G", "data")].level for a in ring(*CENTRAL, distance)} == {expected}
    assert not any((a, "4G", "voice") in levels for a in ring(*CENTRAL, 4))
    # The poor signal caps the GSM cell at weak; no other technology was invented.
    assert {levels[(a, "2G", "voice")].level for a in disk(*SHA_TIN, 1)} == {"weak"}
    assert {key[1] for key in levels} == {"2G", "4G"}
    # Where two LTE cells reach one area, the better level wins, whichever comes last in the file.
    sha_tin = h3.latlng_to_cell(*SHA_TIN, 8)
    by_ring = ["good", "good", "normal", "weak"]
    for area in disk(*EAST_OF_SHA_TIN, 2):
        distance = h3.grid_distance(sha_tin, area)
        expected = by_ring[distance] if distance <= 3 else "weak"
        assert levels[(area, "4G", "voice")].level == expected
    assert "good" in {levels[(a, "4G", "voice")].level for a in disk(*EAST_OF_SHA_TIN, 2)}
    rated = disk(*CENTRAL, 3) | disk(*SHA_TIN, 3) | disk(*EAST_OF_SHA_TIN, 2)
    assert {key[0] for key in levels} == rated
    assert job["areas_updated"] == len(rated)


async def test_importing_the_same_file_again_changes_nothing(svc: Service) -> None:
    body = "\n".join(
        [row("LTE", c, CENTRAL[0] + c * 0.003, CENTRAL[1], 1_500 + c * 300) for c in range(40)]
        + [row("GSM", 100 + c, SHA_TIN[0], SHA_TIN[1] + c * 0.004, 4_000, signal=-100) for c in range(20)]
        + ["LTE,oops"]
    )
    first = await svc.run(body)
    sites_before = [(s.radio, s.cell, s.lat, s.lng, s.range_m, s.area_id) for s in await svc.sites()]
    levels_before = {key: (v.level, v.source) for key, v in (await svc.levels()).items()}

    second = await svc.run(body)

    assert [(s.radio, s.cell, s.lat, s.lng, s.range_m, s.area_id) for s in await svc.sites()] == sites_before
    levels_after = await svc.levels()
    assert {key: (v.level, v.source) for key, v in levels_after.items()} == levels_before
    assert {v.source_ref for v in levels_after.values()} == {second["id"]}
    counters = ("status", "rows_total", "rows_ok", "rows_bad", "areas_updated", "bytes_total", "errors")
    assert {k: first[k] for k in counters} == {k: second[k] for k in counters}
    assert first["areas_updated"] > 40


async def test_an_import_never_overwrites_a_survey(svc: Service) -> None:
    area = h3.latlng_to_cell(*CENTRAL, 8)
    async with transaction(svc.sessions) as session:
        await service.ensure_area(session, service.Grid(8, 6), area)
        await service.set_level(
            session, area, "4G", "voice", "weak", source="survey", source_ref="a-1", by="eng"
        )

    await svc.run(row("LTE", 1, *CENTRAL, 3_000))

    levels = await svc.levels()
    voice, data = levels[(area, "4G", "voice")], levels[(area, "4G", "data")]
    assert (voice.level, voice.source, voice.recorded_by) == ("weak", "survey", "eng")
    assert (data.level, data.source) == ("good", "derived")


async def test_progress_counts_reach_the_totals_and_errors_are_capped(svc: Service) -> None:
    svc.importer.batch_rows = 250
    good = [
        row("LTE", c, CENTRAL[0] + (c % 50) * 0.002, CENTRAL[1] + (c // 50) * 0.002, 1_200)
        for c in range(1_500)
    ]
    bad = [row("LTE", c, *CENTRAL, -5) for c in range(1_200)]
    body = "\n".join([HEADER, *good, *bad]) + "\n"

    job = await svc.run(body)

    assert job["status"] == "done"
    assert job["bytes_read"] == job["bytes_total"] == len(body.encode())
    assert (job["rows_total"], job["rows_ok"], job["rows_bad"]) == (2_700, 1_500, 1_200)
    assert len(job["errors"]) == imports.MAX_STORED_ERRORS
    assert job["errors"][0] == {"line": 1_502, "index": None, "reason": "range must be positive, found -5"}
    assert job["areas_updated"] == len({key[0] for key in await svc.levels()}) > 0
    assert job["finished_at"] is not None
    assert len(await svc.sites()) == 1_500


async def test_imports_are_listed_newest_first(svc: Service) -> None:
    first = await svc.run(row("LTE", 1, *CENTRAL, 1_000))
    second = await svc.run(row("GSM", 2, *CENTRAL, 1_000))
    page = (await svc.client.get("/coverage/v1/imports?limit=1", headers=reading())).json()
    assert (page["total"], [i["id"] for i in page["items"]]) == (2, [second["id"]])
    assert "errors" not in page["items"][0]
    rest = (await svc.client.get("/coverage/v1/imports?limit=1&offset=1", headers=reading())).json()
    assert [i["id"] for i in rest["items"]] == [first["id"]]
    missing = await svc.client.get("/coverage/v1/imports/nope", headers=reading())
    assert missing.status_code == 404


# --- coverage polygons ------------------------------------------------------------------------------

SQUARE = [[114.15, 22.27], [114.18, 22.27], [114.18, 22.29], [114.15, 22.29], [114.15, 22.27]]
EAST = [[114.20, 22.30], [114.23, 22.30], [114.23, 22.32], [114.20, 22.32], [114.20, 22.30]]


def feature(geometry: dict[str, Any] | None, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def cells_of(*rings: list[list[float]]) -> set[str]:
    """Fill rings with h3 directly, from (lat, lng) pairs: a swapped axis cannot go unnoticed."""
    return {c for r in rings for c in h3.polygon_to_cells(h3.LatLngPoly([(lat, lng) for lng, lat in r]), 8)}


async def test_polygons_fill_their_areas_and_bad_features_are_reported(svc: Service) -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature(
                {"type": "Polygon", "coordinates": [SQUARE]}, technology="4G", service="data", level="good"
            ),
            feature(
                {"type": "MultiPolygon", "coordinates": [[SQUARE], [EAST]]}, technology="5G", level="normal"
            ),
            feature({"type": "Point", "coordinates": [114.1, 22.3]}, technology="4G", level="good"),  # 2
            feature({"type": "Polygon", "coordinates": [SQUARE]}, technology="6G", level="good"),  # 3
            feature({"type": "Polygon", "coordinates": [SQUARE]}, technology="4G", level="great"),  # 4
            feature(
                {"type": "Polygon", "coordinates": [[[1, 95], [2, 95], [2, 96], [1, 95]]]},
                technology="4G",
                level="weak",
            ),
            feature(
                {
                    "type": "Polygon",
                    "coordinates": [[[114.15, 22.27], [114.1501, 22.27], [114.15, 22.2701], [114.15, 22.27]]],
                },
                technology="4G",
                level="weak",
            ),  # 6: too small
            {"type": "Point"},  # 7
            feature(None, technology="4G", level="good"),  # 8
            feature(
                {"type": "Polygon", "coordinates": [SQUARE]}, technology="4g", service="sms", level="good"
            ),  # 9
            # Both services, worse than feature 0 for data: data keeps good, voice gets weak.
            feature({"type": "Polygon", "coordinates": [SQUARE]}, technology="4g", level="weak"),
        ],
    }
    job = await svc.run(httpx.Request("POST", "/", json=collection).content, GEOJSON, "coverage-polygons")

    assert job["status"] == "done"
    assert job["kind"] == "coverage_polygons"
    assert (job["rows_total"], job["rows_ok"], job["rows_bad"]) == (11, 3, 8)
    reasons = {error["index"]: error["reason"] for error in job["errors"]}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "Point" in reasons[2]
    assert "technology" in reasons[3]
    assert "level" in reasons[4]
    assert "out of range" in reasons[5]
    assert "no area centre" in reasons[6]
    assert "Feature" in reasons[7]
    assert "geometry" in reasons[8]
    assert "service" in reasons[9]

    levels = await svc.levels()
    square, both = cells_of(SQUARE), cells_of(SQUARE, EAST)
    assert len(square) > 5
    assert {a for (a, t, s) in levels if (t, s) == ("4G", "data")} == square
    assert {levels[(a, "4G", "data")].level for a in square} == {"good"}
    assert {levels[(a, "4G", "voice")].level for a in square} == {"weak"}
    for svc_name in service.SERVICES:
        assert {a for (a, t, s) in levels if (t, s) == ("5G", svc_name)} == both
    assert {v.source for v in levels.values()} == {"prediction"}
    assert job["areas_updated"] == len(both)
    assert job["bytes_read"] == job["bytes_total"]


# --- bad uploads ------------------------------------------------------------------------------------


async def test_empty_garbage_and_oversized_uploads_are_problems(svc: Service, spool_dir: Path) -> None:
    cases: list[tuple[str | bytes, dict[str, str], str, int, str]] = [
        (b"", CSV, "cell-sites", 422, "empty-upload"),
        (b"\n  \n", CSV, "cell-sites", 422, "empty-upload"),
        (bytes(range(256)) * 50, CSV, "cell-sites", 422, "not-csv"),
        ('{"type": "FeatureCollection", "features": []}', CSV, "cell-sites", 422, "not-csv"),
        ("radio;mcc;net\nLTE;454;0\n", CSV, "cell-sites", 422, "not-csv"),
        (
            row("LTE", 1, *CENTRAL, 1_000),
            {"Content-Type": "application/json"},
            "cell-sites",
            415,
            "unsupported-media-type",
        ),
        (b"", GEOJSON, "coverage-polygons", 422, "empty-upload"),
        (b"\xff\xfe garbage", GEOJSON, "coverage-polygons", 422, "not-geojson"),
        ('{"type": "Feature"}', GEOJSON, "coverage-polygons", 422, "not-geojson"),
        ('{"type": "FeatureCollection", "features": []}', GEOJSON, "coverage-polygons", 422, "not-geojson"),
        ("[" * 100_000, GEOJSON, "coverage-polygons", 422, "not-geojson"),
        ('{"type": "FeatureCollection"}', CSV, "coverage-polygons", 415, "unsupported-media-type"),
    ]
    for body, headers, path, status, slug in cases:
        answer = await svc.upload(body, headers, path)
        assert (answer.status_code, answer.headers["content-type"]) == (status, "application/problem+json"), (
            body[:40]
        )
        assert answer.json()["type"] == f"urn:careloop:problem:{slug}", body[:40]

    svc.importer.max_csv_bytes = 1_000
    too_big = await svc.upload("\n".join([HEADER] + [row("LTE", c, *CENTRAL, 900) for c in range(30)]), CSV)
    assert (too_big.status_code, too_big.json()["type"]) == (413, "urn:careloop:problem:payload-too-large")

    async def streamed() -> AsyncIterator[bytes]:
        for c in range(30):  # no Content-Length: the limit is found while streaming
            yield (row("LTE", c, *CENTRAL, 900) + "\n").encode()

    chunked = await svc.client.post(
        "/coverage/v1/cell-site-imports", content=streamed(), headers={**writing(), **CSV}
    )
    assert (chunked.status_code, chunked.json()["type"]) == (413, "urn:careloop:problem:payload-too-large")

    denied = await svc.client.post(
        "/coverage/v1/cell-site-imports", content=row("LTE", 1, *CENTRAL, 900), headers={**reading(), **CSV}
    )
    assert denied.status_code == 403
    assert (await svc.client.get("/coverage/v1/imports", headers=reading())).json()["total"] == 0
    assert leftovers(spool_dir) == []


# --- restarts ---------------------------------------------------------------------------------------


async def test_jobs_a_crash_left_running_are_failed_at_startup(database_url: str, nats_url: str) -> None:
    settings = service_settings(CoverageSettings, database_url, nats_url, run_background=False)
    app = create_app(settings)
    async with running_app(app), transaction(app.state.platform.sessions) as session:
        session.add(
            ImportJob(
                id="crashed",
                kind="cell_sites",
                status="running",
                bytes_total=10,
                errors=[{"line": 2, "reason": "range must be positive, found 0"}],
                created_by="planner",
                started_at=utcnow(),
            )
        )
    restarted = create_app(settings)
    async with running_app(restarted) as client:
        job = (await client.get("/coverage/v1/imports/crashed", headers=reading())).json()
    assert job["status"] == "failed"
    assert "import the file again" in job["failure"]
    assert job["errors"] == [{"line": 2, "index": None, "reason": "range must be positive, found 0"}]
    assert job["finished_at"] is not None


async def test_shutdown_stops_an_import_between_batches_and_fails_it(
    database_url: str, nats_url: str, spool_dir: Path
) -> None:
    settings = service_settings(CoverageSettings, database_url, nats_url, run_background=False)
    app = create_app(settings)
    body = "\n".join(row("LTE", c, CENTRAL[0] + (c % 100) * 0.003, CENTRAL[1], 2_000) for c in range(20_000))
    async with running_app(app) as client:
        app.state.platform.extras["imports"].batch_rows = 100
        accepted = await client.post(
            "/coverage/v1/cell-site-imports", content=body, headers={**writing(), **CSV}
        )
        assert accepted.status_code == 202
    # Read with a fresh engine: the stopping service itself recorded the failure.
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            job = await session.get(ImportJob, accepted.json()["id"])
    finally:
        await engine.dispose()
    assert job is not None
    assert job.status == "failed"
    assert imports.failure_of(job) == imports.INTERRUPTED
    # Progress was saved batch by batch up to the stop: the first batch always completes.
    assert 100 <= job.rows_total < 20_000
    assert job.rows_ok == job.rows_total
    assert 0 < job.bytes_read < len(body)
    assert leftovers(spool_dir) == []


# --- scale ------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_million_rows_import_in_reasonable_time(svc: Service, tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    with path.open("w") as out:
        out.write(HEADER + "\n")
        for c in range(1_000_000):
            site = c // 6  # six cells per site, like three sectors on two radios
            lat = 22.0 + (site % 400) * 0.004
            lng = 113.5 + (site // 400) * 0.004
            radio = "LTE" if c % 2 else "GSM"
            out.write(row(radio, c, lat, lng, 500 + (c * 7919) % 6_000, signal=-70 - c % 50) + "\n")
    started = time.monotonic()

    async def chunks() -> AsyncIterator[bytes]:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                yield chunk

    accepted = await svc.client.post(
        "/coverage/v1/cell-site-imports", content=chunks(), headers={**writing(), **CSV}
    )
    assert accepted.status_code == 202
    job = await svc.finished(accepted.json()["id"], timeout_s=900)
    elapsed = time.monotonic() - started
    print(f"a million rows in {elapsed:.0f} s: {job}")
    assert (job["status"], job["rows_ok"]) == ("done", 1_000_000)
