"""What the gateway costs: the same request on complaints directly and through the gateway, in one run.

Starts nats-server, the complaints service and the gateway as child processes (uvicorn, one worker
each, the command line `careloop up` uses) in a throwaway CARELOOP_HOME on free ports, files a few
complaints through the gateway, then applies the same closed-loop load to each scenario in turn:

  baseline       GET /healthz on complaints: the bare framework and middleware
  direct         GET one complaint on complaints, carrying the principal the gateway would forward
  gateway        the same GET through the gateway, with a real API key created through the admin API
                 (what a partner pays: key lookup, cached; rate limit; principal signing)
  direct-write   POST a complaint on complaints        (--writes)
  gateway-write  the same POST through the gateway     (--writes)

and reports throughput, latency percentiles, errors and each process's CPU, and whether the gateway
keeps at least 70% of the direct throughput. The load generator shares the machine's cores with
the servers, so compare the ratios, not the absolute numbers. See bench/README.md.

    uv run python bench/gateway_overhead.py --duration 8
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Protocol

import asyncpg
import httpx
import psutil
import typer
from loadgen import Generator, LoadResult, LoadSpec, pick_generator
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import URL, make_url

from careloop_common.auth import PRINCIPAL_HEADER, Principal, sign_principal
from careloop_common.natsserver import NatsServer, free_port

TARGET_RATIO = 0.70  # the gateway must keep at least this share of the direct throughput
COMPLAINTS_PATH = "/complaints/v1/complaints"
COMPLAINT = {
    "category": "coverage",
    "channel": "call_centre",
    "msisdn": "+85291234567",
    "lat": 22.2819,
    "lng": 114.1582,
    "network": "4G",
    "symptoms": ["call_drop"],
    "follow_up": False,
}
# What the gateway forwards for its admin key: direct calls carry the same, so the service does the same work.
ADMIN = Principal(subject="admin", kind="api_key", roles=["admin"], scopes=["*"])
# The API key the benchmarks create: every scope they use, and a limit they cannot reach.
BENCH_KEY_SCOPES = ("complaints:read", "complaints:write", "coverage:read", "coverage:write")
BENCH_KEY_RATE_LIMIT = 1_000_000  # requests per minute: the highest the gateway accepts
GENERATOR_BOUND_PCT = 90.0  # a single-threaded generator near a full core limits the scenario itself
BUSY_BEFORE_PCT = 15.0  # host-wide CPU before we start above which the numbers will be skewed
BUSY_REST_PCT = 50.0  # CPU of "the rest" (% of one core) during a scenario above which it competed
PR_SET_PDEATHSIG = 1

console = Console()


class BenchError(RuntimeError):
    """The benchmark could not run; the message says why."""


class OutOfTime(BenchError):
    """The run went past its time limit."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the child when this script dies, even by kill -9."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# A session of their own: Ctrl-C reaches only this script, which then stops the children in order.
CHILD: dict[str, Any] = {"start_new_session": True, "preexec_fn": _die_with_parent}


# ------------------------------------------------------------------------------- the services


@dataclass
class Server:
    """A service running as a uvicorn child process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_s(self) -> float:
        """Return the CPU seconds (user + system) the process has used so far; fail if it has died."""
        if self.process.poll() is not None:
            raise BenchError(
                f"{self.name} died during the run (code {self.process.returncode}):\n{self.log_tail()}"
            )
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def log_tail(self, lines: int = 15) -> str:
        """Return the last lines of the process's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the process to stop (uvicorn shuts down gracefully on SIGTERM), kill it if it does not."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Stack:
    """The running complaints service and gateway."""

    complaints: Server
    gateway: Server

    def cpu_s(self) -> dict[str, float]:
        """Return each server's CPU seconds so far."""
        return {"complaints": self.complaints.cpu_s(), "gateway": self.gateway.cpu_s()}


