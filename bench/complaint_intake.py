"""Complaint intake through the gateway beside a bare FastAPI endpoint inserting the same row, in one run.

Starts, as child processes in a throwaway CARELOOP_HOME on free ports (uvicorn, one worker each,
the command line `careloop up` uses): nats-server, the complaints service and the gateway (as
gateway_overhead.py does), and ``bare``: this file's ``bare_app``, one FastAPI route that reads the
same JSON body and inserts one ``complaint`` row with the same columns into a database of its own
of the same kind (a SQLite file with the service's engine settings, or PostgreSQL with
``--postgres-url``). Then it files ``--count`` complaints with ``-c`` concurrent clients at each:

  bare      POST /complaints on the bare app: the floor (HTTP, JSON, one INSERT, commit)
  direct    POST /complaints/v1/complaints on complaints with the principal the gateway forwards
  gateway   the same POST through the gateway with a real API key (what a partner or desk pays)

and reports creates/s, latency percentiles, errors, each process's CPU, and gateway ÷ bare against
the issue's target of at least half. ``--profile DIR`` then runs the gateway load once more under
py-spy (not measured) and prints where complaints and the gateway spend their CPU.

    uv run python bench/complaint_intake.py --count 3000 -c 32

See bench/README.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import secrets
import signal
import sqlite3
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Annotated, Any

import aiohttp
import asyncpg
import httpx
import typer
from fastapi import FastAPI
from gateway_overhead import (
    CHILD,
    COMPLAINT,
    COMPLAINTS_PATH,
    BenchError,
    Credential,
    Server,
    _die_with_parent,
    check_quiet,
    child_env,
    children_cpu_s,
    console,
    credential,
    host_busy_s,
    machine,
    running_stack,
    scratch_home,
    start_server,
    throwaway_postgres,
    time_limit,
    wait_answers,
)
from loadgen import LoadResult, percentile
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from careloop_common.auth import PRINCIPAL_HEADER, sign_principal
from careloop_common.db import create_engine
from careloop_common.natsserver import free_port
from complaints.models import Complaint

TARGET_OF_BARE = 0.50  # the target: intake through the gateway keeps half the bare throughput
BENCH_DIR = Path(__file__).resolve().parent
BARE_PATH = "/complaints"
BARE_DATABASE_ENV = "BENCH_BARE_DATABASE_URL"
PROCESSES = ("bare", "complaints", "gateway", "generator")
GENERATOR_BOUND_PCT = 90.0
BUSY_REST_PCT = 50.0
# After a load, a server has settled when its outbox is sent and it uses under this share of a core
# (the relay's and consumers' idle polling) in two windows running.
SETTLE_WINDOW_S = 0.1
QUIET_CPU_SHARE = 0.10
SETTLE_TIMEOUT_S = 180.0
UNSENT_EVENTS = "SELECT count(*) FROM outbox_message WHERE sent_at IS NULL"
TABLE_WIDTH = 120  # the results table's columns, unabridged, even when the output is not a terminal


# ------------------------------------------------------------------------------------ the bare app

COMPLAINT_TABLE = Complaint.__table__  # type: ignore[attr-defined]


class BareForm(BaseModel):
    """The fields the benchmark files, as plain types: no phone-number or location rules."""

    category: str
    channel: str
    msisdn: str
    lat: float | None = None
    lng: float | None = None
    network: str | None = None
    symptoms: list[str] = []
    follow_up: bool = False


def bare_row(form: BareForm) -> dict[str, Any]:
    """Return the row the service writes for a filing: every column given, the same kinds of values."""
    now = datetime.now(UTC)
    row: dict[str, Any] = dict.fromkeys(COMPLAINT_TABLE.columns.keys())
    row |= form.model_dump()
    row |= {
        "id": str(uuid.uuid4()),
        "reference": "CMP-" + secrets.token_hex(4).upper(),
        "status": "acknowledged",
        "owner": "bench",
        "tracking_token_hash": hashlib.sha256(secrets.token_bytes(24)).hexdigest(),
        "region": "HK",
        "customer_class": "normal",
        "priority": "normal",
        "queue": f"{form.category}.HK.standard",
        "escalated": False,
        "contact_preference": "sms",
        "language": "zh-Hant",
        # Deadlines as columns, as the service keeps them (without its business calendar).
        "first_response_due": now + timedelta(hours=4),
        "next_update_due": now + timedelta(hours=24),
        "resolution_due": now + timedelta(hours=72),
        "sla_check_at": now + timedelta(hours=3, minutes=12),
        "sla_flags": [],
        "pauses": [],
        "first_contact_resolution": False,
        "created_at": now,
        "updated_at": now,
    }
    return row


def bare_app() -> FastAPI:
    """Build the bare endpoint (uvicorn factory): FastAPI, a JSON body, one INSERT, commit; no auth."""
    url = os.environ[BARE_DATABASE_ENV]
    # The service's own engine settings: SQLite in WAL with one connection, or a PostgreSQL pool.
    engine = create_engine(url)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: COMPLAINT_TABLE.create(sync, checkfirst=True))
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.post(BARE_PATH, status_code=201)
    async def file_complaint(form: BareForm) -> dict[str, str]:
        """Insert the complaint and answer its id and reference."""
        row = bare_row(form)
        async with engine.begin() as connection:
            await connection.execute(insert(COMPLAINT_TABLE), row)
        return {"id": row["id"], "reference": row["reference"]}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Answer while alive."""
        return {"status": "ok"}

    return app


