"""The platform's parts as the launcher sees them: names, packages, ports, the variables that move them."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_NATS_PORT = 4322  # not 4222: a NATS the machine already runs must not clash with ours


@dataclass(frozen=True)
class Part:
    """One deployable started by ``careloop up``."""

    name: str
    package: str
    env_prefix: str
    default_port: int
    colour: str
    has_database: bool = True

    @property
    def port(self) -> int:
        """Return the port, from ``<PREFIX>PORT`` if set."""
        return int(os.environ.get(f"{self.env_prefix}PORT", self.default_port))

    @property
    def host(self) -> str:
        """Return the host, from ``<PREFIX>HOST`` or ``CARELOOP_HOST`` if set."""
        return os.environ.get(f"{self.env_prefix}HOST") or os.environ.get("CARELOOP_HOST", "127.0.0.1")

    @property
    def url(self) -> str:
        """Return the base URL the part answers on."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def command(self, python: str) -> list[str]:
        """Return the command line that runs this part."""
        return [
            python,
            "-m",
            "uvicorn",
            f"{self.package}.main:create_app",
            "--factory",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "10",
        ]


SERVICES: tuple[Part, ...] = (
    Part("coverage-map", "coverage_map", "COVERAGE_", 8102, "green"),
    Part("complaints", "complaints", "COMPLAINTS_", 8101, "cyan"),
    Part("campaigns", "campaigns", "CAMPAIGNS_", 8103, "magenta"),
    Part("contact-gateway", "contact_gateway", "CONTACT_", 8104, "yellow"),
    Part("web", "web", "WEB_", 8105, "blue", has_database=False),
)
GATEWAY = Part("gateway", "gateway", "GATEWAY_", 8080, "bright_white")
ALL_PARTS: tuple[Part, ...] = (*SERVICES, GATEWAY)


@dataclass(frozen=True)
class StandIn(Part):
    """A stand-in for a system outside careloop (an SMSC, a voice platform), started for the demo
    only while the variable that would point careloop at the real one is unset."""

    module: str = ""
    replaced_by: str = ""  # the variable naming the real system
    url_template: str = ""  # what ``replaced_by`` is set to for the stand-in
    options: tuple[str, ...] = ()

    @property
    def wanted(self) -> bool:
        """Say whether to start it: no real system is configured."""
        return not os.environ.get(self.replaced_by)

    @property
    def wiring(self) -> dict[str, str]:
        """Return the variables that point careloop at this stand-in."""
        return {self.replaced_by: self.url_template.format(port=self.port)}

    def command(self, python: str) -> list[str]:
        """Return the command line that runs this stand-in."""
        return [python, "-m", self.module, "--host", "127.0.0.1", "--port", str(self.port), *self.options]


STAND_INS: tuple[StandIn, ...] = (
    StandIn(
        "smsc",
        "",
        "CARELOOP_SMSC_",
        2775,
        "bright_black",
        has_database=False,
        module="contact_gateway.standins.smsc",
        replaced_by="CONTACT_SMSC_URLS",
        url_template="smpp://careloop:careloop@127.0.0.1:{port}?window=10&throughput=200",
        options=("--receipt-delay", "1.5", "--keep", "10000"),
    ),
    StandIn(
        "voice",
        "",
        "CARELOOP_VOICE_",
        8088,
        "bright_black",
        has_database=False,
        module="contact_gateway.standins.ari",
        replaced_by="CONTACT_VOICE_URL",
        url_template="ari://careloop:careloop@127.0.0.1:{port}?app=careloop",
        options=("--ring-s", "2"),
    ),
)


def part_named(name: str) -> Part:
    """Return a part by name, or raise KeyError listing the names."""
    for part in ALL_PARTS:
        if part.name == name:
            return part
    raise KeyError(f"no part named {name!r}; parts: {', '.join(p.name for p in ALL_PARTS)}")


def nats_port() -> int:
    """Return the embedded NATS port (``CARELOOP_NATS_PORT``)."""
    return int(os.environ.get("CARELOOP_NATS_PORT", DEFAULT_NATS_PORT))


def external_nats_url() -> str | None:
    """Return ``CARELOOP_NATS_URL`` when the operator points at a NATS of their own."""
    return os.environ.get("CARELOOP_NATS_URL") or None
