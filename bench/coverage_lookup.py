"""Coverage lookups: the bare endpoint, the lookup direct, and the lookup through the gateway, in one run.

Starts nats-server, coverage-map and the gateway as child processes (uvicorn, one worker each, the
command line `careloop up` uses; the gateway's other upstreams point at a closed port) in a throwaway
CARELOOP_HOME on free ports, creates an API key through the gateway's admin API, seeds one area
(an assessment with a plan, then published wording), and applies the same closed-loop load to:

  baseline        GET /healthz on coverage-map: the bare framework and middleware
  direct          GET /coverage/v1/lookup for the seeded point, with the principal the gateway forwards
  gateway         the same lookup through the gateway, with the API key
  direct-spread   lookups cycling over --spread points in as many other areas (the cache mostly cold)
  gateway-spread  the same through the gateway (its own areas, so it does not reuse direct's answers)

It reports throughput, latency percentiles, errors and each process's CPU, and whether lookups
through the gateway reach at least half of the bare endpoint's throughput (a report, not a failure).
Reuses gateway_overhead.py's process handling and loadgen.py's generators. See bench/README.md.

    uv run python bench/coverage_lookup.py --duration 8
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import h3
import httpx
import typer
from gateway_overhead import (
    CHILD,
    AdminKeyOpt,
    ApiKeyOpt,
    BenchError,
    ConnectionsOpt,
    Credential,
    DurationOpt,
    GeneratorChoice,
    GeneratorOpt,
    JsonOpt,
    KeepHomeOpt,
    Measurement,
    RoundsOpt,
    Scenario,
    Server,
    TimeLimitOpt,
    WarmupOpt,
    WrkThreadsOpt,
    caveats,
    check_quiet,
    child_env,
    console,
    credential,
    describe,
    generator_version,
    machine,
    measure,
    preflight,
    representatives,
    scratch_home,
    start_server,
    table,
    time_limit,
    wait_answers,
)
from loadgen import Generator, LoadSpec, pick_generator

from careloop_common.auth import PRINCIPAL_HEADER, sign_principal
from careloop_common.natsserver import NatsServer, free_port

TARGET_OF_BARE = 0.50  # the target: lookups through the gateway reach half of /healthz's throughput
POINT = (22.2819, 114.1582)  # Central, Hong Kong: the seeded area
RESOLUTION = 8  # coverage-map's default area resolution
LOOKUP = "/coverage/v1/lookup"
CACHE_TTL_S = 5.0  # coverage-map's default lookup_cache_s: how long a replica reuses an answer
PROCESSES = ("coverage-map", "gateway", "generator")
CAPTION = (
    "latency in ms; CPU in % of one core: svc coverage-map, gw gateway, gen load generator, "
    "rest everything else on the machine (nats-server, other work)"
)


# ------------------------------------------------------------------------------- the services


@dataclass(frozen=True)
class Stack:
    """The running coverage-map service and gateway."""

    coverage: Server
    gateway: Server

    def cpu_s(self) -> dict[str, float]:
        """Return each server's CPU seconds so far."""
        return {"coverage-map": self.coverage.cpu_s(), "gateway": self.gateway.cpu_s()}


@contextlib.contextmanager
def running_stack(home: Path, admin_key: str, secret: str) -> Iterator[Stack]:
    """Run nats-server, coverage-map and the gateway in ``home``; stop them all on the way out."""
    (home / "logs").mkdir(parents=True, exist_ok=True)
    nats = NatsServer(home / "nats", log_file=home / "logs" / "nats.log")
    servers: list[Server] = []
    try:
        try:
            nats.start(15.0, **CHILD)
        except (OSError, RuntimeError) as exc:  # TimeoutError is an OSError
            raise BenchError(f"nats-server did not start: {exc}") from exc
        coverage_port, gateway_port, closed_port = free_port(), free_port(), free_port()
        env = child_env(home, nats.url, secret, admin_key, f"sqlite+aiosqlite:///{home / 'complaints.db'}")
        closed = f"http://127.0.0.1:{closed_port}"  # nothing listens: this run does not start them
        env |= {
            "COVERAGE_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'coverage-map.db'}",
            "COVERAGE_PORT": str(coverage_port),
            "GATEWAY_COVERAGE_MAP_URL": f"http://127.0.0.1:{coverage_port}",
            "GATEWAY_COMPLAINTS_URL": closed,
            "GATEWAY_CAMPAIGNS_URL": closed,
            "GATEWAY_CONTACT_GATEWAY_URL": closed,
            "GATEWAY_WEB_URL": closed,
        }
        servers.append(start_server("coverage-map", "coverage_map.main:create_app", coverage_port, env, home))
        servers.append(start_server("gateway", "gateway.main:create_app", gateway_port, env, home))
        coverage, gateway = servers
        wait_answers(coverage, "/readyz")
        # The gateway's /readyz wants the upstreams this run does not start: liveness is enough.
        wait_answers(gateway, "/healthz")
        yield Stack(coverage, gateway)
    finally:
        for server in reversed(servers):
            server.stop()
        nats.stop()