# ------------------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class Stack:
    """The bare app, complaints and the gateway, running."""

    bare: Server
    complaints: Server
    gateway: Server

    def cpu_s(self) -> dict[str, float]:
        """Return each server's CPU seconds so far."""
        return {
            "bare": self.bare.cpu_s(),
            "complaints": self.complaints.cpu_s(),
            "gateway": self.gateway.cpu_s(),
        }


@contextlib.contextmanager
def running(home: Path, database_url: str, bare_url: str, admin_key: str, secret: str) -> Iterator[Stack]:
    """Run nats-server, complaints, the gateway and the bare app; stop them all on the way out."""
    with running_stack(home, database_url, admin_key, secret) as services:
        # The bare app reads only its database URL; it uses no NATS, no principal, no settings.
        env = child_env(home, "nats://127.0.0.1:1", secret, admin_key, database_url)
        env |= {BARE_DATABASE_ENV: bare_url, "PYTHONPATH": str(BENCH_DIR)}
        bare = start_server("bare", "complaint_intake:bare_app", free_port(), env, home)
        try:
            wait_answers(bare, "/healthz")
            yield Stack(bare, services.complaints, services.gateway)
        finally:
            bare.stop()


# ------------------------------------------------------------------------------------ the load


@dataclass(frozen=True)
class Load:
    """Complaints to file at one URL: how many, how many clients at once, with which headers."""

    url: str
    headers: dict[str, str]
    count: int
    connections: int
    timeout_s: float = 30.0


