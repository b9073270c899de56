"""Start every part as a child process, stream their logs, and stop them all together."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.text import Text

from careloop_common.launcher.parts import (
    ALL_PARTS,
    GATEWAY,
    SERVICES,
    STAND_INS,
    Part,
    StandIn,
    external_nats_url,
    nats_port,
    part_named,
)
from careloop_common.natsserver import NatsServer, nats_server_binary, port_open

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to the child when the launcher dies, even by kill -9."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LaunchError(RuntimeError):
    """Something prevented the platform from starting; the message says what to do."""


@dataclass
class Child:
    """A running part."""

    name: str
    colour: str
    process: asyncio.subprocess.Process
    log_path: Path
    tail: list[str] = field(default_factory=list)


@dataclass
class Supervisor:
    """Owns the children of one ``careloop up``."""

    home: Path
    env: dict[str, str]
    console: Console
    quiet: bool = False
    children: list[Child] = field(default_factory=list)
    nats: NatsServer | None = None
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid_file(self) -> Path:
        """Return where the children's pids are recorded (to clean up after a kill -9)."""
        return self.home / "run" / "pids.json"

    def reap_stale(self) -> int:
        """Stop children a previous launcher left behind (it was killed before it could)."""
        if not self.pid_file.exists():
            return 0
        try:
            recorded = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            recorded = []
        stale = []
        for entry in recorded:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(entry["pid"])
                # Only a process we started: same start time, so a recycled pid is left alone.
                if abs(proc.create_time() - entry["started"]) < 1.0:
                    stale.append(proc)
        for proc in stale:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _gone, alive = psutil.wait_procs(stale, timeout=10)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.pid_file.unlink(missing_ok=True)
        return len(stale)

    def check_ports(self) -> None:
        """Fail early, naming the variable to change, when a port we need is taken."""
        parts = [*ALL_PARTS, *(s for s in STAND_INS if s.wanted)]
        wanted = [(p.name, p.host, p.port, f"{p.env_prefix}PORT") for p in parts]
        if not external_nats_url():
            wanted.append(("nats", "127.0.0.1", nats_port(), "CARELOOP_NATS_PORT"))
        busy = [w for w in wanted if port_open("127.0.0.1" if w[1] in ("0.0.0.0", "::") else w[1], w[2])]
        if busy:
            lines = "\n".join(
                f"  {name}: port {port} is in use (set {var} to move it)" for name, _, port, var in busy
            )
            raise LaunchError(f"cannot start, ports taken:\n{lines}")

    async def start_nats(self) -> str:
        """Start the bundled nats-server (or use CARELOOP_NATS_URL) and return its URL."""
        url = external_nats_url()
        if url:
            return url
        try:
            nats_server_binary()
        except FileNotFoundError as exc:
            raise LaunchError(str(exc)) from exc
        self.nats = NatsServer(self.home / "nats", port=nats_port(), log_file=self.home / "logs" / "nats.log")
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        # Started from the main thread on purpose: PDEATHSIG fires when the forking *thread* exits.
        self.nats.start(15.0, preexec_fn=_die_with_parent)
        self._record_pids()
        return self.nats.url

    async def start_part(self, part: Part) -> Child:
        """Start one part as a child process with its output streamed."""
        log_path = self.home / "logs" / f"{part.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            *part.command(sys.executable),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        child = Child(part.name, part.colour, process, log_path)
        self.children.append(child)
        self._pumps.append(asyncio.create_task(self._pump(child)))
        self._record_pids()
        return child

    async def wait_listening(self, stand_ins: tuple[StandIn, ...], timeout_s: float = 30.0) -> None:
        """Wait until every stand-in accepts connections, failing fast if one exits."""
        deadline = time.monotonic() + timeout_s
        pending = list(stand_ins)
        while pending:
            self._fail_on_exit()
            pending = [s for s in pending if not port_open("127.0.0.1", s.port)]
            if pending and time.monotonic() > deadline:
                raise LaunchError(
                    f"not listening after {timeout_s:.0f}s: {', '.join(s.name for s in pending)}"
                )
            if pending:
                await asyncio.sleep(0.1)

    def _fail_on_exit(self) -> None:
        for child in self.children:
            if child.process.returncode is not None:
                tail = "\n".join(child.tail[-15:])
                raise LaunchError(f"{child.name} exited with code {child.process.returncode}:\n{tail}")

    async def wait_ready(self, parts: tuple[Part, ...], timeout_s: float = 90.0) -> None:
        """Wait until every part answers /readyz with 200, failing fast if one exits."""
        deadline = time.monotonic() + timeout_s
        pending = {p.name: p for p in parts}
        async with httpx.AsyncClient(timeout=2) as client:
            while pending:
                self._fail_on_exit()
                for name, part in list(pending.items()):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{part.url}/readyz")).status_code == 200:
                            del pending[name]
                if pending and time.monotonic() > deadline:
                    raise LaunchError(
                        f"not ready after {timeout_s:.0f}s: {', '.join(pending)} "
                        f"(logs in {self.home / 'logs'})"
                    )
                if pending:
                    await asyncio.sleep(0.2)

    async def run_until_stopped(self, stop: asyncio.Event) -> int:
        """Wait for a stop signal or an unexpected exit of a child; return the exit code."""
        waits = [asyncio.create_task(c.process.wait()) for c in self.children]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in (*waits, stopper):
            task.cancel()
        if stopper in done:
            return 0
        for child in self.children:
            if child.process.returncode is not None:
                self.console.print(
                    f"[red]{child.name} stopped unexpectedly (code {child.process.returncode})[/]"
                )
        return 1

    async def stop_all(self, timeout_s: float = 15.0) -> None:
        """Stop the gateway first, then the services, then NATS; kill what does not stop in time."""
        for child in reversed(self.children):
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.process.wait() for c in self.children)), timeout_s)
        for child in self.children:
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self.nats is not None:
            await asyncio.to_thread(self.nats.stop)
        self.pid_file.unlink(missing_ok=True)

    def _record_pids(self) -> None:
        entries = []
        pids = [c.process.pid for c in self.children]
        if self.nats is not None and self.nats.process is not None:
            pids.append(self.nats.process.pid)
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                entries.append({"pid": pid, "started": psutil.Process(pid).create_time()})
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(json.dumps(entries))

    async def _pump(self, child: Child) -> None:
        assert child.process.stdout is not None
        with child.log_path.open("ab") as log:
            while line := await child.process.stdout.readline():
                log.write(line)
                log.flush()
                text = line.decode(errors="replace").rstrip()
                child.tail = [*child.tail[-49:], text]
                if not self.quiet:
                    self.console.print(
                        Text(f"{child.name:>15} │ ", style=child.colour) + _readable(text),
                        soft_wrap=True,
                        highlight=False,
                    )