def seed(gateway: Server, bearer: dict[str, str], area_id: str) -> None:
    """Give the area an assessment with a plan and publish its wording, through the gateway."""
    next_year = datetime.now(UTC).year + 1
    assessment = {
        "levels": {"4G": {"voice": "weak", "data": "weak"}},
        "plan": {
            "action": "indoor_system",
            "target_date": f"{next_year}-03-31",
            "expected_levels": {"4G": {"voice": "good"}},
        },
    }
    steps = [(f"/coverage/v1/areas/{area_id}/assessments", assessment)]
    steps.append((f"/coverage/v1/areas/{area_id}/wording/publish", {}))
    with httpx.Client(base_url=gateway.url, headers=bearer, timeout=10) as client:
        for path, body in steps:
            response = client.post(path, json=body)
            if not response.is_success:
                raise BenchError(f"seeding POST {path}: {response.status_code} {response.text[:500]}")


# ------------------------------------------------------------------------------- the scenarios


def lookup_path(lat: float, lng: float) -> str:
    """Return the lookup's path and query for a point."""
    return f"{LOOKUP}?lat={lat:.6f}&lng={lng:.6f}&lang=en"


def spread_paths(centre: str, count: int, blocks: int) -> list[list[str]]:
    """Return ``blocks`` lists of ``count`` lookup paths, each point the centre of a different area.

    The areas ring the centre (which none of them is), nearest first; no area is in two lists.
    """
    cells: list[str] = []
    ring = 1
    while len(cells) < count * blocks:
        cells += sorted(h3.grid_ring(centre, ring))
        ring += 1
    found = []
    for block in range(blocks):
        paths = []
        for cell in cells[block * count : (block + 1) * count]:
            lat, lng = h3.cell_to_latlng(cell)
            if h3.latlng_to_cell(round(lat, 6), round(lng, 6), RESOLUTION) != cell:
                raise BenchError(f"the rounded centre of {cell} falls outside it")
            paths.append(lookup_path(lat, lng))
        found.append(paths)
    return found


def scenarios(
    stack: Stack, who: Credential, principal: dict[str, str], load: LoadSpec, spread: int
) -> list[Scenario]:
    """Return the scenarios in the order they run: the bare endpoint, then direct and gateway side by side."""
    coverage, gateway = stack.coverage.url, stack.gateway.url
    hot, shown = lookup_path(*POINT), f"{LOOKUP}?lat=..&lng=..&lang=en"
    found = [
        Scenario("baseline", "coverage-map", "/healthz", replace(load, url=coverage + "/healthz")),
        Scenario("direct", "coverage-map", shown, replace(load, url=coverage + hot, headers=principal)),
        Scenario("gateway", "gateway", shown, replace(load, url=gateway + hot, headers=who.bearer)),
    ]
    if spread:
        # Each spread scenario, and each warm-up, walks areas of its own: none starts on answers
        # another left in the cache (they live 5 s; the scenarios follow each other closer than that).
        centre = h3.latlng_to_cell(*POINT, RESOLUTION)
        direct, direct_warm, through, through_warm = spread_paths(centre, spread, 4)
        shown = f"{LOOKUP} over {spread:,} areas"
        for name, base, headers, paths, warm in (
            ("direct-spread", coverage, principal, direct, direct_warm),
            ("gateway-spread", gateway, who.bearer, through, through_warm),
        ):
            spec = replace(load, url=base + paths[0], headers=headers, paths=tuple(paths))
            via = "coverage-map" if base == coverage else "gateway"
            found.append(Scenario(name, via, shown, spec, warmup=replace(spec, paths=tuple(warm))))
    return found


