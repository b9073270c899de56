"""The platform a drill runs against: every service and the gateway as child processes on free ports,
a real nats-server, SQLite files in a scratch home and the SMPP stand-in SMSC in this process (so a
drill can take it down, throttle it and count what it took)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from careloop_common.launcher.parts import ALL_PARTS, GATEWAY, SERVICES, STAND_INS, Part, part_named
from careloop_common.launcher.supervisor import Child, Supervisor, _die_with_parent, child_env
from careloop_common.natsserver import NatsServer, free_port

if TYPE_CHECKING:  # the stand-in is loaded by name at run time: careloop_common imports no service
    from contact_gateway.standins.smsc import SmscStandIn

# Short leases and waits, so a killed process's work is taken over in seconds, not the production
# defaults' 15 s (outbox) and 30 s (redelivery); the mechanisms are the same.
TUNING = {
    "CARELOOP_OUTBOX_POLL_INTERVAL_S": "0.2",
    "CARELOOP_OUTBOX_LEASE_S": "3",
    "CARELOOP_CONSUMER_ACK_WAIT_S": "5",
    "CARELOOP_LOG_JSON": "true",
    "CONTACT_QUIET_HOURS": json.dumps({"service": "", "care": ""}),
    "CONTACT_DISPATCH_POLL_S": "0.05",
    "CONTACT_SEND_LEASE_S": "5",
    "CONTACT_RETRY_BASE_S": "0.2",
    "GATEWAY_RATE_LIMIT_API_KEY": "100000",
}


def _port_variables() -> list[str]:
    return [f"{p.env_prefix}PORT" for p in (*ALL_PARTS, *STAND_INS)] + ["CARELOOP_NATS_PORT"]


@dataclass
class DrillPlatform:
    """Start, break and mend the platform; the scratch ``home`` keeps its databases and logs."""

    home: Path
    console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    admin_key: str = field(default_factory=lambda: "drill-" + secrets.token_hex(16))
    supervisor: Supervisor | None = None
    smsc: SmscStandIn | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        """Return the gateway's base URL (the one door the load goes through)."""
        return GATEWAY.url

    @property
    def nats(self) -> NatsServer:
        """Return the running nats-server."""
        assert self.supervisor is not None
        assert self.supervisor.nats is not None
        return self.supervisor.nats

    @property
    def nats_url(self) -> str:
        """Return the NATS client URL."""
        return self.nats.url

    def database(self, service: str) -> Path:
        """Return the SQLite file of a service (named as its settings name it)."""
        return self.home / f"{service}.db"

    async def start(self) -> None:
        """Start NATS, the stand-in SMSC, every service and the gateway; wait until all are ready."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._claim_free_ports()
        self.supervisor = Supervisor(home=self.home, env={}, console=self.console, quiet=True)
        self.supervisor.nats = NatsServer(
            self.home / "nats", port=int(os.environ["CARELOOP_NATS_PORT"]), log_file=self.home / "nats.log"
        )
        self.nats.start(15.0, preexec_fn=_die_with_parent)
        smsc_module = importlib.import_module("contact_gateway.standins.smsc")
        self.smsc = smsc_module.SmscStandIn(port=free_port(), receipt_delay_s=0.2)
        await self.smsc.start()
        env = child_env(self.home, self.nats_url, "drill-principal-" + secrets.token_hex(16), self.admin_key)
        env.update(TUNING)
        env["CARELOOP_CUSTOMER_REF_SECRET"] = "drill-customer-" + secrets.token_hex(16)
        env["CONTACT_SMSC_URLS"] = (
            f"smpp://careloop:careloop@127.0.0.1:{self.smsc.port}?window=10&throughput=200"
        )
        for part in ALL_PARTS:
            env.pop(f"{part.env_prefix}DATABASE_URL", None)  # each service on its own file in home
        env.pop("CARELOOP_DATABASE_URL", None)
        self.supervisor.env = env
        for part in SERVICES:
            await self.supervisor.start_part(part)
        await self.supervisor.wait_ready(SERVICES, timeout_s=120)
        await self.supervisor.start_part(GATEWAY)
        await self.supervisor.wait_ready((GATEWAY,), timeout_s=60)

    async def stop(self) -> None:
        """Stop everything and give the ports back."""
        with contextlib.suppress(Exception):
            if self.supervisor is not None:
                await self.supervisor.stop_all()
        if self.smsc is not None:
            await self.smsc.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _claim_free_ports(self) -> None:
        """Move every part to a free port (Part.port reads the environment), remembering the old values."""
        for name in _port_variables():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = str(free_port())

    # ── faults ──────────────────────────────────────────────────────────────────────────────────

    def child(self, name: str) -> Child:
        """Return the running child process of a part."""
        assert self.supervisor is not None
        for child in self.supervisor.children:
            if child.name == name and child.process.returncode is None:
                return child
        raise LookupError(f"{name} is not running")

    async def kill(self, name: str) -> None:
        """SIGKILL a part: no shutdown hook runs, leases stay held, nothing is flushed."""
        assert self.supervisor is not None
        child = self.child(name)
        child.process.kill()
        await child.process.wait()
        # Forgotten, so the supervisor does not take the planned death for a failed start.
        self.supervisor.children.remove(child)

    async def restart(self, name: str) -> None:
        """Start a part again on its port and database, and wait until it is ready."""
        assert self.supervisor is not None
        part: Part = part_named(name)
        await self.supervisor.start_part(part)
        await self.supervisor.wait_ready((part,), timeout_s=120)

    async def stop_nats(self) -> None:
        """Stop the broker (its JetStream store stays)."""
        await asyncio.to_thread(self.nats.stop)

    async def start_nats(self) -> None:
        """Start the broker again on the same port and store."""
        # From this thread on purpose: PDEATHSIG fires when the forking *thread* exits.
        self.nats.start(15.0, preexec_fn=_die_with_parent)

    async def ready(self, timeout_s: float = 120) -> None:
        """Wait until every part answers /readyz again."""
        assert self.supervisor is not None
        await self.supervisor.wait_ready((*SERVICES, GATEWAY), timeout_s=timeout_s)

    def log_tail(self, name: str, lines: int = 20) -> list[str]:
        """Return the last lines a part logged."""
        path = self.home / "logs" / f"{name}.log"
        if not path.exists():
            return []
        return path.read_text(errors="replace").splitlines()[-lines:]


def smsc_texts(smsc: Any) -> list[tuple[str, str]]:
    """Return (destination, text) of every whole message the stand-in SMSC accepted."""
    return list(smsc.messages())
