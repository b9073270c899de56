"""Analytics reports: complaints seeded straight into the database, figures checked against sums made here.

The expected figures are computed in this file from the seeded rows with plain Python (no SQL, no
code of the service), so a wrong GROUP BY, a lost filter or an off-by-one percentile shows.
"""

from __future__ import annotations

import csv
import io
import math
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import httpx
import pytest

from careloop_common.natsserver import free_port
from careloop_common.testing import LiveServer, auth_headers, running_app, service_settings
from complaints.main import create_app
from complaints.models import Complaint, RevisitAnswer
from complaints.schemas import Category, CategoryName, RegionName
from complaints.service import REGIONS_BY_CODE
from complaints.settings import ComplaintsSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

REPORTS = "/complaints/v1/reports"
CLOCKS = ("first_response", "next_update", "resolution")
OPEN_STATUSES = {"acknowledged", "inProgress", "pending", "held"}
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # ISO week 2026-W45
DIMENSION_NAMES = ("category", "symptom", "channel", "brand", "region", "area", "week")


def supervisor() -> dict[str, str]:
    """Return a supervisor's principal, minted per call (a principal lives 60 s)."""
    return auth_headers("complaints:read", "complaints:write", "complaints:supervise", subject="sup-1")


# --- the seeded complaints ---------------------------------------------------------------------


def complaint(created_at: datetime, **fields: Any) -> Complaint:
    """Return a complaint row filed at ``created_at``; ``fields`` override the plain defaults."""
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "reference": "CMP-" + uuid.uuid4().hex[:8].upper(),
        "status": "acknowledged",
        "owner": "agent-1",
        "queue": "coverage.HK.standard",
        "category": "coverage",
        "channel": "call_centre",
        "msisdn": "+85291234567",
        "symptoms": [],
        "sla_flags": [],
        "created_at": created_at,
        "updated_at": created_at,
    }
    return Complaint(**(values | fields))


SYMPTOMS = ["no_signal", "weak_signal", "call_drop", "slow_data", "no_data"]
MAKES = ["Apple", "apple ", "APPLE", "Samsung", " samsung", "Huawei", "華為", None]
AREAS = ["88411c8b1bfffff", "88411c8b1dfffff", "8841a6d0a1fffff", None]
OWNERS = ["agent-1", "agent-2", "agent-3", "portal"]
ENDINGS = ["acknowledged", "inProgress", "pending", "held", "resolved", "closed", "closed", "rejected"]


def random_complaint(rng: random.Random) -> Complaint:
    """Return one varied complaint: anywhere in five weeks, any category, flags, ending and times."""
    created = MONDAY + timedelta(minutes=rng.randrange(5 * 7 * 24 * 60))
    symptoms = rng.sample(SYMPTOMS, rng.randrange(4))
    if symptoms and rng.random() < 0.2:
        symptoms.append(symptoms[0])  # listed twice: still one complaint with that symptom
    flags = [f"{clock}:{rng.choice(['warning', 'breached'])}" for clock in CLOCKS if rng.random() < 0.35]
    status = rng.choice(ENDINGS)
    fields: dict[str, Any] = {}
    if status in ("resolved", "closed"):
        # Whole minutes: the hours a report shows are then never on a rounding edge.
        fields["resolved_at"] = created + timedelta(minutes=rng.randrange(5, 6000))
        fields["first_contact_resolution"] = rng.random() < 0.4
    if status == "closed":
        fields["closed_at"] = fields["resolved_at"] + timedelta(minutes=rng.randrange(0, 3000))
    return complaint(
        created,
        status=status,
        category=rng.choice(list(get_args(CategoryName))),
        channel=rng.choice(["web", "call_centre", "shop", "email"]),
        region=rng.choice(["HK", "HK", "CN"]),
        area_id=rng.choice(AREAS),
        handset_make=rng.choice(MAKES),
        symptoms=symptoms,
        sla_flags=flags,
        owner=rng.choice(OWNERS),
        **fields,
    )


