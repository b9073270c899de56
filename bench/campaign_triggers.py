"""Real-time triggers: operator feed events evaluated by the campaigns service, beside a bare
consumer loop over the same events on the same NATS.

    uv run python bench/campaign_triggers.py                          # 100,000 subscribers, 20,000 events
    uv run python bench/campaign_triggers.py --subscribers 1000000 --events 50000
    uv run python bench/campaign_triggers.py --json bench/results/triggers.json

A seeded population (``careloop simulate``'s) is imported into a fresh campaigns database (SQLite in a
temporary directory), with the seeds' real-time campaigns running: the 12593 long-distance care,
the roaming care, the dynamic balance reminder and the payment thank-you. The campaigns service runs
as its own process (uvicorn, one worker) on a bundled nats-server. Then:

  throughput  ``--events`` feed events from the simulator's stream (balance changes, bills,
              payments, locations with roaming, call details with long distance) are published
              as fast as JetStream takes them; the clock stops when the ``campaigns-audience``
              consumer has acknowledged them all (every event applied to its subscriber and every
              trigger evaluated, in one transaction each).
  bare        the floor: a plain durable pull consumer in this process that reads the same events
              from the same stream, decodes each and acknowledges it, in batches of the same size.
  latency     ``--paced`` events at ``--rate`` a second (below what the service sustains), each
              timed from its publish to the ``contact.cmd.send`` command it causes (the outbox
              relays it); nearest-rank p50/p90/p99 over every command.

Reports events/s of both loops and their ratio, the latency percentiles, and commands sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import nats
import psutil
import typer
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from rich.console import Console
from rich.table import Table

from campaigns import catalogue
from campaigns.models import Campaign
from careloop_common.db import create_engine, create_session_factory, transaction
from careloop_common.natsserver import NatsServer, free_port
from careloop_common.simulate.population import audience_rows, population, write_csv
from careloop_common.simulate.streams import FeedStream

app = typer.Typer(add_completion=False)
SEED = 7
REAL_TIME = ("prefix_long_distance", "prefix_roaming", "balance_reminder", "payment_received")
BATCH = 256  # the campaigns-audience consumer's fetch size


def nearest_rank(samples: list[float], q: float) -> float:
    """Return the nearest-rank q-th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))]


