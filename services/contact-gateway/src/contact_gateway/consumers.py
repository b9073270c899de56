"""Handlers for other services' events and for commands addressed to contact-gateway."""

from careloop_common.inbox import ConsumerSpec


def specs() -> list[ConsumerSpec]:
    """Return the durable consumers this service runs."""
    return []
