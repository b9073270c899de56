"""Settings precedence, problem documents, health and metrics on a real service skeleton."""

from __future__ import annotations

import gc
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from careloop_common import app as platform_app
from careloop_common.launcher.cli import app as cli
from careloop_common.testing import running_app, service_settings
from complaints.main import create_app
from complaints.settings import ComplaintsSettings


def test_service_prefix_beats_platform_prefix_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARELOOP_NATS_URL", "nats://platform:4222")
    monkeypatch.setenv("CARELOOP_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("COMPLAINTS_LOG_LEVEL", "WARNING")
    settings = ComplaintsSettings()
    assert settings.nats_url == "nats://platform:4222"
    assert settings.log_level == "WARNING"
    assert settings.port == 8101


def test_default_database_lives_under_careloop_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARELOOP_HOME", str(tmp_path))
    monkeypatch.delenv("COMPLAINTS_DATABASE_URL", raising=False)
    monkeypatch.delenv("CARELOOP_DATABASE_URL", raising=False)
    assert ComplaintsSettings().database_url == f"sqlite+aiosqlite:///{tmp_path / 'complaints.db'}"


@pytest.fixture
async def client(database_url: str, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = service_settings(ComplaintsSettings, database_url, nats_url)
    async with running_app(create_app(settings)) as c:
        yield c


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/no/such/thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {
        "type": "urn:careloop:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/no/such/thing",
    }
    wrong = await client.delete("/complaints/v1/complaints")
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "urn:careloop:problem:method-not-allowed"
    # Allow names every method of the resource, not just those of the first route on the path.
    assert wrong.headers["allow"] == "GET, POST"


async def test_malformed_json_is_a_problem_not_a_500(client: httpx.AsyncClient) -> None:
    from careloop_common.testing import auth_headers

    response = await client.post(
        "/complaints/v1/complaints",
        content=b'{"category": ',
        headers={**auth_headers("complaints:write"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["type"] == "urn:careloop:problem:validation-error"


async def test_health_readiness_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "nats": True}
    await client.get("/complaints/v1/complaints")
    metrics = (await client.get("/metrics")).text
    assert 'careloop_http_requests_total{method="GET",route="/complaints/v1/complaints"' in metrics
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert "/complaints/v1/complaints" in spec["paths"]
    # Problems are documented as what they are sent as, with their schema.
    for status in ("400", "401", "403", "404", "409", "422"):
        problem = spec["paths"]["/complaints/v1/complaints"]["post"]["responses"][status]["content"]
        assert problem == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    not_ready = spec["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert set(not_ready) == {"application/problem+json"}


async def test_not_ready_while_nats_is_down(database_url: str, tmp_path: Path) -> None:
    from careloop_common.natsserver import free_port

    settings = service_settings(ComplaintsSettings, database_url, f"nats://127.0.0.1:{free_port()}")
    async with running_app(create_app(settings)) as c:
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": True, "nats": False}
        assert (await c.get("/healthz")).status_code == 200


def test_db_upgrade_migrates_every_service(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for service in ("complaints", "coverage-map", "campaigns", "contact-gateway", "gateway"):
        assert (tmp_path / f"{service}.db").exists()
        assert f"✓ {service}" in result.output
    again = CliRunner().invoke(cli, ["db", "upgrade", "--home", str(tmp_path), "--service", "complaints"])
    assert again.exit_code == 0, again.output


COMPLAINT = {
    "category": "coverage",
    "channel": "call_centre",
    "msisdn": "+85291230077",
    "lat": 22.3817,
    "lng": 114.1880,
    "network": "4G",
    "symptoms": ["weak_signal"],
}


def chattr(flag: str, files: list[Path]) -> bool:
    """Set or clear the immutable flag (root ignores file modes, not this); False where it cannot."""
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, *map(str, files)], capture_output=True).returncode == 0


async def test_a_database_that_cannot_be_written_is_a_503_problem_and_stays_whole(
    sqlite_url: str, nats_url: str
) -> None:
    from careloop_common.testing import auth_headers

    database = Path(sqlite_url.split("///", 1)[1])
    settings = service_settings(ComplaintsSettings, sqlite_url, nats_url)
    writer = auth_headers("complaints:write")
    async with running_app(create_app(settings)) as client:
        # A service that has been writing: the disk fails under it (as in the db-readonly drill).
        first = await client.post("/complaints/v1/complaints", json=COMPLAINT, headers=writer)
        assert first.status_code == 201, first.text
        # Not the -shm file: SQLite maps it, and an unwritable mapped page is a SIGBUS, not a disk error.
        files = [p for p in database.parent.glob(database.name + "*") if not p.name.endswith("-shm")]
        if not chattr("+i", files):
            pytest.skip("cannot make the database immutable here (needs root and chattr)")
        try:
            refused = await client.post("/complaints/v1/complaints", json=COMPLAINT, headers=writer)
        finally:
            chattr("-i", files)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:careloop:problem:database-unavailable"
        assert refused.headers["retry-after"] == "5"
        filed = await client.post("/complaints/v1/complaints", json=COMPLAINT, headers=writer)
        assert filed.status_code == 201, filed.text
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM complaint").fetchone() == (2,)
    finally:
        connection.close()


def test_startup_objects_are_frozen_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform_app, "_frozen", False)
    gc.unfreeze()
    platform_app.freeze_startup_objects()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    kept_alive = [[n] for n in range(1000)]  # made after startup: a second service start must not freeze it
    platform_app.freeze_startup_objects()
    assert gc.get_freeze_count() == frozen
    assert len(kept_alive) == 1000
