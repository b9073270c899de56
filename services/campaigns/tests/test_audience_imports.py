"""Bulk import of the audience: CSV and Parquet, good rows in, bad rows in the report, a re-import
updates, bad files refused; the same import as a background job through the API and the CLI; and
one subscriber's profile, masked.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from campaign_data import Campaigns, held, reading, writing
from typer.testing import CliRunner

from campaigns import demo, imports
from campaigns.cli import app as campaigns_cli
from campaigns.main import create_app
from campaigns.settings import CampaignsSettings
from careloop_common.errors import ProblemError
from careloop_common.testing import running_app, service_settings, wait_until

KEY = "test-customer-key"
GOOD = "+85291234567"


def write_rows(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    """Write a CSV file with a header row."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


HEADER = ["msisdn", "brand", "plan_id", "region", "join_date", "birthday", "balance", "daily_spend", "sms_m1"]
ROWS: list[list[Any]] = [
    [GOOD, "harbour", "BASIC", "HK", "2024-05-01", "1990-07-14", "12.5", "1;2;3;6", "40"],
    ["+8613812345678", "bauhinia", "PLUS", "CN-GD", "2023-01-01", "", "0", "", "0"],
    ["+85212", "harbour", "BASIC", "HK", "2024-05-01", "", "1", "", "0"],  # not a number
    ["+85261234567", "harbour", "BASIC", "HK", "2024-13-01", "", "lots", "", "-1"],  # three bad values
    ["+85251234567", "", "BASIC", "HK", "2024-05-01", "", "1", "1;2;3;4;5;6;7;8", "0"],  # two bad values
    ["only", "two"],  # not a row
]


async def run(campaigns: Campaigns, path: Path, **options: Any) -> imports.ImportReport:
    """Import a file into the test's database."""
    source = imports.open_subscriber_file(path)
    try:
        return await imports.import_subscribers(campaigns.sessions, source, customer_key=KEY, **options)
    finally:
        source.close()


async def test_good_rows_are_imported_and_bad_ones_reported(campaigns: Campaigns, tmp_path: Path) -> None:
    report = await run(campaigns, write_rows(tmp_path / "a.csv", HEADER, ROWS))

    assert (report.format, report.rows_read, report.rows_imported, report.rows_rejected) == ("csv", 6, 2, 4)
    assert [error.as_dict() for error in report.errors] == [
        {"row": 3, "field": "msisdn", "reason": "not a valid phone number"},
        {"row": 4, "field": "join_date", "reason": "no such day: 2024-13-01"},
        {"row": 4, "field": "balance", "reason": "not a number: 'lots'"},
        {"row": 4, "field": "sms_m1", "reason": "-1 is outside 0..2147483647"},
        {"row": 5, "field": "brand", "reason": "missing"},
        {"row": 5, "field": "daily_spend", "reason": "more than 7 days"},
        {"row": 6, "field": "", "reason": "expected 9 fields, found 2"},
    ]
    assert report.models_scored == 2
    first = await held(campaigns.sessions, GOOD)
    assert first is not None
    assert (first.brand, first.plan_id, first.region, first.time_zone, first.language) == (
        "harbour",
        "BASIC",
        "HK",
        "Asia/Hong_Kong",  # from the region: the file has no time_zone
        "zh-Hant",
    )
    assert (first.birthday, first.balance, first.sms_m1) == (date(1990, 7, 14), 12.5, 40)
    assert (first.daily_spend, first.avg_daily_spend_3d) == ([1.0, 2.0, 3.0, 6.0], round(11 / 3, 2))
    assert first.models_at is not None
    mainland = await held(campaigns.sessions, "+8613812345678")
    assert mainland is not None
    assert (mainland.time_zone, mainland.birthday, mainland.spend_through) == ("Asia/Shanghai", None, None)


async def test_a_reimport_updates_the_columns_it_has_and_keeps_the_others(
    campaigns: Campaigns, tmp_path: Path
) -> None:
    await run(campaigns, write_rows(tmp_path / "a.csv", HEADER, ROWS[:1]))
    second = write_rows(
        tmp_path / "b.csv",
        ["msisdn", "brand", "plan_id", "region", "join_date", "language", "revenue_m1"],
        [
            [GOOD, "harbour", "PLUS", "HK", "2024-05-01", "en", "88"],
            [GOOD, "harbour", "DATA", "HK", "2024-05-01", "en", "99"],
        ],
    )

    report = await run(campaigns, second, recompute=False)

    assert (report.rows_read, report.rows_imported, report.rows_rejected) == (2, 2, 0)
    again = await held(campaigns.sessions, GOOD)
    assert again is not None
    assert (again.plan_id, again.language, again.revenue_m1) == ("DATA", "en", 99.0)  # the later row wins
    assert (again.balance, again.sms_m1, again.birthday) == (12.5, 40, date(1990, 7, 14))  # not in the file