def check_answer(stack: Stack, principal: dict[str, str]) -> str:
    """Return what the lookup answers for the seeded point (``published`` when seeding worked)."""
    with httpx.Client(timeout=10) as client:
        response = client.get(stack.coverage.url + lookup_path(*POINT), headers=principal)
    if not response.is_success:
        raise BenchError(f"lookup of the seeded point: {response.status_code} {response.text[:500]}")
    return str(response.json()["answer"])


# ---------------------------------------------------------------------------------- the ratios


@dataclass(frozen=True)
class Ratio:
    """One scenario's throughput as a share of another's, per round, and the target if it has one."""

    name: str
    of: str
    to: str
    ratios: list[float]
    target: float | None = None

    @property
    def ratio(self) -> float:
        """Return the median over rounds."""
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool | None:
        """Tell whether the target is met (None: no target)."""
        return None if self.target is None else self.ratio >= self.target

    def to_json(self) -> dict[str, object]:
        """Return the ratio as JSON-ready data."""
        return {
            "name": self.name,
            "of": self.of,
            "to": self.to,
            "throughput_ratio": round(self.ratio, 3),
            "throughput_ratio_per_round": [round(r, 3) for r in self.ratios],
            "target_ratio": self.target,
            "target_met": self.met,
        }


RATIOS = (
    ("gateway / direct", "gateway", "direct", None),
    ("gateway / bare", "gateway", "baseline", TARGET_OF_BARE),
    ("direct / bare", "direct", "baseline", None),
    ("gateway / direct, spread", "gateway-spread", "direct-spread", None),
    ("gateway / bare, spread", "gateway-spread", "baseline", TARGET_OF_BARE),
    ("direct / bare, spread", "direct-spread", "baseline", None),
)


def ratios(measurements: list[Measurement]) -> list[Ratio]:
    """Compare scenarios round by round (each round's runs were made close together)."""
    by_key = {(m.scenario.name, m.round): m.result.rps for m in measurements}
    rounds = sorted({m.round for m in measurements})
    found = []
    for name, of, to, target in RATIOS:
        if all((of, r) in by_key and (to, r) in by_key for r in rounds):
            per_round = [by_key[of, r] / by_key[to, r] if by_key[to, r] else 0.0 for r in rounds]
            found.append(Ratio(name, of, to, per_round, target))
    return found


def cache_estimate(m: Measurement) -> dict[str, float] | None:
    """Estimate how often a spread scenario was answered from coverage-map's cache.

    Walking ``n`` areas in a cycle at ``rps``, each is asked every ``n / rps`` seconds; its answer
    is built once and then reused for 5 s, so about ``1 - interval / 5 s`` of the asks are hits.
    """
    paths = len(m.scenario.load.paths)
    if not paths or not m.result.rps:
        return None
    interval = paths / m.result.rps
    return {
        "areas": paths,
        "revisit_s": round(interval, 2),
        "hit_share": round(max(0.0, 1 - interval / CACHE_TTL_S), 3),
    }


# ---------------------------------------------------------------------------------- reporting


def report(measurements: list[Measurement], found: list[Ratio], generator: Generator) -> None:
    """Print the table, the ratios and the verdict, and what limits the numbers."""
    shown = representatives(measurements)
    rounds = len({m.round for m in measurements})
    console.print(table(shown, rounds, "coverage lookups", CAPTION, PROCESSES))
    for r in found:
        per_round = f" (median of {', '.join(f'{v:.0%}' for v in r.ratios)})" if rounds > 1 else ""
        verdict = ""
        if r.target is not None:
            verdict = f" (target ≥ {r.target:.0%}: {'[green]met[/]' if r.met else '[red]NOT met[/]'})"
        console.print(f"{r.name}: [bold]{r.ratio:.0%}[/]{per_round}{verdict}")
    for m in shown:
        if m.scenario.name == "baseline":
            continue
        cpu = ", ".join(f"{who} {m.cpu_us_per_request(who):,.0f}" for who in PROCESSES[:2])
        line = f"{m.scenario.name}: µs CPU per request: {cpu}"
        estimate = cache_estimate(m)
        if estimate is not None:
            line += (
                f"; each of {estimate['areas']:,.0f} areas asked every {estimate['revisit_s']:.1f} s "
                f"against a {CACHE_TTL_S:.0f} s cache: ~{estimate['hit_share']:.0%} cache hits"
            )
        console.print(line)
    console.print(
        f"[dim]The load generator ({generator.name}) runs on the same {os.cpu_count()} cores as "
        "nats-server, coverage-map and the gateway: compare the ratios, not absolute req/s.[/]"
    )
    for m in shown:
        for caveat in caveats(m):
            console.print(f"[yellow]{m.scenario.name}: {caveat}[/]")
    for m in measurements:
        if m.result.errors:
            where = f"{m.scenario.name} (round {m.round})" if rounds > 1 else m.scenario.name
            console.print(f"[red]{where}: {m.result.errors} errors: {m.result.error_kinds}[/]")