async def _file(load: Load) -> LoadResult:
    """File ``load.count`` complaints from ``load.connections`` closed-loop clients; time each answer."""
    body = json.dumps(COMPLAINT).encode()
    headers = {**load.headers, "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    issued = iter(range(load.count))
    connector = aiohttp.TCPConnector(limit=load.connections, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=load.timeout_s)

    async def client(session: aiohttp.ClientSession) -> None:
        for _ in issued:  # shared: the clients together send exactly count requests
            began = time.perf_counter()
            try:
                async with session.post(load.url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - began)
            if status != 201:
                errors[f"HTTP {status}"] += 1

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(load.connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    ms = [1000 * percentile(latencies, q) for q in (50, 90, 99)]
    return LoadResult(
        generator="aiohttp",
        requests=len(latencies),
        elapsed_s=elapsed,
        p50_ms=ms[0],
        p90_ms=ms[1],
        p99_ms=ms[2],
        max_ms=1000 * latencies[-1] if latencies else 0.0,
        errors=sum(errors.values()),
        error_kinds=dict(errors),
    )


def _load_child(load: Load, answer: Connection) -> None:  # pragma: no cover - runs in the child
    """Apply a load in a child process (its CPU is then measured apart) and send the result back."""
    _die_with_parent()
    try:
        import uvloop

        result = uvloop.run(_file(load))
    except ImportError:
        result = asyncio.run(_file(load))
    answer.send(result.to_json())


def apply(load: Load) -> LoadResult:
    """Apply a load from a forked child process and return what it measured."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_load_child, args=(load, send), daemon=True)
    child.start()
    send.close()
    try:
        data = receive.recv()
    except EOFError:
        child.join()
        raise BenchError(f"the load generator died (exit code {child.exitcode})") from None
    child.join()  # waited for: its CPU now counts in RUSAGE_CHILDREN
    return LoadResult.from_json(data)


# ------------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Scenario:
    """One load to measure and the server it is aimed at."""

    name: str
    via: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Measurement:
    """A scenario's result with the CPU each process and the rest of the machine spent during it."""

    scenario: Scenario
    result: LoadResult
    wall_s: float
    cpu_s: dict[str, float]
    round: int
    settle_s: float = 0.0  # after the last answer, until the server had sent its events and gone quiet

    @property
    def created(self) -> int:
        """Return the complaints filed (answers that were not 201 do not count)."""
        return self.result.requests - sum(
            n for kind, n in self.result.error_kinds.items() if kind.startswith("HTTP")
        )

    @property
    def creates_per_s(self) -> float:
        """Return complaints filed per second of answering."""
        return self.created / self.result.elapsed_s if self.result.elapsed_s else 0.0

    @property
    def sustained_per_s(self) -> float:
        """Return complaints filed per second counting the time to settle: what could go on for hours."""
        spent = self.result.elapsed_s + self.settle_s
        return self.created / spent if spent else 0.0

    def cpu_pct(self, who: str) -> float:
        """Return CPU use in % of one core, over the load and the settling after it."""
        return 100 * self.cpu_s[who] / (self.wall_s + self.settle_s)

    def cpu_us_per_create(self, who: str) -> float:
        """Return a process's CPU per answered request in microseconds."""
        return 1e6 * self.cpu_s[who] / self.result.requests if self.result.requests else 0.0

    def to_json(self) -> dict[str, object]:
        """Return the measurement as JSON-ready data."""
        return {
            "name": self.scenario.name,
            "round": self.round,
            "via": self.scenario.via,
            **self.result.to_json(),
            "creates_per_s": round(self.creates_per_s, 1),
            "settle_s": round(self.settle_s, 2),
            "sustained_per_s": round(self.sustained_per_s, 1),
            "cpu_pct_of_core": {who: round(self.cpu_pct(who), 1) for who in self.cpu_s},
            "cpu_us_per_create": {
                who: round(self.cpu_us_per_create(who), 1) for who in self.cpu_s if who != "rest"
            },
        }


def scenarios(stack: Stack, who: Credential, principal: dict[str, str], direct: bool) -> list[Scenario]:
    """Return the scenarios in the order they run."""
    found = [Scenario("bare", "bare", stack.bare.url + BARE_PATH, {})]
    if direct:
        found.append(Scenario("direct", "complaints", stack.complaints.url + COMPLAINTS_PATH, principal))
    found.append(Scenario("gateway", "gateway", stack.gateway.url + COMPLAINTS_PATH, who.bearer))
    return found


def preflight(found: list[Scenario]) -> None:
    """File one complaint per scenario and insist on a 201, so a wrong setup fails before the clock runs."""
    with httpx.Client(timeout=10) as client:
        for scenario in found:
            response = client.post(scenario.url, json=COMPLAINT, headers=scenario.headers)
            if response.status_code != 201:
                raise BenchError(
                    f"{scenario.name}: POST {scenario.url} answered {response.status_code}: "
                    f"{response.text[:500]}"
                )


def measure(
    scenario: Scenario,
    stack: Stack,
    count: int,
    connections: int,
    warmup: int,
    round_: int,
    outbox_url: str | None,
) -> Measurement:
    """Warm the path up (connections, caches, the database file), then file ``count`` complaints.

    Each load is followed by ``settle``: the events a filing writes are published after its answer,
    so the time and CPU that takes belong to the scenario, not to whichever runs next.
    """
    server = stack.bare if scenario.via == "bare" else stack.complaints
    outbox = None if scenario.via == "bare" else outbox_url
    if warmup:
        apply(Load(scenario.url, scenario.headers, warmup, connections))
        settle(server, outbox)
    servers_before, generator_before, host_before = stack.cpu_s(), children_cpu_s(), host_busy_s()
    started = time.monotonic()
    result = apply(Load(scenario.url, scenario.headers, count, connections))
    wall_s = time.monotonic() - started
    settle_s = settle(server, outbox)
    cpu_s = {who: after - servers_before[who] for who, after in stack.cpu_s().items()}
    cpu_s["generator"] = children_cpu_s() - generator_before
    cpu_s["rest"] = max(0.0, host_busy_s() - host_before - sum(cpu_s.values()))
    return Measurement(scenario, result, wall_s, cpu_s, round_, settle_s)


def settle(server: Server, outbox_url: str | None) -> float:
    """Wait until a server has done what a load left it (outbox sent, CPU quiet); return how long that took.

    The answer is when the last busy window ended: the two quiet windows that prove it are not counted.
    """
    started = last = time.monotonic()
    quiet, cpu = 0, server.cpu_s()
    while quiet < 2:
        if time.monotonic() - started > SETTLE_TIMEOUT_S:
            raise BenchError(f"{server.name} did not settle within {SETTLE_TIMEOUT_S:.0f} s of the load")
        time.sleep(SETTLE_WINDOW_S)
        now_cpu = server.cpu_s()
        busy = now_cpu - cpu >= QUIET_CPU_SHARE * SETTLE_WINDOW_S
        cpu = now_cpu
        if busy or (outbox_url is not None and count_in(outbox_url, UNSENT_EVENTS) > 0):
            quiet, last = 0, time.monotonic()
        else:
            quiet += 1
    return last - started


# ------------------------------------------------------------------------------ checking the rows


def rows_in(database_url: str) -> int:
    """Count the complaint rows in a database the run made."""
    return count_in(database_url, "SELECT count(*) FROM complaint")


def count_in(database_url: str, query: str) -> int:
    """Run a count query on a database the run made (SQLite or PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with contextlib.closing(sqlite3.connect(str(url.database))) as connection:
            return int(connection.execute(query).fetchone()[0])

    async def count() -> int:
        connection = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=url.database,
        )
        try:
            return int(await connection.fetchval(query))
        finally:
            await connection.close()

    return asyncio.run(count())


def check_rows(filed: dict[str, int], databases: dict[str, str]) -> None:
    """Fail unless every 201 left exactly one row: the service's and the bare app's tables both."""
    for name, url in databases.items():
        found = rows_in(url)
        if found != filed[name]:
            raise BenchError(f"{name}: {filed[name]} complaints answered 201 but the table holds {found}")


# ----------------------------------------------------------------------------------- profiling


def profile(
    stack: Stack, scenario: Scenario, count: int, connections: int, out: Path, outbox_url: str
) -> dict[str, Path]:
    """Run the gateway load once more, and its settling, with py-spy on complaints and the gateway."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.txt" for name in ("complaints", "gateway")}
    servers = {"complaints": stack.complaints, "gateway": stack.gateway}
    spies = []
    for name, server in servers.items():
        # --gil: only the thread holding the GIL, i.e. where Python spends the event loop's core;
        # without it idle worker threads and the loop's wait fill most samples.
        command = ["uvx", "py-spy", "record", "--gil", "-f", "raw", "-r", "200", "-o", str(paths[name])]
        command += ["--pid", str(server.process.pid)]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **CHILD))
    time.sleep(2.0)  # py-spy attaches
    try:
        apply(Load(scenario.url, scenario.headers, count, connections))
        settle(stack.complaints, outbox_url)
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        for spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
    return paths