def edge_complaints() -> list[Complaint]:
    """Return complaints on the edges a report must get right."""
    sunday_night = MONDAY + timedelta(days=7) - timedelta(minutes=1)
    return [
        # The last minute of week 45 (Sunday 23:59 UTC) and the first of week 46.
        complaint(sunday_night, category="billing", channel="email"),
        complaint(MONDAY + timedelta(days=7), category="billing", channel="email"),
        # A look-alike flag: "_" is a LIKE wildcard, so an unescaped match would count this one.
        complaint(MONDAY + timedelta(days=1), sla_flags=["first-response:breached", "resolution:warning"]),
        # A partner's complaint: only that partner's key sees it, staff see it with the rest.
        complaint(
            MONDAY + timedelta(days=2),
            channel="partner_api",
            partner_id="partner-a",
            owner="key-a",
            status="closed",
            resolved_at=MONDAY + timedelta(days=2, hours=1),
            closed_at=MONDAY + timedelta(days=2, hours=3),
            first_contact_resolution=True,
            sla_flags=["resolution:breached"],
        ),
    ]


def revisit_answers(rows: list[Complaint], rng: random.Random) -> list[RevisitAnswer]:
    """Return answers for most closed complaints: satisfied or not or silent, a score or none."""
    answers = []
    for row in rows:
        if row.closed_at is None or rng.random() < 0.25:
            continue
        answers.append(
            RevisitAnswer(
                complaint_id=row.id,
                satisfied=rng.choice([True, True, False, None]),
                score=rng.choice([1, 2, 3, 4, 5, 5, None]),
                channel="sms",
                answered_at=row.closed_at + timedelta(days=3),
            )
        )
    return answers


@dataclass
class Seeded:
    """What the database holds, kept here to compute the expected figures from."""

    complaints: list[Complaint]
    answers: list[RevisitAnswer]


def seed_data() -> Seeded:
    """Return the same varied data set on every run."""
    rng = random.Random(621)
    rows = [random_complaint(rng) for _ in range(150)] + edge_complaints()
    return Seeded(rows, revisit_answers(rows, rng))


async def store(app: Any, seeded: Seeded) -> None:
    """Write the rows with the app's own session factory."""
    async with app.state.platform.sessions() as session:
        session.add_all(seeded.complaints)
        await session.flush()
        session.add_all(seeded.answers)
        await session.commit()


# --- the expected figures, computed here ---------------------------------------------------------


def nearest_rank(values: list[float], q: int) -> float:
    """Return the smallest value with at least q % of the values at or below it."""
    ordered = sorted(values)
    return ordered[math.ceil(q / 100 * len(ordered)) - 1]


def expected_figures(rows: list[Complaint]) -> dict[str, Any]:
    """Return what a report must say about ``rows``."""
    n = len(rows)
    breached = {c: sum(f"{c}:breached" in r.sla_flags for r in rows) for c in CLOCKS}
    fcr = sum(r.first_contact_resolution for r in rows)
    hours = [(r.closed_at - r.created_at).total_seconds() / 3600 for r in rows if r.closed_at]
    return {
        "complaints": n,
        "open": sum(r.status in OPEN_STATUSES for r in rows),
        "resolved": sum(r.resolved_at is not None for r in rows),
        "closed": sum(r.closed_at is not None for r in rows),
        "first_contact_resolutions": fcr,
        "fcr_rate": fcr / n if n else None,
        "breached": sum(any(f"{c}:breached" in r.sla_flags for c in CLOCKS) for r in rows),
        "sla": {
            c: {"breached": breached[c], "compliance": (n - breached[c]) / n if n else None} for c in CLOCKS
        },
        "time_to_close": {
            "closed": len(hours),
            **{f"p{q}_hours": round(nearest_rank(hours, q), 2) if hours else None for q in (50, 90, 99)},
        },
    }