def write_json(
    path: Path,
    settings: dict[str, object],
    measurements: list[Measurement],
    found: list[Ratio],
    generator: Generator,
) -> None:
    """Write the run's settings, machine, results and verdicts as JSON."""
    document = {
        "benchmark": "coverage_lookup",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "generator": generator_version(generator),
        "settings": settings,
        "scenarios": [
            {**m.to_json(), "caveats": caveats(m), "cache_estimate": cache_estimate(m)} for m in measurements
        ],
        "ratios": [r.to_json() for r in found],
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
    spread: int,
    api_key: str | None,
    use_admin_key: bool,
    principal_ttl_s: int,
    settings: dict[str, object],
) -> list[Measurement]:
    """Start the stack, seed it, and measure every scenario; everything started is stopped on return."""
    admin_key, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    console.print("starting nats-server, coverage-map and the gateway …")
    with running_stack(home, admin_key, secret) as stack:
        who = credential(stack.gateway, admin_key, api_key, use_admin_key)
        settings["credential"] = who.kind
        console.print(f"gateway scenarios authenticate with: {describe(who)}")
        principal = {PRINCIPAL_HEADER: sign_principal(who.principal, secret, ttl_s=principal_ttl_s)}
        area_id = h3.latlng_to_cell(*POINT, RESOLUTION)
        seed(stack.gateway, who.bearer, area_id)
        answer = check_answer(stack, principal)
        settings["seeded_area"], settings["seeded_answer"] = area_id, answer
        if answer != "published":
            console.print(f"[yellow]the seeded point answers {answer!r}, not 'published'[/]")
        found = scenarios(stack, who, principal, template, spread)
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


# ---------------------------------------------------------------------------------------- CLI


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    duration: DurationOpt = 10,
    connections: ConnectionsOpt = 32,
    warmup: WarmupOpt = 1,
    rounds: RoundsOpt = 1,
    spread: Annotated[
        int,
        typer.Option(
            min=0, max=20_000, help="also look up this many points in as many areas (0: only the hot point)"
        ),
    ] = 2000,
    api_key: ApiKeyOpt = None,
    admin_key: AdminKeyOpt = False,
    generator: GeneratorOpt = GeneratorChoice.auto,
    wrk_threads: WrkThreadsOpt = 1,
    json_path: JsonOpt = None,
    time_limit_s: TimeLimitOpt = None,
    keep_home: KeepHomeOpt = False,
) -> None:
    """Measure coverage lookups: bare endpoint, direct, and through the gateway with an API key."""
    try:
        load = pick_generator(generator.value, wrk_threads)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    limit = time_limit_s or 90 + rounds * (5 if spread else 3) * (warmup + duration + 15)
    settings: dict[str, object] = {
        "duration_s": duration,
        "connections": connections,
        "warmup_s": warmup,
        "rounds": rounds,
        "spread": spread,
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
                spread=spread,
                api_key=api_key,
                use_admin_key=admin_key,
                principal_ttl_s=limit + 60,
                settings=settings,
            )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: every child process is stopped[/]")
        raise typer.Exit(130) from None
    except BenchError as exc:
        console.print(f"[red]benchmark failed:[/] {exc}")
        raise typer.Exit(2) from None
    found = ratios(measurements)
    report(measurements, found, load)
    if json_path is not None:
        write_json(json_path, settings, measurements, found, load)
        console.print(f"[dim]results written to {json_path}[/]")
    if any(m.result.errors for m in measurements):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