_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def hot_spots(raw: Path, top: int = 12) -> list[tuple[str, float, float]]:
    """Read py-spy's raw (folded) stacks: the functions with the most samples, self and total, in %."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return []
    return [(frame, 100 * n / samples, 100 * total[frame] / samples) for frame, n in own.most_common(top)]


def _short(frame: str) -> str:
    """Shorten ``function (path/to/site-packages/pkg/mod.py:12)`` to ``function (pkg/mod.py)``."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


# ------------------------------------------------------------------------------------ reporting


CAPTION = (
    "creates/s: 201 answers per second; settle: seconds after the last answer until the server had "
    "sent its events and gone quiet; sustained/s: creates over both. Latency in ms; CPU in % of "
    "one core over the load and the settling: bare the bare app, svc complaints, gw gateway, gen "
    "the load generator, rest everything else (nats-server, PostgreSQL if used, other work)"
)


def table(measurements: list[Measurement], rounds: int) -> Table:
    """Return the results, one row per scenario (the round with the median throughput)."""
    out = Table(
        title="complaint intake" + (f" (each row: the median of {rounds} rounds)" if rounds > 1 else ""),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption=CAPTION,
        caption_justify="left",
    )
    out.add_column("scenario", no_wrap=True)
    out.add_column("creates/s", justify="right", no_wrap=True, min_width=9)
    out.add_column("settle s", justify="right")
    out.add_column("sustained/s", justify="right")
    for header in ("p50", "p90", "p99", "err", "bare", "svc", "gw", "gen", "rest"):
        out.add_column(header, justify="right")
    for m in measurements:
        r = m.result
        out.add_row(
            m.scenario.name,
            f"{m.creates_per_s:,.0f}",
            f"{m.settle_s:.1f}",
            f"{m.sustained_per_s:,.0f}",
            *(f"{v:.1f}" if v < 100 else f"{v:.0f}" for v in (r.p50_ms, r.p90_ms, r.p99_ms)),
            f"[red]{r.errors}[/]" if r.errors else "0",
            *(f"{m.cpu_pct(who):.0f}" for who in (*PROCESSES, "rest")),
        )
    return out