def expected_revisits(rows: list[Complaint], answers: list[RevisitAnswer]) -> dict[str, Any]:
    """Return what the summary must say of the revisits to ``rows``."""
    ids = {r.id for r in rows}
    mine = [a for a in answers if a.complaint_id in ids]
    said = [a.satisfied for a in mine if a.satisfied is not None]
    scores = [a.score for a in mine if a.score is not None]
    return {
        "answers": len(mine),
        "satisfied": sum(said),
        "satisfied_share": sum(said) / len(said) if said else None,
        "scored": len(scores),
        "mean_score": sum(scores) / len(scores) if scores else None,
    }


def iso_week(instant: datetime) -> str:
    year, week, _ = instant.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


KEYS: dict[str, Callable[[Complaint], list[str | None]]] = {
    "category": lambda r: [r.category],
    "symptom": lambda r: sorted(set(r.symptoms)),
    "channel": lambda r: [r.channel],
    # SQL trim() takes spaces only; lower() is the same for these makes on both databases.
    "brand": lambda r: [r.handset_make.strip(" ").lower() if r.handset_make is not None else None],
    "region": lambda r: [r.region],
    "area": lambda r: [r.area_id],
    "week": lambda r: [iso_week(r.created_at)],
}


def expected_breakdown(rows: list[Complaint], by: str) -> list[dict[str, Any]]:
    """Return the groups a breakdown must list, in its order."""
    groups: dict[str | None, list[Complaint]] = defaultdict(list)
    for row in rows:
        for key in KEYS[by](row):
            groups[key].append(row)
    found = [{"key": key, **expected_figures(members)} for key, members in groups.items()]
    if by == "week":
        return sorted(found, key=lambda g: g["key"])
    return sorted(found, key=lambda g: (-g["complaints"], g["key"] is None, g["key"] or ""))


def expected_handlers(rows: list[Complaint]) -> list[dict[str, Any]]:
    """Return the handlers the report must list, busiest first."""
    owners: dict[str, list[Complaint]] = defaultdict(list)
    for row in rows:
        owners[row.owner].append(row)
    found = [{"owner": owner, **expected_figures(members)} for owner, members in owners.items()]
    return sorted(found, key=lambda h: (-h["complaints"], h["owner"]))


def filed_between(rows: list[Complaint], first: date, last: date) -> list[Complaint]:
    return [r for r in rows if first <= r.created_at.astimezone(UTC).date() <= last]


def without_filters(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "filters"}


# --- the service on its own ------------------------------------------------------------------------


@pytest.fixture
async def seeded_client(database_url: str, nats_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Seeded]]:
    """Run the complaints service on a fresh database holding the seeded complaints."""
    settings = service_settings(ComplaintsSettings, database_url, nats_url, run_background=False)
    app = create_app(settings)
    seeded = seed_data()
    async with running_app(app) as client:
        await store(app, seeded)
        yield client, seeded