def _readable(line: str) -> Text:
    """Show a JSON log line as level + message (+ request id); other lines as they are."""
    if not line.startswith("{"):
        return Text(line)
    try:
        record = json.loads(line)
    except ValueError:
        return Text(line)
    level = str(record.get("level", "INFO"))
    style = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow"}.get(level, "")
    extra = f"  [{record['request_id']}]" if record.get("request_id") else ""
    return Text(f"{level:<7} {record.get('message', '')}{extra}", style=style)


def install_stop_signals(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, on_signal: Callable[[], None]
) -> None:
    """Turn SIGINT and SIGTERM (to us or our process group) into one orderly stop."""

    def handler() -> None:
        on_signal()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, handler)


def child_env(home: Path, nats_url: str, principal_secret: str, admin_key: str) -> dict[str, str]:
    """Return the environment every child gets: the caller's, plus the platform's wiring."""
    env = dict(os.environ)
    env.update(
        {
            "CARELOOP_HOME": str(home),
            "CARELOOP_NATS_URL": nats_url,
            "CARELOOP_PRINCIPAL_SECRET": principal_secret,
            "CARELOOP_ADMIN_API_KEY": admin_key,
            "PYTHONUNBUFFERED": "1",
        }
    )
    for part in SERVICES:
        env.setdefault(f"GATEWAY_{part.package.upper()}_URL", part.url)
    # Intake asks coverage-map for the area's answer while the agent waits.
    env.setdefault("COMPLAINTS_COVERAGE_URL", part_named("coverage-map").url)
    env.setdefault("GATEWAY_PORT", str(GATEWAY.port))
    # The pages call the platform through the gateway only, server-side.
    env.setdefault("WEB_GATEWAY_URL", GATEWAY.url)
    return env