def representatives(measurements: list[Measurement]) -> list[Measurement]:
    """Return, per scenario in run order, its round with the median throughput."""
    names = list(dict.fromkeys(m.scenario.name for m in measurements))
    shown = []
    for name in names:
        runs = sorted((m for m in measurements if m.scenario.name == name), key=lambda m: m.creates_per_s)
        shown.append(runs[(len(runs) - 1) // 2])
    return shown


SUSTAINED = " sustained"


def ratios(measurements: list[Measurement], over: str, under: str) -> list[float]:
    """Return ``over`` ÷ ``under`` throughput per round (each round's pair ran side by side).

    ``under`` ending in `` sustained`` compares sustained rates instead of answer rates.
    """
    sustained = under.endswith(SUSTAINED)
    under = under.removesuffix(SUSTAINED)

    def rate(m: Measurement) -> float:
        return m.sustained_per_s if sustained else m.creates_per_s

    by_key = {(m.scenario.name, m.round): m for m in measurements}
    rounds = sorted({m.round for m in measurements})
    return [
        rate(by_key[over, r]) / rate(by_key[under, r])
        for r in rounds
        if (over, r) in by_key and (under, r) in by_key and rate(by_key[under, r])
    ]


def verdicts(measurements: list[Measurement]) -> dict[str, float]:
    """Return the median of each ratio the report states."""
    found = {}
    pairs = (
        ("gateway", "bare"),
        ("gateway", "bare" + SUSTAINED),
        ("direct", "bare"),
        ("gateway", "direct"),
    )
    for over, under in pairs:
        values = ratios(measurements, over, under)
        if values:
            found[f"{over}/{under}"] = statistics.median(values)
    return found


def report(measurements: list[Measurement]) -> None:
    """Print the table, the ratios against the target, CPU per create, and caveats."""
    shown = representatives(measurements)
    rounds = len({m.round for m in measurements})
    # Its own console: print(width=…) can only narrow the output, and piped output is 80 wide.
    Console(width=max(console.width, TABLE_WIDTH)).print(table(shown, rounds))
    for name, value in verdicts(measurements).items():
        line = f"{name}: [bold]{value:.2f}[/]"
        if rounds > 1:
            line += f" (median of {', '.join(f'{v:.2f}' for v in ratios(measurements, *name.split('/')))})"
        if name.startswith("gateway/bare"):
            met = "[green]met[/]" if value >= TARGET_OF_BARE else "[red]NOT met[/]"
            line += f" (target ≥ {TARGET_OF_BARE:.2f}: {met})"
        console.print(line)
    for m in shown:
        spent = ", ".join(
            f"{who} {m.cpu_us_per_create(who):,.0f} µs"
            for who in ("bare", "complaints", "gateway")
            if m.cpu_s[who] > 0.05 * m.wall_s
        )
        console.print(f"[dim]{m.scenario.name}: CPU per create: {spent}[/]")
        if m.cpu_pct("generator") >= GENERATOR_BOUND_PCT:
            console.print(
                f"[yellow]{m.scenario.name}: the generator used {m.cpu_pct('generator'):.0f}% of a core[/]"
            )
        if m.cpu_pct("rest") >= BUSY_REST_PCT:
            console.print(
                f"[yellow]{m.scenario.name}: the rest of the machine used {m.cpu_pct('rest'):.0f}% "
                "of a core: other work competed with the benchmark[/]"
            )
    for m in measurements:
        if m.result.errors:
            console.print(
                f"[red]{m.scenario.name} (round {m.round}): {m.result.errors} errors: "
                f"{m.result.error_kinds}[/]"
            )


def print_hot_spots(paths: dict[str, Path]) -> dict[str, list[tuple[str, float, float]]]:
    """Print the hottest functions of each profiled process and return them."""
    found = {}
    for name, path in paths.items():
        spots = hot_spots(path) if path.exists() else []
        found[name] = spots
        console.print(f"\n[bold]{name}[/]: hottest functions (self %, total %), raw stacks in {path}")
        for frame, own, total in spots:
            console.print(f"  {own:5.1f}  {total:5.1f}  {frame}")
    return found


# ------------------------------------------------------------------------------------------ run


def run(
    home: Path,
    *,
    count: int,
    connections: int,
    warmup: int,
    rounds: int,
    direct: bool,
    postgres_url: str | None,
    profile_dir: Path | None,
    principal_ttl_s: int,
) -> tuple[list[Measurement], dict[str, list[tuple[str, float, float]]]]:
    """Start everything, measure every scenario ``rounds`` times, check the rows, profile if asked."""
    admin_key, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with contextlib.ExitStack() as cleanup:
        database_url = f"sqlite+aiosqlite:///{home / 'complaints.db'}"
        bare_url = f"sqlite+aiosqlite:///{home / 'bare.db'}"
        if postgres_url:
            database_url = cleanup.enter_context(throwaway_postgres(postgres_url))
            bare_url = cleanup.enter_context(throwaway_postgres(postgres_url))
        backend = "PostgreSQL" if postgres_url else "SQLite"
        console.print(f"starting nats-server, complaints, the gateway and the bare app ({backend}) …")
        stack = cleanup.enter_context(running(home, database_url, bare_url, admin_key, secret))
        who = credential(stack.gateway, admin_key, None, use_admin_key=False)
        principal = {PRINCIPAL_HEADER: sign_principal(who.principal, secret, ttl_s=principal_ttl_s)}
        found = scenarios(stack, who, principal, direct)
        preflight(found)
        filed = {"bare": 1, "complaints": len(found) - 1}
        measurements = []
        for round_ in range(1, rounds + 1):
            for scenario in found if round_ % 2 else found[::-1]:
                console.print(
                    f"measuring {scenario.name}{f' (round {round_})' if rounds > 1 else ''}: "
                    f"{count:,} creates, {connections} clients"
                )
                m = measure(scenario, stack, count, connections, warmup, round_, database_url)
                measurements.append(m)
                filed["bare" if scenario.via == "bare" else "complaints"] += m.created + warmup
        spots: dict[str, list[tuple[str, float, float]]] = {}
        if profile_dir is not None:
            console.print(f"profiling the gateway scenario once more with py-spy ({count:,} creates) …")
            paths = profile(stack, found[-1], count, connections, profile_dir, database_url)
            filed["complaints"] += count
            spots = print_hot_spots(paths)
        time.sleep(1.0)  # the last commits are in before the rows are counted
        if not any(m.result.errors for m in measurements):
            check_rows(filed, {"bare": bare_url, "complaints": database_url})
            console.print(f"[dim]rows checked: bare {filed['bare']:,}, complaints {filed['complaints']:,}[/]")
        return measurements, spots


def write_json(
    path: Path, settings: dict[str, object], measurements: list[Measurement], spots: dict[str, Any]
) -> None:
    """Write the run's settings, machine, results and ratios as JSON."""
    document = {
        "benchmark": "complaint_intake",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings,
        "scenarios": [m.to_json() for m in measurements],
        "ratios": {k: round(v, 3) for k, v in verdicts(measurements).items()},
        "target_gateway_over_bare": TARGET_OF_BARE,
        "hot_spots": spots,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    count: Annotated[int, typer.Option(min=1, help="complaints filed per scenario (measured)")] = 3000,
    connections: Annotated[int, typer.Option("--connections", "-c", min=1, help="concurrent clients")] = 32,
    warmup: Annotated[
        int, typer.Option(min=0, help="complaints filed unmeasured before each scenario")
    ] = 200,
    rounds: Annotated[
        int, typer.Option(min=1, help="run every scenario this many times; report medians")
    ] = 1,
    direct: Annotated[bool, typer.Option(help="also file directly on complaints (no gateway)")] = True,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="use PostgreSQL for both sides: a server URL such as "
            "postgresql://postgres@127.0.0.1:5432/postgres (two throwaway databases, dropped after)"
        ),
    ] = None,
    profile_dir: Annotated[
        Path | None,
        typer.Option(
            "--profile", help="then profile the gateway scenario with py-spy, raw stacks in this folder"
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="also write the results as JSON here")
    ] = None,
    time_limit_s: Annotated[
        int, typer.Option("--time-limit", min=10, help="seconds before the run gives up")
    ] = 900,
    keep_home: Annotated[bool, typer.Option(help="keep the temp CARELOOP_HOME (databases, logs)")] = False,
) -> None:
    """Measure complaint intake through the gateway against a bare endpoint inserting the same row."""
    settings: dict[str, object] = {
        "count": count,
        "connections": connections,
        "warmup": warmup,
        "rounds": rounds,
        "direct": direct,
        "database": "postgresql" if postgres_url else "sqlite",
        "credential": "api-key",
        "host_busy_before_pct": check_quiet(),
    }
    try:
        with time_limit(time_limit_s), scratch_home(keep_home) as home:
            measurements, spots = run(
                home,
                count=count,
                connections=connections,
                warmup=warmup,
                rounds=rounds,
                direct=direct,
                postgres_url=postgres_url,
                profile_dir=profile_dir,
                principal_ttl_s=time_limit_s + 60,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every child process is stopped[/]")
        raise typer.Exit(130) from None
    except BenchError as exc:
        console.print(f"[red]benchmark failed:[/] {exc}")
        raise typer.Exit(2) from None
    report(measurements)
    if json_path is not None:
        write_json(json_path, settings, measurements, spots)
        console.print(f"[dim]results written to {json_path}[/]")
    if any(m.result.errors for m in measurements):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
