"""Test helpers: real NATS, real databases, services running in-process or on real sockets."""

from careloop_common.testing.helpers import (
    TEST_PRINCIPAL_SECRET,
    LiveServer,
    auth_headers,
    read_dead_letters,
    running_app,
    service_settings,
    wait_until,
)

__all__ = [
    "TEST_PRINCIPAL_SECRET",
    "LiveServer",
    "auth_headers",
    "read_dead_letters",
    "running_app",
    "service_settings",
    "wait_until",
]
