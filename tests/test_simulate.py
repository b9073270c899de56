"""The operator simulator: the same seed gives the same bytes, the distributions are what the docs
say, its files import through the real campaigns import, and its feed events reach a real NATS as
valid events. No timing is asserted.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import httpx
import nats
import pytest
from typer.testing import CliRunner

from campaigns import imports
from campaigns.cli import app as campaigns_cli
from careloop_common.events.envelope import CloudEvent, decode_payload
from careloop_common.events.feeds import CallDetailV1, LocationUpdatedV1
from careloop_common.launcher.cli import app as careloop_cli
from careloop_common.natsserver import free_port
from careloop_common.simulate import population, send, streams
from careloop_common.testing import LiveServer, service_settings
from complaints.main import create_app as complaints_app
from complaints.settings import ComplaintsSettings
from gateway.main import create_app as gateway_app
from gateway.settings import GatewaySettings

runner = CliRunner()


def simulate(*args: str) -> str:
    """Run ``careloop simulate …`` and return its output, failing on a non-zero exit."""
    result = runner.invoke(careloop_cli, ["simulate", *args])
    assert result.exit_code == 0, result.output
    return result.output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for run in ("a", "b", "c"):
        seed = "7" if run != "c" else "8"
        simulate(
            "subscribers",
            str(tmp_path / f"{run}.csv"),
            "--rows",
            "300",
            "--seed",
            seed,
            "--contacts",
            str(tmp_path / f"{run}-contacts.csv"),
        )
        simulate(
            "feeds",
            "--to",
            "file",
            "--out",
            str(tmp_path / f"{run}.jsonl"),
            "--count",
            "400",
            "--subscribers",
            "300",
            "--seed",
            seed,
        )
        simulate(
            "complaints",
            "--to",
            "file",
            "--out",
            str(tmp_path / f"{run}-c.jsonl"),
            "--count",
            "50",
            "--subscribers",
            "300",
            "--seed",
            seed,
        )
    for name in ("{}.csv", "{}-contacts.csv", "{}.jsonl", "{}-c.jsonl"):
        a, b, c = (digest(tmp_path / name.format(run)) for run in "abc")
        assert a == b, name
        assert a != c, name


def test_the_layout_is_the_campaigns_import_layout() -> None:
    assert tuple(column.name for column in imports.COLUMNS) == population.IMPORT_LAYOUT
    assert population.LIST_SEPARATOR == imports.LIST_SEPARATOR


def test_the_population_is_mostly_hong_kong_with_fujian_first_on_the_mainland() -> None:
    rows = list(population.audience_rows(4_000, seed=11, mainland_share=0.25))
    regions = Counter(row["region"] for row in rows)
    assert 0.70 < regions["HK"] / len(rows) < 0.80  # 75% Hong Kong
    assert regions["CN-FJ"] > regions["CN-GD"] > regions["CN-SH"] > 0
    assert len({row["msisdn"] for row in rows}) == len(rows)
    for row in rows:
        mainland = row["region"] != "HK"
        assert row["msisdn"].startswith("+86" if mainland else "+852")
        assert row["time_zone"] == ("Asia/Shanghai" if mainland else "Asia/Hong_Kong")
        assert row["plan_id"] in population.PLANS
        assert row["join_date"] < population.DEMO_BILL_MONTH.isoformat()
        assert row["birthday"] == "" or row["birthday"] < row["join_date"]  # adults when they joined
        assert int(row["prefix_calls_m1"]) <= int(row["long_distance_calls_m1"])
        assert float(row["long_distance_minutes_m1"]) <= float(row["minutes_m1"])
    prepaid = [row for row in rows if row["plan_id"] == "PREPAID"]
    assert {row["brand"] for row in prepaid} <= {"harbour_go", "bauhinia"}
    assert 0.1 < len(prepaid) / len(rows) < 0.25  # 18% of Hong Kong's mix, less on the mainland


def test_homes_lie_in_the_subscribers_region_and_contacts_stay_mostly_on_their_side() -> None:
    people = population.population(2_000, seed=5, mainland_share=0.3)
    for person in people:
        assert person.home.region == person.region
        assert streams.distance_km(person.lat, person.lng, person.home.lat, person.home.lng) < 60
    graph = population.contact_graph(people, 5)
    edges = [(i, j) for i, contacts in enumerate(graph) for j, _ in contacts]
    assert all(i != j for i, j in edges)
    assert 2 < len(edges) / len(people) < 6  # about four contacts each
    same_side = sum((people[i].region == "HK") == (people[j].region == "HK") for i, j in edges)
    assert same_side / len(edges) > 0.7


def test_feed_events_are_valid_and_include_roaming_long_distance_and_the_prefix() -> None:
    people = population.population(500, seed=3, mainland_share=0.3)
    stream = streams.FeedStream(people, seed=3, rate=50)
    events = [stream.next_event() for _ in range(3_000)]
    payloads = [decode_payload(CloudEvent.from_json(event.to_json())) for event in events]
    kinds = Counter(type(p).__name__ for p in payloads)
    assert len(kinds) == len(streams.FEED_MIX)  # every kind occurs
    assert kinds["CallDetailV1"] > kinds["PlanChangedV1"]
    calls = [p for p in payloads if isinstance(p, CallDetailV1)]
    assert any(c.long_distance for c in calls)
    assert any(not c.long_distance for c in calls)
    assert any(c.prefix == streams.PREFIX and c.called.startswith(streams.PREFIX) for c in calls)
    moves = [p for p in payloads if isinstance(p, LocationUpdatedV1)]
    assert any(m.roaming and m.country for m in moves)
    # Event i happens at start + i / rate on the stream's own clock.
    assert (events[50].time - events[0].time).total_seconds() == pytest.approx(1.0)
    assert len({event.id for event in events}) == len(events)


def test_coverage_complaints_gather_around_the_weak_spots() -> None:
    people = population.population(1_000, seed=9, mainland_share=0.3)
    stream = streams.ComplaintStream(people, seed=9)
    filed = [stream.next_complaint() for _ in range(1_000)]
    coverage = [c for c in filed if c["category"] == "coverage"]
    assert 0.65 < len(coverage) / len(filed) < 0.85
    near_a_spot = [
        c
        for c in coverage
        if min(streams.distance_km(c["lat"], c["lng"], s.lat, s.lng) for s in streams.WEAK_SPOTS) < 1.5
    ]
    assert len(near_a_spot) / len(coverage) > 0.7
    numbers = {p.msisdn for p in people}
    assert all(c["msisdn"] in numbers for c in filed)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_files_import_through_the_campaigns_import(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"audience{suffix}"
    simulate("subscribers", str(path), "--rows", "400", "--seed", "21", "--mainland-share", "0.3")
    database = f"sqlite+aiosqlite:///{tmp_path / 'campaigns.db'}"

    result = runner.invoke(
        campaigns_cli,
        ["import", str(path), "--database-url", database, "--home", str(tmp_path), "--no-recompute"],
    )

    assert result.exit_code == 0, result.output
    assert "400 rows read, 400 imported, 0 rejected" in result.output


def test_campaigns_generate_writes_what_the_simulator_writes(tmp_path: Path) -> None:
    result = runner.invoke(
        campaigns_cli, ["generate", str(tmp_path / "a.csv"), "--rows", "100", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    simulate("subscribers", str(tmp_path / "b.csv"), "--rows", "100", "--seed", "4")
    assert digest(tmp_path / "a.csv") == digest(tmp_path / "b.csv")


def test_the_plan_catalogue_file_is_the_demo_catalogue(tmp_path: Path) -> None:
    simulate("plans", str(tmp_path / "plans.json"))
    catalogue = json.loads((tmp_path / "plans.json").read_text())
    assert catalogue == population.DEMO_PLANS
    assert any(not terms["active"] for terms in catalogue.values())  # one retired plan


async def read_feeds(nats_url: str, count: int) -> list[CloudEvent]:
    """Read ``count`` events from the FEEDS stream, oldest first, each on its own subject."""
    connection = await nats.connect(nats_url)
    try:
        subscription = await connection.jetstream().pull_subscribe("feeds.>", durable=None, stream="FEEDS")
        received: list[CloudEvent] = []
        while len(received) < count:
            for message in await subscription.fetch(min(100, count - len(received)), timeout=5):
                received.append(CloudEvent.from_json(message.data))
                assert message.subject == received[-1].nats_subject()
                await message.ack()
        return received
    finally:
        await connection.close()


async def test_feeds_posted_to_the_gateway_are_stored_once_on_feeds(sqlite_url: str, nats_url: str) -> None:
    admin_key = "test-admin-key-with-enough-entropy-0001"
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = service_settings(
        GatewaySettings,
        sqlite_url,
        nats_url,
        admin_api_key=admin_key,
        complaints_url=nowhere,
        coverage_map_url=nowhere,
        campaigns_url=nowhere,
        contact_gateway_url=nowhere,
        web_url=nowhere,
    )
    people = population.population(100, seed=17)
    async with LiveServer(gateway_app(settings)) as gateway:
        async with httpx.AsyncClient(base_url=gateway.url) as client:
            made = await client.post(
                "/gateway/v1/api-keys",
                headers={"Authorization": f"Bearer {admin_key}"},
                json={"name": "bss", "scopes": ["feeds:write"]},
            )
        assert made.status_code == 201, made.text
        key = made.json()["token"]
        for _ in range(2):  # the second run sends the same events: stored once
            sent = await send.to_feeds_api(
                gateway.url,
                key,
                streams.FeedStream(people, seed=17, rate=1_000),
                rate=10_000,
                count=700,
                duration_s=60,
            )
            assert (sent.sent, sent.failed) == (700, 0)
    received = await read_feeds(nats_url, 700)
    model = streams.FeedStream(people, seed=17, rate=1_000)
    assert [event.id for event in received] == [model.next_event().id for _ in range(700)]
    connection = await nats.connect(nats_url)
    try:
        info = await connection.jetstream().stream_info("FEEDS")
    finally:
        await connection.close()
    assert info.state.messages == 700


async def test_complaints_filed_through_the_gateway_are_filed_once(sqlite_url: str, nats_url: str) -> None:
    admin_key = "test-admin-key-with-enough-entropy-0002"
    nowhere = f"http://127.0.0.1:{free_port()}"
    complaints_db = sqlite_url.replace("test.db", "complaints.db")
    people = population.population(100, seed=19)
    complaints = complaints_app(
        service_settings(ComplaintsSettings, complaints_db, nats_url, coverage_url=nowhere)
    )
    async with LiveServer(complaints) as filed_at:
        settings = service_settings(
            GatewaySettings,
            sqlite_url,
            nats_url,
            admin_api_key=admin_key,
            complaints_url=filed_at.url,
            coverage_map_url=nowhere,
            campaigns_url=nowhere,
            contact_gateway_url=nowhere,
            web_url=nowhere,
        )
        async with LiveServer(gateway_app(settings)) as gateway:
            for _ in range(2):  # the same seed again: every Idempotency-Key repeats, nothing is filed twice
                sent = await send.to_complaints_api(
                    gateway.url,
                    admin_key,
                    streams.ComplaintStream(people, seed=19),
                    rate=1_000,
                    count=25,
                    duration_s=60,
                    key_prefix="simulate-19",
                )
                assert (sent.sent, sent.failed) == (25, 0), sent.problems
            async with httpx.AsyncClient(base_url=gateway.url) as client:
                page = await client.get(
                    "/complaints/v1/complaints",
                    params={"limit": 100},
                    headers={"Authorization": f"Bearer {admin_key}"},
                )
    assert page.status_code == 200, page.text
    assert page.json()["total"] == 25
    model = streams.ComplaintStream(people, seed=19)
    assert {c["msisdn"] for c in page.json()["items"]} == {
        model.next_complaint()["msisdn"] for _ in range(25)
    }


async def test_feeds_published_to_nats_arrive_on_the_feeds_stream_as_valid_events(nats_url: str) -> None:
    people = population.population(200, seed=13)
    model = streams.FeedStream(people, seed=13, rate=1_000)
    expected = [model.next_event() for _ in range(300)]

    sent = await send.to_nats(
        nats_url, streams.FeedStream(people, seed=13, rate=1_000), rate=5_000, count=300, duration_s=60
    )

    assert (sent.sent, sent.failed) == (300, 0)
    received = await read_feeds(nats_url, 300)
    assert [event.id for event in received] == [event.id for event in expected]
    for event in received:
        decode_payload(event)  # raises if the payload does not match its contract


def test_live_targets_must_be_on_this_machine() -> None:
    assert send.require_local("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert send.require_local("http://localhost:8080")
    assert send.require_local("http://[::1]:8080")
    for far in (
        "http://10.0.0.5:8080",
        "nats://example.org:4222",
        "nats://127.0.0.1:4222,nats://10.1.1.1:4222",
    ):
        with pytest.raises(send.NotLocal):
            send.require_local(far)
    refused = runner.invoke(
        careloop_cli,
        ["simulate", "feeds", "--to", "nats", "--nats-url", "nats://192.168.1.9:4222", "--count", "1"],
    )
    assert refused.exit_code == 2
    assert "not on this machine" in refused.output


async def test_pacing_stops_at_the_count_and_at_the_time_limit() -> None:
    batches = [
        batch async for batch in send.paced(range(10_000), rate=100_000, count=250, duration_s=30, batch=100)
    ]
    assert [len(b) for b in batches][-1] <= 100
    assert sum(len(b) for b in batches) == 250
    slow = [batch async for batch in send.paced(iter(int, 1), rate=20, count=10_000, duration_s=0.3, batch=5)]
    assert 0 < sum(len(b) for b in slow) <= 10  # 20 a second for 0.3 s: never the whole count
