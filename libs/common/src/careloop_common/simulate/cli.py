"""``careloop simulate …``: a synthetic operator's data to files, or its traffic to this machine."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from careloop_common.settings import DEFAULT_NATS_URL, careloop_home
from careloop_common.simulate import population, send, streams

app = typer.Typer(
    help="A synthetic operator: subscribers, plans, contacts, feed streams and complaints, from a seed.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(highlight=False)

GATEWAY_URL = "http://127.0.0.1:8080"
SeedOption = Annotated[int, typer.Option(help="the same seed gives the same operator, byte for byte")]
SubscribersOption = Annotated[
    int, typer.Option(min=1, max=5_000_000, help="how many subscribers the traffic is drawn from")
]
RateOption = Annotated[float, typer.Option(min=0.01, max=100_000, help="items a second")]
DurationOption = Annotated[
    float, typer.Option(min=0.1, max=send.MAX_DURATION_S, help="stop after this many seconds")
]
CountOption = Annotated[
    int | None,
    typer.Option(min=1, max=send.MAX_COUNT, help="stop after this many (default: rate x duration)"),
]
ShareOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="share of mainland (+86) subscribers, mostly in Fujian")
]
StartOption = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%dT%H:%M:%S%z"],
        help="the streams' clock starts here, e.g. 2026-12-01T09:00:00+0800 (default: that; fixed)",
    ),
]


class FeedTarget(StrEnum):
    """Where feed events go."""

    file = "file"
    nats = "nats"
    api = "api"


class ComplaintTarget(StrEnum):
    """Where complaints go."""

    file = "file"
    api = "api"


@app.command("plans")
def plans(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the catalogue (JSON)")],
) -> None:
    """Write the plan catalogue as JSON: {plan_id: terms}, each as PUT /campaigns/v1/plans/{id} takes it."""
    file.write_text(json.dumps(population.PLANS, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    console.print(f"wrote {len(population.PLANS)} plans to {file}")


@app.command("subscribers")
def subscribers(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write (.csv or .parquet)")],
    rows: Annotated[int, typer.Option(min=1, max=50_000_000, help="how many subscribers")] = 3_000,
    seed: SeedOption = population.DEMO_SEED,
    mainland_share: ShareOption = population.MAINLAND_SHARE,
    contacts: Annotated[
        Path | None, typer.Option(dir_okay=False, help="also write the contact graph here (CSV)")
    ] = None,
) -> None:
    """Write subscribers in the bulk-import layout (``careloop campaigns import FILE`` reads it)."""
    started = time.perf_counter()
    writer = population.write_parquet if file.suffix.lower() == ".parquet" else population.write_csv
    try:
        written = writer(file, population.audience_rows(rows, seed=seed, mainland_share=mainland_share))
    except ImportError:  # pyarrow comes with campaigns, not with careloop_common itself
        console.print("[bold red]Parquet needs pyarrow[/] (installed with careloop-campaigns); write .csv")
        raise typer.Exit(2) from None
    console.print(f"wrote {written:,} subscribers to {file} in {time.perf_counter() - started:.1f} s")
    if contacts is not None:
        people = population.population(rows, seed=seed, mainland_share=mainland_share)
        edges = population.write_contacts(contacts, population.contact_rows(people, seed))
        console.print(f"wrote {edges:,} contacts to {contacts}")


@app.command("feeds")
def feeds(
    to: Annotated[FeedTarget, typer.Option(help="file (JSON lines), nats (JetStream) or api (the gateway)")],
    out: Annotated[Path | None, typer.Option(dir_okay=False, help="the file, with --to file")] = None,
    rate: RateOption = 100.0,
    duration: DurationOption = 10.0,
    count: CountOption = None,
    subscribers: SubscribersOption = population.DEMO_SUBSCRIBERS,
    seed: SeedOption = population.DEMO_SEED,
    mainland_share: ShareOption = population.MAINLAND_SHARE,
    start: StartOption = None,
    nats_url: Annotated[
        str | None, typer.Option(help="with --to nats (default CARELOOP_NATS_URL, else careloop up's)")
    ] = None,
    url: Annotated[str, typer.Option(help="the gateway, with --to api")] = GATEWAY_URL,
    api_key: Annotated[
        str | None, typer.Option(help="a key with feeds:write (default: the home's admin key)")
    ] = None,
) -> None:
    """Send operator feed events (BSS, CRM, network) at a rate, bounded by count and time."""
    people = population.population(subscribers, seed=seed, mainland_share=mainland_share)
    stream = streams.FeedStream(people, seed=seed, rate=rate, start=start or streams.DEFAULT_START)
    limit = count or max(1, int(rate * duration))
    if to is FeedTarget.file:
        path = _needs(out, "--out")
        written = send.write_jsonl(path, send.event_lines(stream), limit)
        console.print(f"wrote {written:,} feed events to {path}")
        return
    try:
        if to is FeedTarget.nats:
            target = nats_url or os.environ.get("CARELOOP_NATS_URL") or DEFAULT_NATS_URL
            sent = asyncio.run(send.to_nats(target, stream, rate=rate, count=limit, duration_s=duration))
        else:
            key = api_key or _admin_key()
            sent = asyncio.run(
                send.to_feeds_api(url, key, stream, rate=rate, count=limit, duration_s=duration)
            )
    except (send.NotLocal, ConnectionError, OSError) as exc:
        console.print(f"[bold red]not sent:[/] {exc}")
        raise typer.Exit(2) from None
    _print_sent(sent, "feed events")


@app.command("complaints")
def complaints(
    to: Annotated[ComplaintTarget, typer.Option(help="api (file them through the gateway) or file")],
    out: Annotated[Path | None, typer.Option(dir_okay=False, help="the file, with --to file")] = None,
    rate: RateOption = 5.0,
    duration: DurationOption = 10.0,
    count: CountOption = None,
    subscribers: SubscribersOption = population.DEMO_SUBSCRIBERS,
    seed: SeedOption = population.DEMO_SEED,
    url: Annotated[str, typer.Option(help="the gateway, with --to api")] = GATEWAY_URL,
    api_key: Annotated[
        str | None, typer.Option(help="a key with complaints:write (default: the home's admin key)")
    ] = None,
) -> None:
    """File complaints, coverage ones concentrated around weak-coverage spots, bounded by count and time."""
    people = population.population(subscribers, seed=seed)
    stream = streams.ComplaintStream(people, seed=seed)
    limit = count or max(1, int(rate * duration))
    if to is ComplaintTarget.file:
        path = _needs(out, "--out")
        lines = (json.dumps(body, separators=(",", ":")).encode() for body in stream)
        written = send.write_jsonl(path, lines, limit)
        console.print(f"wrote {written:,} complaints to {path}")
        return
    try:
        sent = asyncio.run(
            send.to_complaints_api(
                url,
                api_key or _admin_key(),
                stream,
                rate=rate,
                count=limit,
                duration_s=duration,
                key_prefix=f"simulate-{seed}",
            )
        )
    except (send.NotLocal, OSError) as exc:
        console.print(f"[bold red]not sent:[/] {exc}")
        raise typer.Exit(2) from None
    _print_sent(sent, "complaints")


def _needs(value: Path | None, option: str) -> Path:
    if value is None:
        console.print(f"[bold red]{option} is needed here[/]")
        raise typer.Exit(2)
    return value


def _admin_key() -> str:
    """Return the admin key ``careloop up`` keeps (CARELOOP_ADMIN_API_KEY, else the home's file)."""
    if os.environ.get("CARELOOP_ADMIN_API_KEY"):
        return os.environ["CARELOOP_ADMIN_API_KEY"]
    path = careloop_home() / "admin-api-key"
    if not path.exists():
        console.print(
            "[bold red]no API key:[/] pass --api-key, or run from where `careloop up` keeps its home"
        )
        raise typer.Exit(2)
    return path.read_text().strip()


def _print_sent(sent: send.Sent, what: str) -> None:
    """Print how many went, how fast, by kind, and the first failures."""
    console.print(
        f"sent [bold]{sent.sent:,}[/] {what} in {sent.seconds:.1f} s ({sent.rate:,.0f}/s)"
        + (f", [red]{sent.failed:,} failed[/]" if sent.failed else "")
    )
    for kind, n in sorted(sent.kinds.items()):
        console.print(f"  {kind}: {n:,}")
    for problem in sent.problems:
        console.print(f"  [red]{problem}[/]")
    if sent.failed:
        raise typer.Exit(1)