async def test_parquet_imports_the_same_subscribers_as_csv(campaigns: Campaigns, tmp_path: Path) -> None:
    parquet, comma = tmp_path / "a.parquet", tmp_path / "a.csv"
    demo.write_parquet(parquet, demo.audience_rows(300, seed=7))
    demo.write_csv(comma, demo.audience_rows(300, seed=7))

    from_parquet = await run(campaigns, parquet, chunk_rows=128)
    by_parquet = {n: await held(campaigns.sessions, n) for n in _numbers(comma)[:25]}
    from_csv = await run(campaigns, comma, chunk_rows=128)

    assert (from_parquet.format, from_parquet.rows_imported, from_parquet.rows_rejected) == (
        "parquet",
        300,
        0,
    )
    assert (from_csv.rows_imported, from_csv.rows_rejected) == (300, 0)
    for number, before in by_parquet.items():
        after = await held(campaigns.sessions, number)
        assert before is not None
        assert after is not None
        skip = {"updated_at", "profile_at", "plan_at", "balance_at", "models_at", "created_at"}
        assert after.model_dump(exclude=skip) == before.model_dump(exclude=skip)


def _numbers(path: Path) -> list[str]:
    with path.open(newline="") as file:
        return [row["msisdn"] for row in csv.DictReader(file)]


@pytest.mark.parametrize(
    ("content", "status", "slug"),
    [
        (b"", 422, "empty-file"),
        (b"\x00\x01\x02binary", 422, "unsupported-file-format"),
        (b"msisdn,brand\n+85291234567,x\n", 422, "bad-columns"),
        (b"msisdn,brand,plan_id,region,join_date,colour\n", 422, "bad-columns"),
        (b"PAR1 but not really", 422, "unreadable-file"),
    ],
)
def test_bad_files_are_refused_before_anything_is_written(
    tmp_path: Path, content: bytes, status: int, slug: str
) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(ProblemError) as refused:
        imports.open_subscriber_file(path).close()
    assert (refused.value.status, refused.value.slug) == (status, slug)


def test_e164_fast_path_agrees_with_the_full_parser() -> None:
    numbers = [row["msisdn"] for row in demo.audience_rows(200, seed=3)]
    numbers += ["+390612345678", "+12015550123", "+447400123456", "+8613800000000", "+85240000000"]
    for number in numbers:
        try:
            expected: str | None = imports.to_e164(number)
        except ValueError:
            expected = None
        try:
            found: str | None = imports.parse_msisdn(number)
        except imports.BadValue:
            found = None
        assert found == expected, number


# --- the API --------------------------------------------------------------------------------------


def upload(content: bytes, name: str = "audience.csv") -> dict[str, Any]:
    """Return httpx's multipart files argument for a file."""
    return {"file": (name, io.BytesIO(content), "application/octet-stream")}


async def finished(client: httpx.AsyncClient, location: str) -> dict[str, Any]:
    """Poll an import until it is no longer running."""

    async def done() -> dict[str, Any] | None:
        job: dict[str, Any] = (await client.get(location, headers=reading())).json()
        return job if job["status"] != "running" else None

    result: dict[str, Any] = await wait_until(done, message="the import to finish")
    return result


async def test_an_uploaded_file_is_imported_in_the_background(campaigns: Campaigns, tmp_path: Path) -> None:
    content = write_rows(tmp_path / "a.csv", HEADER, ROWS).read_bytes()

    accepted = await campaigns.client.post("/campaigns/v1/imports", files=upload(content), headers=writing())

    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "running"
    assert accepted.json()["filename"] == "audience.csv"
    job = await finished(campaigns.client, accepted.headers["location"])
    assert {k: job[k] for k in ("status", "format", "rows_read", "rows_imported", "rows_rejected")} == {
        "status": "done",
        "format": "csv",
        "rows_read": 6,
        "rows_imported": 2,
        "rows_rejected": 4,
    }
    assert (job["progress"], job["bytes_total"], job["models_scored"]) == (1.0, len(content), 2)
    assert job["errors"][0] == {"row": 3, "field": "msisdn", "reason": "not a valid phone number"}
    assert job["created_by"] == "marketer"
    profile = await campaigns.client.get(f"/campaigns/v1/subscribers/{GOOD}", headers=reading())
    assert profile.json()["plan_id"] == "BASIC"


