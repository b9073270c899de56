"""``careloop drill <name>``: run fault drills against a platform of its own and print what they counted."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from careloop_common.drills.faults import Outcome, catalogue, run_drill
from careloop_common.drills.load import Load
from careloop_common.drills.platform import DrillPlatform
from careloop_common.launcher.supervisor import LaunchError

console = Console(highlight=False)
# Wide enough for the table in a log or a CI run, where there is no terminal to measure.
wide = Console(highlight=False, width=max(console.width, 140))

# `all` runs the quick ones first, so a broken platform shows before the long outages.
ORDER = (
    "poison-event",
    "smsc-throttle",
    "smsc-outage",
    "db-readonly",
    "nats-outage",
    "kill-complaints",
    "kill-coverage-map",
    "kill-contact-gateway",
    "kill-campaigns",
    "kill-web",
    "kill-gateway",
)


def drill(
    name: Annotated[
        str, typer.Argument(help=f"one of: {', '.join(ORDER)}; several, comma-separated; or all")
    ],
    seconds: Annotated[float, typer.Option(help="how long NATS stays down (the SMSC: at most 10 s)")] = 30.0,
    complaints: Annotated[int, typer.Option(min=1, max=10_000, help="complaints filed per drill")] = 30,
    sends: Annotated[int, typer.Option(min=1, max=10_000, help="SMS sent per drill")] = 30,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write the results here")] = None,
    home: Annotated[
        Path | None, typer.Option(help="scratch directory for databases and logs (default: a temporary one)")
    ] = None,
) -> None:
    """Run a fault drill (or all) on a platform of its own; exit 1 unless nothing was lost or doubled."""
    names = list(ORDER) if name == "all" else [n.strip() for n in name.split(",") if n.strip()]
    unknown = [n for n in names if n not in catalogue(seconds)]
    if unknown:
        console.print(f"[red]no drill named {name!r}[/]; drills: {', '.join(ORDER)}, all")
        raise typer.Exit(2)
    with tempfile.TemporaryDirectory(prefix="careloop-drill-") as scratch:
        state = (home or Path(scratch)).resolve()
        try:
            outcomes = asyncio.run(run_drills(names, state, seconds, complaints, sends))
        except LaunchError as exc:
            console.print(f"[bold red]the platform failed:[/] {exc}")
            raise typer.Exit(1) from exc
    wide.print(outcome_table(outcomes))
    for outcome in outcomes:
        for line in [*outcome.failures, *outcome.tally.missing[:10], *outcome.tally.doubled[:10]]:
            console.print(f"[red]{outcome.name}:[/] {line}")
    if json_path is not None:
        json_path.write_text(json.dumps([o.as_dict() for o in outcomes], indent=2) + "\n")
    raise typer.Exit(0 if all(o.passed for o in outcomes) else 1)


async def run_drills(
    names: Sequence[str], home: Path, seconds: float, complaints: int, sends: int
) -> list[Outcome]:
    """Start one platform, run the drills on it one after another, stop it."""
    platform = DrillPlatform(home)
    faults = catalogue(seconds)
    outcomes = []
    console.print(f"[dim]starting the platform in {home}…[/]")
    try:
        await platform.start()
        for name in names:
            console.print(f"[bold]drill {name}[/] …")
            outcome = await run_drill(platform, name, faults[name], Load(complaints=complaints, sends=sends))
            verdict = "[green]passed[/]" if outcome.passed else "[red]FAILED[/]"
            console.print(f"  {verdict} in {outcome.seconds:.0f} s")
            outcomes.append(outcome)
    finally:
        await platform.stop()
    return outcomes


def outcome_table(outcomes: Sequence[Outcome]) -> Table:
    """Return the drills' counts as a table."""
    table = Table(title="careloop fault drills", header_style="bold")
    for column in (
        "drill",
        "accepted",
        "published",
        "applied",
        "sent",
        "duplicated",
        "lost",
        "500s",
        "resent in flight",
        "seconds",
        "result",
    ):
        table.add_column(column, justify="left" if column in ("drill", "result") else "right")
    for o in outcomes:
        t = o.tally
        table.add_row(
            o.name,
            str(t.accepted),
            str(t.published),
            str(t.applied),
            str(t.sent),
            str(t.duplicated),
            str(t.lost),
            str(o.server_errors),
            str(t.resent_in_flight),
            f"{o.seconds:.0f}",
            "[green]pass[/]" if o.passed else "[red]FAIL[/]",
        )
    return table