async def test_summary_counts_every_figure(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, seeded = seeded_client
    response = await client.get(f"{REPORTS}/summary", headers=supervisor())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filters"] == {"from": None, "to": None, "region": None, "category": None}
    assert body["revisits"] == expected_revisits(seeded.complaints, seeded.answers)
    assert {k: v for k, v in without_filters(body).items() if k != "revisits"} == expected_figures(
        seeded.complaints
    )
    assert body["revisits"]["answers"] > 10  # the data set exercises what it checks
    assert 0 < body["sla"]["first_response"]["breached"] < body["complaints"]


async def test_breakdown_groups_like_python_does(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, seeded = seeded_client
    for by in DIMENSION_NAMES:
        response = await client.get(
            f"{REPORTS}/breakdown", params={"by": by, "limit": 500}, headers=supervisor()
        )
        assert response.status_code == 200, response.text
        body = response.json()
        expected = expected_breakdown(seeded.complaints, by)
        assert body["items"] == expected, by
        assert (body["by"], body["total"], body["offset"]) == (by, len(expected), 0)


async def test_breakdown_edges(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, _ = seeded_client
    weeks = (await client.get(f"{REPORTS}/breakdown", params={"by": "week"}, headers=supervisor())).json()[
        "items"
    ]
    assert [w["key"] for w in weeks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    brands = (await client.get(f"{REPORTS}/breakdown", params={"by": "brand"}, headers=supervisor())).json()[
        "items"
    ]
    assert {b["key"] for b in brands} == {"apple", "samsung", "huawei", "華為", None}


async def test_breakdown_pages(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, seeded = seeded_client
    page = await client.get(
        f"{REPORTS}/breakdown", params={"by": "category", "limit": 2, "offset": 1}, headers=supervisor()
    )
    expected = expected_breakdown(seeded.complaints, "category")
    assert page.json()["items"] == expected[1:3]
    assert page.json()["total"] == len(expected) == 6


async def test_handlers_report_each_owner(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, seeded = seeded_client
    response = await client.get(f"{REPORTS}/handlers", headers=supervisor())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["items"] == expected_handlers(seeded.complaints)
    assert body["total"] == len(set(OWNERS) | {"key-a"})


async def test_filters_narrow_every_report(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, seeded = seeded_client
    first, last = date(2026, 11, 3), date(2026, 11, 8)  # ends on the Sunday: its 23:59 complaint is in
    chosen = [
        r
        for r in filed_between(seeded.complaints, first, last)
        if r.region == "HK" and r.category == "billing"
    ]
    params = {"from": first.isoformat(), "to": last.isoformat(), "region": "HK", "category": "billing"}
    summary = (await client.get(f"{REPORTS}/summary", params=params, headers=supervisor())).json()
    assert summary["filters"] == params
    assert summary["complaints"] == len(chosen) > 0
    assert {k: v for k, v in without_filters(summary).items() if k != "revisits"} == expected_figures(chosen)
    assert summary["revisits"] == expected_revisits(chosen, seeded.answers)
    for by in ("symptom", "week"):
        groups = await client.get(f"{REPORTS}/breakdown", params={**params, "by": by}, headers=supervisor())
        assert groups.json()["items"] == expected_breakdown(chosen, by)
    handlers = await client.get(f"{REPORTS}/handlers", params=params, headers=supervisor())
    assert handlers.json()["items"] == expected_handlers(chosen)


async def test_a_period_includes_both_of_its_days(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, seeded = seeded_client
    sunday = date(2026, 11, 8)
    response = await client.get(
        f"{REPORTS}/summary", params={"from": "2026-11-08", "to": "2026-11-08"}, headers=supervisor()
    )
    assert response.json()["complaints"] == len(filed_between(seeded.complaints, sunday, sunday)) > 0
    only_from = await client.get(f"{REPORTS}/summary", params={"from": "2026-11-09"}, headers=supervisor())
    later = [r for r in seeded.complaints if r.created_at >= MONDAY + timedelta(days=7)]
    assert only_from.json()["complaints"] == len(later)
    far = await client.get(
        f"{REPORTS}/summary", params={"from": "0001-01-01", "to": "9999-12-31"}, headers=supervisor()
    )
    assert far.json()["complaints"] == len(seeded.complaints)


async def test_partners_see_figures_of_their_own_complaints_only(
    seeded_client: tuple[httpx.AsyncClient, Seeded],
) -> None:
    client, seeded = seeded_client
    partner = auth_headers("complaints:read", subject="key-a", partner_id="partner-a")
    response = await client.get(f"{REPORTS}/summary", headers=partner)
    mine = [r for r in seeded.complaints if r.partner_id == "partner-a"]
    assert {k: v for k, v in without_filters(response.json()).items() if k != "revisits"} == (
        expected_figures(mine)
    )
    assert response.json()["complaints"] == 1


async def test_csv_export_is_the_breakdown_as_a_file(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, _ = seeded_client
    params = {"by": "symptom", "from": "2026-11-02", "to": "2026-11-29", "region": "HK"}
    response = await client.get(f"{REPORTS}/breakdown.csv", params=params, headers=supervisor())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="complaints-by-symptom-2026-11-02-to-2026-11-29-HK.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    items = (
        await client.get(f"{REPORTS}/breakdown", params={**params, "limit": 500}, headers=supervisor())
    ).json()["items"]
    assert len(rows) == len(items) > 3
    for row, item in zip(rows, items, strict=True):
        assert row == csv_cells(item, "symptom")


def csv_cells(item: dict[str, Any], by: str) -> dict[str, str]:
    """Return a JSON group as the CSV cells it must become."""

    def cell(value: Any) -> str:
        return "" if value is None else repr(value) if isinstance(value, float) else str(value)

    counts = ("complaints", "open", "resolved", "closed", "first_contact_resolutions", "fcr_rate", "breached")
    cells = {by: cell(item["key"]), **{name: cell(item[name]) for name in counts}}
    for clock in CLOCKS:
        cells[f"breached_{clock}"] = cell(item["sla"][clock]["breached"])
        cells[f"compliance_{clock}"] = cell(item["sla"][clock]["compliance"])
    for q in (50, 90, 99):
        cells[f"p{q}_hours_to_close"] = cell(item["time_to_close"][f"p{q}_hours"])
    return cells


async def test_csv_export_of_an_empty_period_is_a_header(
    seeded_client: tuple[httpx.AsyncClient, Seeded],
) -> None:
    client, _ = seeded_client
    response = await client.get(
        f"{REPORTS}/breakdown.csv", params={"by": "week", "from": "2030-01-01"}, headers=supervisor()
    )
    assert response.text.splitlines()[0].startswith("week,complaints,open,")
    assert len(response.text.splitlines()) == 1
    assert 'filename="complaints-by-week-from-2030-01-01.csv"' in response.headers["content-disposition"]


async def test_an_empty_report_has_no_rates(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, _ = seeded_client
    body = (
        await client.get(f"{REPORTS}/summary", params={"from": "2030-01-01"}, headers=supervisor())
    ).json()
    assert body["complaints"] == 0
    assert body["fcr_rate"] is None
    assert body["sla"]["resolution"] == {"breached": 0, "compliance": None}
    assert body["time_to_close"] == {"closed": 0, "p50_hours": None, "p90_hours": None, "p99_hours": None}
    assert body["revisits"]["mean_score"] is None


BAD_FILTERS = [
    ({"from": "2026-11-30", "to": "2026-11-01"}, "invalid-date-range", "query.from"),
    ({"from": "2026-13-01"}, "validation-error", "query.from"),
    ({"from": "20261101"}, "validation-error", "query.from"),
    ({"to": "1764547200"}, "validation-error", "query.to"),
    ({"region": "SG"}, "validation-error", "query.region"),
    ({"category": "weather"}, "validation-error", "query.category"),
    ({"by": "colour"}, "validation-error", "query.by"),
]


async def test_bad_filters_are_problems(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, _ = seeded_client
    for params, kind, field in BAD_FILTERS:
        for path in ("summary", "breakdown", "breakdown.csv", "handlers"):
            if "by" in params and path in ("summary", "handlers"):
                continue  # they take no "by"
            query = {"by": "week", **params}
            response = await client.get(f"{REPORTS}/{path}", params=query, headers=supervisor())
            assert response.status_code == 422, (path, params, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["type"] == f"urn:careloop:problem:{kind}", (path, params)
            fields = [e["field"] for e in problem.get("errors", [])] or [problem["field"]]
            assert field in fields, (path, params)


async def test_reports_need_complaints_read(seeded_client: tuple[httpx.AsyncClient, Seeded]) -> None:
    client, _ = seeded_client
    assert (await client.get(f"{REPORTS}/summary")).status_code == 401
    coverage_only = await client.get(f"{REPORTS}/handlers", headers=auth_headers("coverage:read"))
    assert coverage_only.status_code == 403
    reader = await client.get(
        f"{REPORTS}/breakdown.csv", params={"by": "area"}, headers=auth_headers("complaints:read")
    )
    assert reader.status_code == 200


def test_filter_values_are_the_ones_the_service_stores() -> None:
    assert get_args(CategoryName) == tuple(c.value for c in Category)
    assert set(get_args(RegionName)) == {*REGIONS_BY_CODE.values(), "HK"}


def test_the_openapi_spells_query_values_inline(sqlite_url: str) -> None:
    """The schemathesis contract test breaks on an enum $ref in a parameter."""
    app = create_app(service_settings(ComplaintsSettings, sqlite_url, "nats://127.0.0.1:1"))
    paths = app.openapi()["paths"]
    operations = [
        paths[f"{REPORTS}/{p}"]["get"] for p in ("summary", "breakdown", "breakdown.csv", "handlers")
    ]
    for operation in operations:
        assert operation["x-careloop-scopes"] == ["complaints:read"]
        for parameter in operation["parameters"]:
            assert "$ref" not in str(parameter["schema"]), parameter
    csv_answer = paths[f"{REPORTS}/breakdown.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv_answer) == ["text/csv"]


# --- through the gateway, as a supervisor and as a partner -------------------------------------------

ADMIN_KEY = "test-admin-key-with-enough-entropy-0001"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def gateway(
    database_url: str, sqlite_url: str, nats_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Seeded]]:
    """Run complaints (seeded, on the parametrized backend) and the gateway in front, on sockets."""
    complaints = create_app(service_settings(ComplaintsSettings, database_url, nats_url))
    seeded = seed_data()
    down = f"http://127.0.0.1:{free_port()}"
    async with LiveServer(complaints) as c:
        await store(complaints, seeded)
        settings = service_settings(
            GatewaySettings,
            sqlite_url.replace("test.db", "gateway.db"),
            nats_url,
            admin_api_key=ADMIN_KEY,
            complaints_url=c.url,
            coverage_map_url=down,
            campaigns_url=down,
            contact_gateway_url=down,
            web_url=down,
        )
        async with (
            LiveServer(gateway_app(settings)) as g,
            httpx.AsyncClient(base_url=g.url, timeout=30) as client,
        ):
            yield client, seeded


async def bearer_of_new_supervisor(client: httpx.AsyncClient) -> dict[str, str]:
    user = {"username": "mei.chan", "display_name": "Mei Chan", "roles": ["supervisor"]}
    created = await client.post(
        "/gateway/v1/users", json={**user, "password": "correct horse battery"}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    login = await client.post(
        "/gateway/v1/login", json={"username": "mei.chan", "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_a_supervisor_reads_reports_through_the_gateway(
    gateway: tuple[httpx.AsyncClient, Seeded],
) -> None:
    client, seeded = gateway
    bearer = await bearer_of_new_supervisor(client)
    summary = await client.get(f"{REPORTS}/summary", params={"region": "CN"}, headers=bearer)
    assert summary.status_code == 200, summary.text
    chinese = [r for r in seeded.complaints if r.region == "CN"]
    assert summary.json()["complaints"] == len(chinese)
    assert summary.json()["time_to_close"] == expected_figures(chinese)["time_to_close"]
    export = await client.get(f"{REPORTS}/breakdown.csv", params={"by": "channel"}, headers=bearer)
    assert export.status_code == 200, export.text
    assert export.headers["content-disposition"] == 'attachment; filename="complaints-by-channel.csv"'
    counts = {row["channel"]: int(row["complaints"]) for row in csv.DictReader(io.StringIO(export.text))}
    assert counts == {g["key"]: g["complaints"] for g in expected_breakdown(seeded.complaints, "channel")}


async def test_a_partner_key_reports_on_its_own_complaints_through_the_gateway(
    gateway: tuple[httpx.AsyncClient, Seeded],
) -> None:
    client, _ = gateway
    created = await client.post(
        "/gateway/v1/api-keys",
        json={"name": "acme", "partner_id": "partner-a", "scopes": ["complaints:read"]},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['token']}"}
    handlers = await client.get(f"{REPORTS}/handlers", headers=key)
    assert handlers.status_code == 200, handlers.text
    assert [(h["owner"], h["complaints"], h["closed"]) for h in handlers.json()["items"]] == [("key-a", 1, 1)]
    assert handlers.json()["items"][0]["time_to_close"]["p50_hours"] == 3.0
