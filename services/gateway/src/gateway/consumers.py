"""The gateway consumes no events."""

from careloop_common.inbox import ConsumerSpec


def specs() -> list[ConsumerSpec]:
    """Return the durable consumers the gateway runs: none."""
    return []