async def test_a_parquet_upload_is_imported(campaigns: Campaigns, tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    demo.write_parquet(path, demo.audience_rows(50))

    accepted = await campaigns.client.post(
        "/campaigns/v1/imports", files=upload(path.read_bytes(), "a.parquet"), headers=writing()
    )

    assert accepted.status_code == 202, accepted.text
    job = await finished(campaigns.client, accepted.headers["location"])
    assert (job["status"], job["format"], job["rows_total"], job["rows_imported"]) == (
        "done",
        "parquet",
        50,
        50,
    )


@pytest.mark.parametrize(
    ("request_kwargs", "status", "slug"),
    [
        ({"content": b"msisdn\n", "headers": {"content-type": "text/csv"}}, 415, "unsupported-media-type"),
        ({"files": upload(b"\x00\x00\x00")}, 422, "unsupported-file-format"),
        ({"files": upload(b"name,colour\nx,y\n")}, 422, "bad-columns"),
        ({"files": {"other": ("a.csv", io.BytesIO(b"x"), "text/csv")}}, 422, "missing-file"),
        ({"data": {"file": "not a file"}, "files": {"x": ("x", b"", "text/plain")}}, 422, "missing-file"),
    ],
)
async def test_bad_uploads_are_problems(
    campaigns: Campaigns, request_kwargs: dict[str, Any], status: int, slug: str
) -> None:
    kwargs = dict(request_kwargs)
    headers = {**writing(), **kwargs.pop("headers", {})}
    response = await campaigns.client.post("/campaigns/v1/imports", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:careloop:problem:{slug}"


async def test_a_file_over_the_limit_is_refused(database_url: str, nats_url: str) -> None:
    settings = service_settings(
        CampaignsSettings, database_url, nats_url, run_background=False, import_max_bytes=1_000
    )
    async with running_app(create_app(settings)) as client:

        async def chunked() -> Any:  # no Content-Length, as the gateway forwards bodies
            boundary = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
            yield boundary
            for _ in range(10):
                yield b"x" * 500
            yield b"\r\n--b--\r\n"

        response = await client.post(
            "/campaigns/v1/imports",
            content=chunked(),
            headers={**writing(), "content-type": "multipart/form-data; boundary=b"},
        )
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "urn:careloop:problem:payload-too-large"


async def test_an_unknown_import_is_not_found(campaigns: Campaigns) -> None:
    response = await campaigns.client.get("/campaigns/v1/imports/nope", headers=reading())
    assert response.status_code == 404


# --- one subscriber's profile ---------------------------------------------------------------------


async def test_a_profile_is_shown_masked(campaigns: Campaigns, tmp_path: Path) -> None:
    await run(campaigns, write_rows(tmp_path / "a.csv", HEADER, ROWS[:1]))

    response = await campaigns.client.get(f"/campaigns/v1/subscribers/{GOOD}", headers=reading())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["birthday"] == "--07-14"  # no year
    assert body["whereabouts"] == {
        "district": None,
        "roaming": False,
        "roaming_country": None,
        "located_at": None,
    }
    assert [day["spend"] for day in body["daily_spend"]] == [1.0, 2.0, 3.0, 6.0]
    assert body["usage"]["sms"] == 40
    assert body["models"]["lifecycle_stage"] is not None
    missing = await campaigns.client.get("/campaigns/v1/subscribers/+85261234567", headers=reading())
    assert missing.status_code == 404
    nobody = await campaigns.client.get(f"/campaigns/v1/subscribers/{GOOD}")
    assert nobody.status_code == 401


# --- the CLI --------------------------------------------------------------------------------------


def test_the_cli_imports_a_file_and_writes_every_refusal_to_its_report(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "a.csv", HEADER, ROWS)
    database = f"sqlite+aiosqlite:///{tmp_path / 'campaigns.db'}"

    result = CliRunner().invoke(
        campaigns_cli,
        ["import", str(path), "--database-url", database, "--home", str(tmp_path), "--show", "2"],
    )

    assert result.exit_code == 0, result.output
    assert "6 rows read, 2 imported, 4 rejected" in result.output
    with (tmp_path / "a.csv.report.csv").open(newline="") as report:
        rows = list(csv.DictReader(report))
    assert len(rows) == 7
    assert rows[0] == {"row": "3", "field": "msisdn", "reason": "not a valid phone number"}
    refused = CliRunner().invoke(campaigns_cli, ["import", str(write_rows(tmp_path / "b.csv", ["x"], []))])
    assert refused.exit_code == 2
    assert "bad-columns" in refused.output or "columns are wrong" in refused.output


def test_demo_rows_are_the_same_for_the_same_seed() -> None:
    first = list(demo.audience_rows(100))
    assert first == list(demo.audience_rows(100))
    assert first != list(demo.audience_rows(100, seed=1))
    assert len({row["msisdn"] for row in first}) == 100
    assert {row["msisdn"][:4] for row in first} == {"+852", "+861"}
    assert datetime.fromisoformat(first[0]["last_payment_at"]).tzinfo is not None
    assert datetime(2026, 12, 1, tzinfo=UTC) > datetime.fromisoformat(first[0]["last_payment_at"])
