"""``careloop``: start the whole platform, show its health, migrate its databases."""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import os
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from careloop_common.drills.cli import drill
from careloop_common.launcher.demo import DEMO_PASSWORD, DEMO_USERS, DemoDataError, load_demo
from careloop_common.launcher.parts import ALL_PARTS, GATEWAY, SERVICES, STAND_INS, Part, part_named
from careloop_common.launcher.supervisor import LaunchError, Supervisor, child_env, install_stop_signals
from careloop_common.settings import ServiceSettings, careloop_home, stored_secret
from careloop_common.simulate.cli import app as simulate_app

app = typer.Typer(
    help="careloop: open customer care for mobile operators.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(simulate_app, name="simulate")
app.command()(drill)
console = Console(highlight=False)

HomeOption = Annotated[
    Path | None, typer.Option("--home", help="state directory (default ./.careloop, or CARELOOP_HOME)")
]


def _use_home(home: Path | None) -> Path:
    if home is not None:
        os.environ["CARELOOP_HOME"] = str(home.resolve())
    path = careloop_home()
    path.mkdir(parents=True, exist_ok=True)
    return path


@app.command()
def up(
    home: HomeOption = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="do not load demo data on first start")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="do not stream the parts' logs")] = False,
) -> None:
    """Start NATS, every service and the gateway in the foreground; Ctrl-C stops them all."""
    state = _use_home(home)
    try:
        code = asyncio.run(_up(state, load_demo_data=not no_demo, quiet=quiet))
    except LaunchError as exc:
        console.print(f"[bold red]careloop up failed:[/] {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


async def _up(home: Path, *, load_demo_data: bool, quiet: bool) -> int:
    admin_key = stored_secret("admin-api-key", "CARELOOP_ADMIN_API_KEY", home)
    principal_secret = stored_secret("principal-secret", "CARELOOP_PRINCIPAL_SECRET", home)
    # Made here, before any service starts, so they cannot race to create different ones.
    stored_secret("customer-ref-secret", "CARELOOP_CUSTOMER_REF_SECRET", home)
    stored_secret("token-secret", "GATEWAY_TOKEN_SECRET", home)
    supervisor = Supervisor(home=home, env={}, console=console, quiet=quiet)
    stop = asyncio.Event()
    install_stop_signals(
        asyncio.get_running_loop(), stop, lambda: console.print("\n[bold]stopping careloop…[/]")
    )
    reaped = supervisor.reap_stale()
    if reaped:
        console.print(f"[yellow]stopped {reaped} process(es) left over from an earlier run[/]")
    supervisor.check_ports()
    try:
        nats_url = await supervisor.start_nats()
        console.print(f"[dim]nats-server on {nats_url} (data in {home / 'nats'})[/]")
        supervisor.env = child_env(home, nats_url, principal_secret, admin_key)
        stand_ins = tuple(s for s in STAND_INS if s.wanted)
        for stand_in in stand_ins:
            await supervisor.start_part(stand_in)
            supervisor.env.update(stand_in.wiring)
            console.print(
                f"[dim]{stand_in.name} stand-in on port {stand_in.port} ({stand_in.replaced_by} unset)[/]"
            )
        await _until_stopped(supervisor.wait_listening(stand_ins), stop)
        for part in SERVICES:
            await supervisor.start_part(part)
        await _until_stopped(supervisor.wait_ready(SERVICES), stop)
        await supervisor.start_part(GATEWAY)
        await _until_stopped(supervisor.wait_ready((GATEWAY,)), stop)
        if stop.is_set():
            return 0
        marker = home / "demo-loaded"
        if load_demo_data and not marker.exists():
            try:
                loaded = await asyncio.to_thread(load_demo, GATEWAY.url, admin_key)
            except (DemoDataError, httpx.HTTPError) as exc:
                raise LaunchError(f"demo data not loaded: {exc}") from exc
            marker.write_text(f"{loaded}\n")
            console.print(f"[green]demo data loaded:[/] {loaded}")
        _print_welcome(admin_key, home)
        return await supervisor.run_until_stopped(stop)
    finally:
        await supervisor.stop_all()
        console.print("[bold]careloop stopped.[/]")


async def _until_stopped(work: object, stop: asyncio.Event) -> None:
    """Await ``work`` unless a stop signal comes first."""
    task = asyncio.ensure_future(work)  # type: ignore[call-overload]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task in done:
        task.result()
    else:
        task.cancel()


def _print_welcome(admin_key: str, home: Path) -> None:
    table = Table(title="careloop is up", show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("URL")
    table.add_row("gateway (the one door)", GATEWAY.url)
    table.add_row("API docs", f"{GATEWAY.url}/docs")
    for part in SERVICES:
        table.add_row(part.name, part.url)
    console.print(table)
    console.print(
        f"admin API key: [bold]{admin_key}[/]  (send 'Authorization: Bearer <key>'; "
        f"stored in {home / 'admin-api-key'})"
    )
    if (home / "demo-loaded").exists():
        names = ", ".join(str(u["username"]) for u in DEMO_USERS)
        console.print(
            f"demo staff users: {names} — password [bold]{DEMO_PASSWORD}[/] (POST /gateway/v1/login)"
        )
    console.print("Ctrl-C stops everything.")


@app.command()
def status(home: HomeOption = None) -> None:
    """Show whether each part answers and is ready."""
    _use_home(home)
    table = Table(show_header=True, header_style="bold")
    for column in ("part", "URL", "ready", "detail"):
        table.add_column(column)
    all_ready = True
    with httpx.Client(timeout=3) as client:
        for part in ALL_PARTS:
            ready, detail = _probe(client, part)
            all_ready &= ready
            table.add_row(part.name, part.url, "[green]yes[/]" if ready else "[red]no[/]", detail)
    console.print(table)
    raise typer.Exit(0 if all_ready else 1)


def _probe(client: httpx.Client, part: Part) -> tuple[bool, str]:
    try:
        response = client.get(f"{part.url}/readyz")
    except httpx.HTTPError as exc:
        return False, f"not answering ({type(exc).__name__})"
    body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
    checks = body.get("checks", {})
    detail = ", ".join(f"{k}={'ok' if v else 'DOWN'}" for k, v in checks.items()) or body.get("status", "")
    return response.status_code == 200, detail


@db_app.command("upgrade")
def db_upgrade(
    home: HomeOption = None,
    service: Annotated[str | None, typer.Option(help="only this service (default: all)")] = None,
) -> None:
    """Bring every service database (or one) to the latest migration."""
    _use_home(home)
    from careloop_common.migrations import upgrade

    parts = [part_named(service)] if service else [p for p in ALL_PARTS if p.has_database]
    for part in parts:
        settings = _settings_of(part)
        migrations = (
            Path(importlib.import_module(f"{part.package}.main").__file__ or "").parent / "migrations"
        )
        upgrade(migrations, settings.database_url)
        console.print(f"[green]✓[/] {part.name}: {_redact(settings.database_url)}")


def _settings_of(part: Part) -> ServiceSettings:
    """Load a part's settings class by name (the launcher never imports service code statically)."""
    module = importlib.import_module(f"{part.package}.settings")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, ServiceSettings)
            and value.__module__ == module.__name__
        ):
            settings: ServiceSettings = value()
            return settings
    raise LookupError(f"no settings class in {module.__name__}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def add_service_commands(cli: typer.Typer) -> None:
    """Add the commands services ship (entry points ``careloop.commands``), e.g. ``careloop campaigns``.

    Found by name, so the launcher still imports no service code of its own accord.
    """
    for entry in importlib.metadata.entry_points(group="careloop.commands"):
        cli.add_typer(entry.load(), name=entry.name)


def main() -> None:
    """Run the CLI."""
    add_service_commands(app)
    app()