def load_population(directory: Path, subscribers: int, database_url: str) -> None:
    """Write the seeded population as an import file and import it the way operators do (the
    import migrates the database first)."""
    csv_path = directory / "subscribers.csv"
    write_csv(csv_path, audience_rows(subscribers, seed=SEED))
    careloop = Path(sys.executable).parent / "careloop"
    subprocess.run(
        [str(careloop), "campaigns", "import", str(csv_path), "--database-url", database_url],
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def add_campaigns(database_url: str) -> list[str]:
    """Store the seeds' real-time campaigns, running, from the catalogue's templates."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    ids = []
    async with transaction(create_session_factory(engine)) as session:
        for template_id in REAL_TIME:
            template = catalogue.TEMPLATES[template_id]
            campaign = Campaign(
                id=str(uuid.uuid4()),
                name=template.name,
                goal=template.goal,
                kind=template.kind,
                status="running",
                trigger_kind="event",
                trigger=template.trigger,
                audience=template.audience,
                content=template.content,
                conversion=template.conversion,
                control_share=template.control_share,
                cap_per_customer=1_000,  # every firing counts here, not the campaign's own cap
                author="bench",
                created_at=now,
                updated_at=now,
            )
            session.add(campaign)
            ids.append(campaign.id)
    await engine.dispose()
    return ids


def start_service(directory: Path, database_url: str, nats_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start the campaigns service as its own process; return it and its URL."""
    port = free_port()
    env = {
        **os.environ,
        "CAMPAIGNS_DATABASE_URL": database_url,
        "CAMPAIGNS_NATS_URL": nats_url,
        "CAMPAIGNS_SCHEDULER_INTERVAL_S": "3600",
        # BENCH_LOG_LEVEL=INFO shows the service's notes, such as a batch applied one by one.
        "CAMPAIGNS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "CARELOOP_HOME": str(directory),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "campaigns.main:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError("the campaigns service did not become ready")


def feed_events(subscribers: int, count: int) -> list[tuple[str, bytes, str]]:
    """Return (subject, body, msisdn) of ``count`` simulated feed events, encoded once up front."""
    people = population(subscribers, seed=SEED)
    stream = FeedStream(people, seed=SEED, rate=1_000.0, start=datetime.now(UTC))
    events = []
    for _ in range(count):
        event = stream.next_event()
        msisdn = str(event.data.get("msisdn", "")) if isinstance(event.data, dict) else ""
        events.append((event.nats_subject(), event.to_json(), msisdn))
    return events


async def drained(js: Any, durable: str, total: int) -> bool:
    """Say whether a consumer of FEEDS has acknowledged ``total`` messages and holds none."""
    info = await js.consumer_info("FEEDS", durable)
    return bool(info.ack_floor.stream_seq >= total and info.num_pending == 0 and info.num_ack_pending == 0)


async def measure_service(
    js: Any, events: list[tuple[str, bytes, str]], offset: int, service: psutil.Process
) -> tuple[float, float]:
    """Publish every event; return the seconds until campaigns-audience acknowledged them all and
    the CPU seconds the service process spent meanwhile (steadier than seconds on a shared machine)."""
    cpu = service.cpu_times()
    started = time.perf_counter()
    for chunk in range(0, len(events), 1_000):
        await asyncio.gather(
            *(js.publish(subject, body) for subject, body, _ in events[chunk : chunk + 1_000])
        )
    # The consumer's state lives in the server: poll it (nothing here to wait on as an event).
    while not await drained(js, "campaigns-audience", offset + len(events)):  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    spent = service.cpu_times()
    return elapsed, (spent.user + spent.system) - (cpu.user + cpu.system)


async def measure_bare(js: Any, count: int) -> float:
    """Read ``count`` events from FEEDS with a plain pull consumer: decode, acknowledge; the floor."""
    subscription = await js.pull_subscribe(
        "feeds.>",
        durable="bench-bare",
        stream="FEEDS",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT),
    )
    seen = 0
    started = time.perf_counter()
    while seen < count:
        try:
            messages = await subscription.fetch(BATCH, timeout=1)
        except TimeoutError:
            continue
        for message in messages:
            json.loads(message.data)
            await message.ack()
        seen += len(messages)
    return time.perf_counter() - started


async def measure_latency(
    connection: Any, js: Any, events: list[tuple[str, bytes, str]], rate: float
) -> tuple[list[float], int]:
    """Publish events at ``rate`` a second; return each command's delay after its event (ms)."""
    published: dict[str, list[float]] = defaultdict(list)
    delays: list[float] = []

    async def on_command(message: Any) -> None:
        arrived = time.perf_counter()
        msisdn = json.loads(message.data)["data"]["msisdn"]
        before = [t for t in published.get(msisdn, []) if t <= arrived]
        if before:
            delays.append((arrived - before[-1]) * 1_000)

    subscription = await connection.subscribe("contact.cmd.>", cb=on_command)
    started = time.perf_counter()
    for n, (subject, body, msisdn) in enumerate(events):
        pause = started + n / rate - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        published[msisdn].append(time.perf_counter())
        await js.publish(subject, body)
    await asyncio.sleep(3)  # the last events' commands
    await subscription.unsubscribe()
    return delays, len(delays)


async def bench(subscribers: int, count: int, paced: int, rate: float, directory: Path) -> dict[str, Any]:
    """Run the three measurements and return the results."""
    database_url = f"sqlite+aiosqlite:///{directory / 'campaigns.db'}"
    console = Console(stderr=True)
    await add_campaigns(database_url)
    console.print(f"encoding {count + paced:,} feed events …")
    events = feed_events(subscribers, count + paced)
    nats_server = NatsServer(directory / "nats")
    nats_server.start()
    service, _ = start_service(directory, database_url, nats_server.url)
    try:
        connection = await nats.connect(nats_server.url)
        js = connection.jetstream()
        console.print(f"throughput: {count:,} events …")
        service_s, service_cpu_s = await measure_service(js, events[:count], 0, psutil.Process(service.pid))
        console.print("bare consumer loop over the same events …")
        bare_s = await measure_bare(js, count)
        console.print(f"latency: {paced:,} events at {rate:,.0f}/s …")
        delays, commands = await measure_latency(connection, js, events[count:], rate)
        await connection.close()
    finally:
        service.terminate()
        service.wait(timeout=30)
        nats_server.stop()
    return {
        "subscribers": subscribers,
        "events": count,
        "service_s": service_s,
        "service_events_per_s": count / service_s,
        "service_cpu_s": service_cpu_s,
        "service_cpu_us_per_event": service_cpu_s / count * 1e6,
        "service_cpu_share": service_cpu_s / service_s,
        "bare_s": bare_s,
        "bare_events_per_s": count / bare_s,
        "ratio": bare_s / service_s,
        "paced_events": paced,
        "paced_rate": rate,
        "commands": commands,
        "latency_ms": {f"p{q}": nearest_rank(delays, q) for q in (50, 90, 99)} if delays else {},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


@app.command()
def main(
    subscribers: Annotated[int, typer.Option(help="subscribers in the audience")] = 100_000,
    events: Annotated[int, typer.Option(help="feed events for the throughput run")] = 20_000,
    paced: Annotated[int, typer.Option(help="feed events for the latency run")] = 3_000,
    rate: Annotated[float, typer.Option(help="events a second in the latency run")] = 500.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    keep: Annotated[bool, typer.Option(help="keep the temporary directory")] = False,
) -> None:
    """Measure feed events evaluated by real-time triggers beside a bare consumer loop."""
    directory = Path(tempfile.mkdtemp(prefix="careloop-triggers-"))
    Console(stderr=True).print(f"importing {subscribers:,} subscribers …")
    load_population(directory, subscribers, f"sqlite+aiosqlite:///{directory / 'campaigns.db'}")
    result = asyncio.run(bench(subscribers, events, paced, rate, directory))
    table = Table(title=f"real-time triggers, {subscribers:,} subscribers")
    for column in ("loop", "events/s", "ratio"):
        table.add_column(column)
    table.add_row("bare consumer", f"{result['bare_events_per_s']:,.0f}", "1.00")
    table.add_row("campaigns-audience", f"{result['service_events_per_s']:,.0f}", f"{result['ratio']:.2f}")
    console = Console()
    console.print(table)
    console.print(
        f"campaigns process CPU: {result['service_cpu_us_per_event']:,.0f} µs per event "
        f"({result['service_cpu_share']:.0%} of a core while it ran)"
    )
    latency = result["latency_ms"]
    console.print(
        f"event → contact command at {rate:,.0f}/s: {result['commands']:,} commands, "
        + ", ".join(f"{k} {v:,.1f} ms" for k, v in latency.items())
    )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
    if not keep:
        subprocess.run(["rm", "-rf", str(directory)], check=False)


if __name__ == "__main__":
    app()