def uvicorn_command(app: str, port: int) -> list[str]:
    """Return the command line `careloop up` runs a part with: one worker, uvloop/httptools by default."""
    return [
        *(sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)),
        *("--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"),
    ]


def child_env(home: Path, nats_url: str, secret: str, admin_key: str, database_url: str) -> dict[str, str]:
    """Return the children's environment: ours without careloop settings, plus this run's wiring."""
    # Settings a developer exported for their own stack (a database URL, tracing) must not leak in.
    ours = ("CARELOOP_", "COMPLAINTS_", "COVERAGE_", "GATEWAY_", "OTEL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        {
            "CARELOOP_HOME": str(home),
            "CARELOOP_NATS_URL": nats_url,
            "CARELOOP_PRINCIPAL_SECRET": secret,
            "CARELOOP_LOG_LEVEL": "WARNING",
            "COMPLAINTS_DATABASE_URL": database_url,
            "GATEWAY_ADMIN_API_KEY": admin_key,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_server(name: str, app: str, port: int, env: dict[str, str], home: Path) -> Server:
    """Start one service, its output going to ``<home>/logs/<name>.log``."""
    log_path = home / "logs" / f"{name}.log"
    with log_path.open("ab") as log:
        # The home is the working directory so that a .env file where the script is run is not read.
        process = subprocess.Popen(
            uvicorn_command(app, port),
            env=env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **CHILD,
        )
    return Server(name, f"http://127.0.0.1:{port}", process, log_path)


def wait_answers(server: Server, path: str, timeout_s: float = 60.0) -> None:
    """Wait until ``path`` on the server answers 200, failing fast if the process exits."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2) as client:
        while True:
            if server.process.poll() is not None:
                raise BenchError(
                    f"{server.name} exited with code {server.process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(server.url + path).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{server.name} did not answer {path} in {timeout_s:.0f} s:\n{server.log_tail()}"
                )
            time.sleep(0.1)


@contextlib.contextmanager
def running_stack(home: Path, database_url: str, admin_key: str, secret: str) -> Iterator[Stack]:
    """Run nats-server, complaints and the gateway in ``home``; stop them all on the way out."""
    (home / "logs").mkdir(parents=True, exist_ok=True)
    nats = NatsServer(home / "nats", log_file=home / "logs" / "nats.log")
    servers: list[Server] = []
    try:
        try:
            nats.start(15.0, **CHILD)
        except (OSError, RuntimeError) as exc:  # TimeoutError is an OSError
            raise BenchError(f"nats-server did not start: {exc}") from exc
        env = child_env(home, nats.url, secret, admin_key, database_url)
        complaints_port, gateway_port = free_port(), free_port()
        env["GATEWAY_COMPLAINTS_URL"] = f"http://127.0.0.1:{complaints_port}"
        servers.append(start_server("complaints", "complaints.main:create_app", complaints_port, env, home))
        servers.append(start_server("gateway", "gateway.main:create_app", gateway_port, env, home))
        complaints, gateway = servers
        wait_answers(complaints, "/readyz")
        # The gateway's /readyz also wants the services this run does not start: liveness is enough,
        # and the seeding below proves it forwards.
        wait_answers(gateway, "/healthz")
        yield Stack(complaints, gateway)
    finally:
        for server in reversed(servers):
            server.stop()
        nats.stop()


async def _postgres(server: URL, statement: str) -> None:
    """Run one statement on the PostgreSQL server's maintenance database."""
    connection = await asyncpg.connect(
        host=server.host or "127.0.0.1",
        port=server.port or 5432,
        user=server.username or "postgres",
        password=server.password,
        database=server.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """Create a database for this run on the server at ``server_url``, yield its URL, drop it after."""
    server = make_url(server_url)
    name = f"careloop_bench_{secrets.token_hex(6)}"
    try:
        asyncio.run(_postgres(server, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create a database on {server.render_as_string()}: {exc}") from exc
    try:
        url = server.set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ------------------------------------------------------------------------------ the credential


@dataclass(frozen=True)
class Credential:
    """The bearer credential the gateway scenarios send, and the principal the gateway forwards for it."""

    kind: str  # api-key (created by the run), admin-key (the run's exempt admin key), given (--api-key)
    token: str
    principal: Principal

    @property
    def bearer(self) -> dict[str, str]:
        """Return the Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


def create_api_key(gateway: Server, admin_key: str, scopes: Sequence[str] = BENCH_KEY_SCOPES) -> str:
    """Create an API key through the admin API, as an operator would for a partner; return its token."""
    body = {"name": "bench", "scopes": list(scopes), "rate_limit_per_minute": BENCH_KEY_RATE_LIMIT}
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        response = client.post(
            "/gateway/v1/api-keys", json=body, headers={"Authorization": f"Bearer {admin_key}"}
        )
    if response.status_code != 201:
        raise BenchError(f"creating an API key: {response.status_code} {response.text[:500]}")
    return str(response.json()["token"])


def forwarded_principal(gateway: Server, token: str) -> Principal:
    """Ask the gateway who a credential is (``/gateway/v1/me``): the principal it forwards for it."""
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        response = client.get("/gateway/v1/me", headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise BenchError(
            f"the gateway rejects the bearer credential: {response.status_code} {response.text[:500]}"
        )
    return Principal.model_validate(response.json())


def credential(gateway: Server, admin_key: str, api_key: str | None, use_admin_key: bool) -> Credential:
    """Return what the gateway scenarios authenticate with: by default a fresh API key of the run's own."""
    if api_key:
        kind, token = "given", api_key
    elif use_admin_key:
        kind, token = "admin-key", admin_key
    else:
        kind, token = "api-key", create_api_key(gateway, admin_key)
    # The direct scenarios carry this principal, so the service does the same work either way.
    return Credential(kind, token, forwarded_principal(gateway, token))


# ------------------------------------------------------------------------------- the scenarios


@dataclass(frozen=True)
class Scenario:
    """One load to measure, and which server it is aimed at (``warmup``: another load to warm up with)."""

    name: str
    via: str
    path: str
    load: LoadSpec
    warmup: LoadSpec | None = None

    @property
    def request_line(self) -> str:
        """Return the method and path as the report shows them (ids as a placeholder)."""
        return f"{self.load.method} {self.path}"


def seed(gateway: Server, bearer: dict[str, str], count: int) -> list[str]:
    """File ``count`` complaints through the gateway and return their ids."""
    ids: list[str] = []
    with httpx.Client(base_url=gateway.url, headers=bearer, timeout=10) as client:
        for _ in range(count):
            response = client.post(COMPLAINTS_PATH, json=COMPLAINT)
            if response.status_code != 201:
                raise BenchError(f"seeding through the gateway: {response.status_code} {response.text[:500]}")
            ids.append(str(response.json()["id"]))
    return ids


def scenarios(
    stack: Stack,
    complaint_id: str,
    bearer: dict[str, str],
    principal: dict[str, str],
    load: LoadSpec,
    writes: bool,
) -> list[Scenario]:
    """Return the scenarios in the order they run: direct and gateway side by side, reads first."""
    one, shown = f"{COMPLAINTS_PATH}/{complaint_id}", f"{COMPLAINTS_PATH}/{{id}}"
    complaints, gateway = stack.complaints.url, stack.gateway.url
    found = [
        Scenario("baseline", "complaints", "/healthz", replace(load, url=complaints + "/healthz")),
        Scenario("direct", "complaints", shown, replace(load, url=complaints + one, headers=principal)),
        Scenario("gateway", "gateway", shown, replace(load, url=gateway + one, headers=bearer)),
    ]
    if writes:
        body, json_type = json.dumps(COMPLAINT), {"Content-Type": "application/json"}
        direct = replace(load, url=complaints + COMPLAINTS_PATH, headers=principal | json_type)
        through = replace(load, url=gateway + COMPLAINTS_PATH, headers=bearer | json_type)
        found += [
            Scenario(
                "direct-write", "complaints", COMPLAINTS_PATH, replace(direct, method="POST", body=body)
            ),
            Scenario("gateway-write", "gateway", COMPLAINTS_PATH, replace(through, method="POST", body=body)),
        ]
    return found


def preflight(found: list[Scenario]) -> None:
    """Send each scenario's request once and insist on a 2xx, so a wrong setup fails before the clock runs."""
    with httpx.Client(timeout=10) as client:
        for scenario in found:
            spec = scenario.load
            response = client.request(spec.method, spec.url, headers=spec.headers, content=spec.body)
            if not response.is_success:
                raise BenchError(
                    f"{scenario.name}: {scenario.request_line} answered {response.status_code}: "
                    f"{response.text[:500]}"
                )


# ---------------------------------------------------------------------------------- measuring


OURS = ("complaints", "gateway", "generator")


class Processes(Protocol):
    """The servers a benchmark measures the CPU of."""

    def cpu_s(self) -> dict[str, float]:
        """Return each server's CPU seconds so far, by name."""
        ...


@dataclass(frozen=True)
class Measurement:
    """A scenario's result with the CPU each process, and the rest of the machine, spent during it."""

    scenario: Scenario
    result: LoadResult
    wall_s: float
    cpu_s: dict[str, float]
    round: int = 1

    def cpu_pct(self, who: str) -> float:
        """Return CPU use during the run in % of one core: a process of ours, or ``rest``."""
        return 100 * self.cpu_s[who] / self.wall_s

    def cpu_us_per_request(self, who: str) -> float:
        """Return a process's CPU time per completed request, in microseconds."""
        return 1e6 * self.cpu_s[who] / self.result.requests if self.result.requests else 0.0

    def to_json(self) -> dict[str, object]:
        """Return the measurement as JSON-ready data."""
        return {
            "name": self.scenario.name,
            "round": self.round,
            "via": self.scenario.via,
            "request": self.scenario.request_line,
            **self.result.to_json(),
            "cpu_pct_of_core": {who: round(self.cpu_pct(who), 1) for who in self.cpu_s},
            "cpu_us_per_request": {
                who: round(self.cpu_us_per_request(who), 1) for who in self.cpu_s if who != "rest"
            },
        }


def children_cpu_s() -> float:
    """Return the CPU seconds of every child this script has waited for (how the generator is measured)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def host_busy_s() -> float:
    """Return the CPU seconds all cores of the machine have been busy since boot (psutil's accounting)."""
    times = psutil.cpu_times()
    # Guest time is already counted in user time on Linux.
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times) - guest - times.idle - getattr(times, "iowait", 0.0))


def run_generator(generator: Generator, spec: LoadSpec, workdir: Path) -> LoadResult:
    """Apply a load from a generator process of its own and read its result."""
    done = subprocess.run(
        generator.command(spec, workdir),
        capture_output=True,
        text=True,
        check=False,
        timeout=spec.duration_s + spec.timeout_s + 30,
        **CHILD,
    )
    if done.returncode != 0:
        raise BenchError(
            f"{generator.name} exited with code {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return generator.parse(done.stdout)


def measure(
    scenario: Scenario, generator: Generator, stack: Processes, workdir: Path, warmup_s: int, round_: int
) -> Measurement:
    """Warm the path up (connections, caches), then measure it with each process's CPU."""
    if warmup_s:
        run_generator(generator, replace(scenario.warmup or scenario.load, duration_s=warmup_s), workdir)
    servers_before, generator_before, host_before = stack.cpu_s(), children_cpu_s(), host_busy_s()
    started = time.monotonic()
    result = run_generator(generator, scenario.load, workdir)
    wall_s = time.monotonic() - started
    cpu_s = {who: after - servers_before[who] for who, after in stack.cpu_s().items()}
    cpu_s["generator"] = children_cpu_s() - generator_before
    # Whatever else the machine did meanwhile: nats-server, PostgreSQL, other people's work.
    cpu_s["rest"] = max(0.0, host_busy_s() - host_before - sum(cpu_s.values()))
    return Measurement(scenario, result, wall_s, cpu_s, round_)


# ---------------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Comparison:
    """The gateway's scenario against the direct one it mirrors, round by round."""

    kind: str
    rounds: list[tuple[Measurement, Measurement]]  # (direct, gateway), run next to each other

    @property
    def ratios(self) -> list[float]:
        """Return gateway throughput as a share of direct throughput, per round."""
        return [g.result.rps / d.result.rps if d.result.rps else 0.0 for d, g in self.rounds]

    @property
    def ratio(self) -> float:
        """Return the median share: each round's pair ran side by side, so slow drifts cancel."""
        return statistics.median(self.ratios)

    @property
    def p99_delta_ms(self) -> float:
        """Return how much later the gateway's 99th percentile answer comes (median over rounds)."""
        return statistics.median(g.result.p99_ms - d.result.p99_ms for d, g in self.rounds)

    @property
    def gateway_cpu_us(self) -> float:
        """Return the gateway's CPU per forwarded request in microseconds (median over rounds)."""
        return statistics.median(g.cpu_us_per_request("gateway") for _, g in self.rounds)

    @property
    def met(self) -> bool:
        """Tell whether the gateway keeps the target share of direct throughput."""
        return self.ratio >= TARGET_RATIO

    def to_json(self) -> dict[str, object]:
        """Return the comparison as JSON-ready data."""
        return {
            "kind": self.kind,
            "throughput_ratio": round(self.ratio, 3),
            "throughput_ratio_per_round": [round(r, 3) for r in self.ratios],
            "p99_delta_ms": round(self.p99_delta_ms, 2),
            "gateway_cpu_us_per_request": round(self.gateway_cpu_us, 1),
            "target_ratio": TARGET_RATIO,
            "target_met": self.met,
        }


PAIRS = (("read", "direct", "gateway"), ("write", "direct-write", "gateway-write"))


def compare(measurements: list[Measurement]) -> list[Comparison]:
    """Pair each gateway scenario with its direct twin of the same round."""
    by_key = {(m.scenario.name, m.round): m for m in measurements}
    rounds = sorted({m.round for m in measurements})
    found = []
    for kind, direct, gateway in PAIRS:
        pairs = [(by_key[direct, r], by_key[gateway, r]) for r in rounds if (direct, r) in by_key]
        if pairs and all((gateway, r) in by_key for r in rounds):
            found.append(Comparison(kind, pairs))
    return found


def representatives(measurements: list[Measurement]) -> list[Measurement]:
    """Return, per scenario in run order, its round with the median throughput (the row shown)."""
    names = list(dict.fromkeys(m.scenario.name for m in measurements))
    shown = []
    for name in names:
        runs = sorted((m for m in measurements if m.scenario.name == name), key=lambda m: m.result.rps)
        shown.append(runs[(len(runs) - 1) // 2])
    return shown


CAPTION = (
    "latency in ms; CPU in % of one core: svc complaints, gw gateway, gen load generator, "
    "rest everything else on the machine (nats-server, PostgreSQL if used, other work)"
)


def table(
    measurements: list[Measurement],
    rounds: int,
    title: str = "gateway overhead",
    caption: str = CAPTION,
    processes: tuple[str, ...] = OURS,
) -> Table:
    """Return the results as a table that fits 80 columns, one row per scenario.

    The CPU columns are ``processes`` (shown as svc, gw, gen: the service, the gateway, the load
    generator) and the rest of the machine.
    """
    out = Table(
        title=title + (f" (each row: the median of {rounds} rounds)" if rounds > 1 else ""),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption=caption,
        caption_justify="left",
    )
    out.add_column(
        "scenario", no_wrap=True, min_width=max((len(m.scenario.name) for m in measurements), default=8)
    )
    for header in ("req/s", "p50", "p90", "p99", "err", "svc", "gw", "gen", "rest"):
        out.add_column(header, justify="right")
    for m in measurements:
        r = m.result
        out.add_row(
            m.scenario.name,
            f"{r.rps:,.0f}",
            *(f"{v:.1f}" for v in (r.p50_ms, r.p90_ms, r.p99_ms)),
            f"[red]{r.errors}[/]" if r.errors else "0",
            *(f"{m.cpu_pct(who):.0f}" for who in (*processes, "rest")),
        )
    return out


def report(measurements: list[Measurement], comparisons: list[Comparison], generator: Generator) -> None:
    """Print the table, the ratios against the target, and what limits the numbers."""
    shown = representatives(measurements)
    rounds = len({m.round for m in measurements})
    console.print(table(shown, rounds))
    for c in comparisons:
        verdict = "[green]met[/]" if c.met else "[red]NOT met[/]"
        per_round = f" (median of {', '.join(f'{r:.0%}' for r in c.ratios)})" if rounds > 1 else ""
        console.print(
            f"{c.kind}: the gateway keeps [bold]{c.ratio:.0%}[/] of direct throughput{per_round} "
            f"(target ≥ {TARGET_RATIO:.0%}: {verdict}); p99 {c.p99_delta_ms:+.1f} ms; "
            f"the gateway spends {c.gateway_cpu_us:.0f} µs CPU per request"
        )
    console.print(
        f"[dim]The load generator ({generator.name}) runs in its own process on the same "
        f"{os.cpu_count()} cores as nats-server, complaints and the gateway: absolute req/s are lower "
        "than with a separate load machine, so compare the ratios.[/]"
    )
    for m in shown:
        for caveat in caveats(m):
            console.print(f"[yellow]{m.scenario.name}: {caveat}[/]")
    for m in measurements:
        if m.result.errors:
            where = f"{m.scenario.name} (round {m.round})" if rounds > 1 else m.scenario.name
            console.print(f"[red]{where}: {m.result.errors} errors: {m.result.error_kinds}[/]")


def caveats(m: Measurement) -> list[str]:
    """Say what made a measurement less trustworthy: a saturated generator or a busy machine."""
    found = []
    if m.cpu_pct("generator") >= GENERATOR_BOUND_PCT:
        found.append(
            f"the generator used {m.cpu_pct('generator'):.0f}% of a core: "
            "this scenario measures the generator as much as the server"
        )
    if m.cpu_pct("rest") >= BUSY_REST_PCT:
        found.append(
            f"the rest of the machine used {m.cpu_pct('rest'):.0f}% of a core: "
            "other work competed with the benchmark, run it again on a quiet machine"
        )
    return found


def machine() -> dict[str, object]:
    """Describe the machine the numbers come from."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def generator_version(generator: Generator) -> str:
    """Return the generator's version line (wrk prints it on -v)."""
    if generator.name != "wrk":
        return f"builtin aiohttp (Python {platform.python_version()})"
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0] if lines else "wrk"


def write_json(
    path: Path,
    settings: dict[str, object],
    measurements: list[Measurement],
    comparisons: list[Comparison],
    generator: Generator,
) -> None:
    """Write the run's settings, machine, results and verdicts as JSON."""
    document = {
        "benchmark": "gateway_overhead",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "generator": generator_version(generator),
        "settings": settings,
        "scenarios": [{**m.to_json(), "caveats": caveats(m)} for m in measurements],
        "comparisons": [c.to_json() for c in comparisons],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


# ------------------------------------------------------------------------------------ the run


def run(
    *,
    home: Path,
    generator: Generator,
    template: LoadSpec,
    warmup_s: int,
    rounds: int,
    writes: bool,
    seed_count: int,
    api_key: str | None,
    use_admin_key: bool,
    postgres_url: str | None,
    principal_ttl_s: int,
    settings: dict[str, object],
) -> list[Measurement]:
    """Start the stack, seed it, and measure every scenario; everything started is stopped on return."""
    admin_key, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with contextlib.ExitStack() as cleanup:
        database_url = f"sqlite+aiosqlite:///{home / 'complaints.db'}"
        if postgres_url:
            database_url = cleanup.enter_context(throwaway_postgres(postgres_url))
        backend = "PostgreSQL" if postgres_url else "SQLite"
        console.print(f"starting nats-server, complaints ({backend}) and the gateway …")
        stack = cleanup.enter_context(running_stack(home, database_url, admin_key, secret))
        who = credential(stack.gateway, admin_key, api_key, use_admin_key)
        settings["credential"] = who.kind
        console.print(f"gateway scenarios authenticate with: {describe(who)}")
        bearer = who.bearer
        principal = {PRINCIPAL_HEADER: sign_principal(who.principal, secret, ttl_s=principal_ttl_s)}
        ids = seed(stack.gateway, bearer, seed_count)
        found = scenarios(stack, ids[0], bearer, principal, template, writes)
        preflight(found)
        measurements = []
        for round_ in range(1, rounds + 1):
            # Every other round backwards: the gateway runs first as often as the direct call does.
            for scenario in found if round_ % 2 else found[::-1]:
                console.print(
                    f"measuring {scenario.name}{f' (round {round_})' if rounds > 1 else ''}: "
                    f"{scenario.request_line} via {scenario.via}, "
                    f"{template.connections} connections, {template.duration_s} s ({generator.name})"
                )
                measurements.append(measure(scenario, generator, stack, home, warmup_s, round_))
        return measurements


def describe(who: Credential) -> str:
    """Say which credential the gateway scenarios use, for the log."""
    what = {
        "api-key": "a real API key created through the admin API (key lookup, rate limit, signing)",
        "admin-key": "the run's admin key (exempt from the key lookup and rate limits)",
        "given": "the --api-key credential",
    }[who.kind]
    return f"{what}; forwarded as {who.principal.subject} with scopes {', '.join(who.principal.scopes)}"


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise OutOfTime in the block once ``seconds`` have passed; SIGTERM stops it like Ctrl-C."""

    def out_of_time(_signum: int, _frame: FrameType | None) -> None:
        raise OutOfTime(f"the run went past its time limit of {seconds} s (--time-limit)")

    def terminated(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, terminated)
    # One shot: once it has fired, the cleanup it triggers is not cut short by another.
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def scratch_home(keep: bool) -> Iterator[Path]:
    """Yield a fresh CARELOOP_HOME; remove it afterwards unless asked to keep it or the run failed."""
    home = Path(tempfile.mkdtemp(prefix="careloop-bench-"))
    failed = False
    try:
        yield home
    except BenchError:
        failed = True  # its logs say why
        raise
    finally:
        if keep or failed:
            console.print(f"[dim]CARELOOP_HOME kept: {home} (logs in {home / 'logs'})[/]")
        else:
            shutil.rmtree(home, ignore_errors=True)


def check_quiet() -> float:
    """Return how busy the machine is before we start, warning when it is busy enough to skew the run."""
    busy = psutil.cpu_percent(interval=1.0)
    if busy >= BUSY_BEFORE_PCT:
        console.print(
            f"[yellow]the machine is already {busy:.0f}% busy before the benchmark starts "
            f"(load average {os.getloadavg()[0]:.1f}): expect lower, noisier numbers[/]"
        )
    return busy


# ---------------------------------------------------------------------------------------- CLI


class GeneratorChoice(StrEnum):
    """Which load generator to use."""

    auto = "auto"
    wrk = "wrk"
    builtin = "builtin"


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


# Options both benchmarks take, defined once (coverage_lookup.py imports them).
DurationOpt = Annotated[int, typer.Option(min=1, help="seconds each scenario is measured")]
ConnectionsOpt = Annotated[int, typer.Option("--connections", "-c", min=1, help="concurrent connections")]
WarmupOpt = Annotated[int, typer.Option(min=0, help="seconds of unmeasured load before each scenario")]
RoundsOpt = Annotated[
    int, typer.Option(min=1, help="run every scenario this many times, interleaved; report medians")
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        envvar="BENCH_API_KEY",
        help="bearer credential for the gateway scenarios (default: an API key the run creates)",
        show_default=False,
    ),
]
AdminKeyOpt = Annotated[
    bool,
    typer.Option(
        "--admin-key",
        help="use the run's admin key instead: exempt from the key lookup and rate limits, "
        "so it does not measure what partners pay",
    ),
]
GeneratorOpt = Annotated[GeneratorChoice, typer.Option(help="auto: wrk when on PATH, else builtin")]
WrkThreadsOpt = Annotated[int, typer.Option(min=1, help="wrk threads")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="also write the results as JSON here")]
TimeLimitOpt = Annotated[
    int | None,
    typer.Option(
        "--time-limit",
        min=10,
        help="seconds before the run gives up (default: from the scenarios)",
        show_default=False,
    ),
]
KeepHomeOpt = Annotated[bool, typer.Option(help="keep the temp CARELOOP_HOME (databases, logs)")]


@app.command()
def main(
    duration: DurationOpt = 10,
    connections: ConnectionsOpt = 32,
    warmup: WarmupOpt = 1,
    rounds: RoundsOpt = 1,
    writes: Annotated[
        bool, typer.Option(help="also measure POST (file a complaint) direct vs gateway")
    ] = False,
    seed_count: Annotated[int, typer.Option(min=1, help="complaints filed through the gateway first")] = 5,
    api_key: ApiKeyOpt = None,
    admin_key: AdminKeyOpt = False,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="put complaints on PostgreSQL: a server URL such as postgresql://postgres@127.0.0.1:5432/postgres"
            " (a throwaway database is created there and dropped after)"
        ),
    ] = None,
    generator: GeneratorOpt = GeneratorChoice.auto,
    wrk_threads: WrkThreadsOpt = 1,
    json_path: JsonOpt = None,
    time_limit_s: TimeLimitOpt = None,
    keep_home: KeepHomeOpt = False,
) -> None:
    """Measure the gateway's overhead against calling the complaints service directly, in one run."""
    try:
        load = pick_generator(generator.value, wrk_threads)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    limit = time_limit_s or 90 + rounds * (5 if writes else 3) * (warmup + duration + 15)
    settings: dict[str, object] = {
        "duration_s": duration,
        "connections": connections,
        "warmup_s": warmup,
        "rounds": rounds,
        "writes": writes,
        "database": "postgresql" if postgres_url else "sqlite",
        "wrk_threads": wrk_threads if load.name == "wrk" else None,
        "host_busy_before_pct": check_quiet(),
    }
    try:
        with time_limit(limit), scratch_home(keep_home) as home:
            measurements = run(
                home=home,
                generator=load,
                template=LoadSpec(url="", connections=connections, duration_s=duration),
                warmup_s=warmup,
                rounds=rounds,
                writes=writes,
                seed_count=seed_count,
                api_key=api_key,
                use_admin_key=admin_key,
                postgres_url=postgres_url,
                principal_ttl_s=limit + 60,
                settings=settings,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every child process is stopped[/]")
        raise typer.Exit(130) from None
    except BenchError as exc:
        console.print(f"[red]benchmark failed:[/] {exc}")
        raise typer.Exit(2) from None
    conclude(measurements, load, settings, json_path)


def conclude(
    measurements: list[Measurement], generator: Generator, settings: dict[str, object], json_path: Path | None
) -> None:
    """Report, write the JSON if asked, and exit non-zero when any request failed."""
    comparisons = compare(measurements)
    report(measurements, comparisons, generator)
    if json_path is not None:
        write_json(json_path, settings, measurements, comparisons, generator)
        console.print(f"[dim]results written to {json_path}[/]")
    if any(m.result.errors for m in measurements):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
