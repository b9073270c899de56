"""Versioned event and command contracts shared by every service (CloudEvents 1.0 envelopes).

Importing this package registers every contract, so any consumer can decode any event type.
"""

from careloop_common.events import complaints, contact, coverage, feeds
from careloop_common.events.envelope import (
    CloudEvent,
    EventContract,
    MalformedEvent,
    contract,
    contract_for,
    decode_payload,
    new_event,
    registered_contracts,
)

__all__ = [
    "CloudEvent",
    "EventContract",
    "MalformedEvent",
    "complaints",
    "contact",
    "contract",
    "contract_for",
    "coverage",
    "decode_payload",
    "feeds",
    "new_event",
    "registered_contracts",
]
