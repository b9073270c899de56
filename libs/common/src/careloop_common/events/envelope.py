"""CloudEvents 1.0 envelope and the registry of versioned event contracts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPEC_VERSION = "1.0"


class EventContract(BaseModel):
    """Base of every event and command payload; subclasses name their subject and version.

    A change that would break a consumer is a new class with a higher ``version`` on the same
    subject; the old class stays so consumers can read both while producers move over.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def event_type(cls) -> str:
        """Return the CloudEvents ``type``: the subject plus the contract version."""
        return f"{cls.subject}.v{cls.version}"

    @classmethod
    def dataschema(cls) -> str:
        """Return the URN naming this payload schema and version."""
        return f"urn:careloop:events:{cls.subject}:v{cls.version}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON envelope."""

    model_config = ConfigDict(extra="allow")

    specversion: str = SPEC_VERSION
    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def nats_subject(self) -> str:
        """Return the NATS subject this event travels on (its type without the version suffix)."""
        head, _, tail = self.type.rpartition(".")
        return head if tail.startswith("v") and tail[1:].isdigit() else self.type

    def to_json(self) -> bytes:
        """Serialise the envelope as compact JSON bytes."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> CloudEvent:
        """Parse an envelope, raising ``MalformedEvent`` with the reason when it is not one."""
        try:
            event = cls.model_validate_json(raw)
        except ValidationError as exc:
            raise MalformedEvent(f"not a CloudEvents 1.0 envelope: {_first_error(exc)}") from exc
        if event.specversion != SPEC_VERSION:
            raise MalformedEvent(f"unsupported specversion {event.specversion!r}")
        return event


class MalformedEvent(ValueError):
    """A message that is not a valid envelope or payload; it goes to the dead-letter subject."""


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


_REGISTRY: dict[str, type[EventContract]] = {}
C = TypeVar("C", bound=type[EventContract])


def contract(cls: C) -> C:
    """Register an event contract class so envelopes of its type can be decoded."""
    key = cls.event_type()
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise RuntimeError(f"two contracts claim event type {key}")
    _REGISTRY[key] = cls
    return cls


def contract_for(event_type: str) -> type[EventContract] | None:
    """Return the registered contract class for a CloudEvents type, if any."""
    return _REGISTRY.get(event_type)


def registered_contracts() -> dict[str, type[EventContract]]:
    """Return every registered contract by event type (for docs and tests)."""
    return dict(_REGISTRY)


def new_event(
    payload: EventContract,
    *,
    source: str,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap a contract payload in a fresh CloudEvents envelope."""
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=payload.event_type(),
        time=time or datetime.now(UTC),
        subject=subject,
        dataschema=payload.dataschema(),
        data=payload.model_dump(mode="json"),
    )


def decode_payload(event: CloudEvent) -> EventContract:
    """Validate an envelope's data against its registered contract, or raise ``MalformedEvent``."""
    cls = contract_for(event.type)
    if cls is None:
        raise MalformedEvent(f"unknown event type {event.type!r}")
    try:
        return cls.model_validate(event.data)
    except ValidationError as exc:
        raise MalformedEvent(f"payload does not match {event.type}: {_first_error(exc)}") from exc
