"""Service settings: environment variables with a per-service prefix, falling back to CARELOOP_."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_NATS_URL = "nats://127.0.0.1:4322"


def careloop_home() -> Path:
    """Return the directory that holds all local state (``CARELOOP_HOME``, default ``./.careloop``)."""
    return Path(os.environ.get("CARELOOP_HOME", ".careloop")).resolve()


def default_sqlite_url(service: str) -> str:
    """Return the embedded default database URL of a service: one SQLite file under careloop_home()."""
    return f"sqlite+aiosqlite:///{careloop_home() / (service + '.db')}"


def async_database_url(url: str) -> str:
    """Return ``url`` with the async driver named: ``postgresql://`` becomes ``postgresql+asyncpg://``.

    Operators hand out plain URLs (CloudNativePG's ``<cluster>-app`` secret has ``uri`` as
    ``postgresql://user:pass@host:5432/db``); the services speak to PostgreSQL through asyncpg.
    """
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    return url


def stored_secret(name: str, env: str, home: Path | None = None) -> str:
    """Return a secret from the environment, else from ``.careloop/<name>``, creating it once."""
    if os.environ.get(env):
        return os.environ[env]
    path = (home or careloop_home()) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


class ServiceSettings(BaseSettings):
    """Settings every service shares; subclasses set ``service_name`` and ``env_prefix``.

    A value is looked up as ``<PREFIX>_<FIELD>`` first (``COMPLAINTS_DATABASE_URL``), then as
    ``CARELOOP_<FIELD>`` (``CARELOOP_NATS_URL``), then in ``.env``, then the default — so one
    variable can configure the whole platform and a service-specific one can override it.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = ""
    db_pool_size: int = Field(default=0, description="0 = choose by database (1 writer for SQLite)")
    db_echo: bool = False
    nats_url: str = DEFAULT_NATS_URL
    nats_connect_timeout_s: float = 2.0
    nats_stream_replicas: int = Field(
        default=1, ge=1, le=5, description="servers that keep each JetStream stream (3 on a 3-node cluster)"
    )
    principal_secret: str = Field(default="", description="HMAC key the gateway signs principals with")
    customer_ref_secret: str = Field(
        default="", description="HMAC key of customer pseudonyms (customer_ref); the same on every service"
    )
    log_level: str = "INFO"
    log_json: bool = True
    tracing: bool = Field(default=False, description="trace even without an OTLP endpoint")
    otel_exporter_otlp_endpoint: str = Field(default="", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    outbox_poll_interval_s: float = 1.0
    outbox_batch_size: int = 200
    outbox_lease_s: float = Field(
        default=15.0, gt=0, description="how long a crashed process's outbox relay lease blocks its successor"
    )
    consumer_max_deliver: int = 5
    consumer_ack_wait_s: float = 30.0
    run_migrations: bool = True
    run_background: bool = Field(default=True, description="run the outbox relay and consumers")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    def model_post_init(self, context: Any, /) -> None:
        """Fill in defaults that depend on the service (port, database file)."""
        if not self.port:
            self.port = self.default_port
        if not self.database_url:
            self.database_url = default_sqlite_url(self.service_name)
        if not self.principal_secret:
            # `careloop up` writes the platform's shared secret here; a deployment sets the variable.
            stored = careloop_home() / "principal-secret"
            if stored.exists():
                self.principal_secret = stored.read_text().strip()
        if not self.customer_ref_secret:
            # Made once per CARELOOP_HOME so every local service derives the same pseudonyms; a
            # deployment sets CARELOOP_CUSTOMER_REF_SECRET on every service instead.
            self.customer_ref_secret = stored_secret("customer-ref-secret", "CARELOOP_CUSTOMER_REF_SECRET")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Look up the service prefix first, then the platform-wide CARELOOP_ prefix."""
        platform_env = EnvSettingsSource(settings_cls, env_prefix="CARELOOP_")
        return init_settings, env_settings, platform_env, dotenv_settings, file_secret_settings
