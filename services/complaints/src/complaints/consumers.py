"""Handlers for other services' events and for commands addressed to complaints."""

from careloop_common.inbox import ConsumerSpec


def specs() -> list[ConsumerSpec]:
    """Return the durable consumers this service runs (coverage answers arrive with the complaints issue)."""
    return []
