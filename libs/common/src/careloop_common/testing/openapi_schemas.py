"""Check JSON bodies against the component schemas of an OpenAPI 3 document (a test helper).

``validate_against(spec_path, "TroubleTicket", body)`` raises an ``AssertionError`` that lists every
failing path of ``body``; ``schema_errors`` returns the same list instead. Every ``$ref`` is
resolved in the document through a ``jsonschema_rs.Registry``, and ``format`` (``date-time`` …)
is checked.

OpenAPI schemas are not quite JSON Schema; the document is translated to JSON Schema 2020-12 first:

- ``discriminator`` is enforced as OpenAPI means it: the property is required and must be a key
  of the mapping (with ``oneOf``, also the name of a listed schema; with no mapping, the schema's
  own name), and the body is checked against the schema that value names. A plain ``oneOf`` would
  reject TMF bodies, because ``PartyRef`` and ``PartyRoleRef`` (say) accept the same JSON. A
  schema that extends a discriminated one through ``allOf`` extends its body, not its dispatch.
- OpenAPI 3.0 only: ``nullable: true`` allows ``null``; boolean ``exclusiveMinimum`` /
  ``exclusiveMaximum`` become the numeric form; keywords beside a ``$ref`` are ignored.
- So a TMF extension subclass (an ``@type`` the spec does not know, described by
  ``@schemaLocation``) is refused where the spec has a discriminator: these tests check what
  careloop sends, which only ever uses TMF's own types.

Minimal valid TMF621 Trouble Ticket v5.0.1 shapes, as read from the spec (for the complaints
service; ``tests/test_openapi_schemas.py`` checks each):

- ``TroubleTicket`` (a response): ``{"@type": "TroubleTicket"}``. Nothing else is required, not even
  ``id``/``href``. ``status`` must be one of acknowledged, rejected, pending, held, inProgress,
  cancelled, closed, resolved; the dates are RFC 3339 ``date-time`` strings.
- ``TroubleTicket_FVO`` (the POST body): ``{"@type": "TroubleTicket", "description": …,
  "severity": …, "ticketType": …}`` (severity and ticketType are free strings).
- Every nested object is ``Extensible``, so it needs its ``@type`` too: ``note[]``
  ``{"@type": "Note"}``; ``statusChangeHistory[]`` ``{"@type": "StatusChange"}``; ``relatedParty[]``
  ``{"@type": "RelatedPartyRefOrPartyRoleRef", "role": …, "partyOrPartyRole": {"@type":
  "PartyRef" or "PartyRoleRef", "id": …}}`` (an ``EntityRef`` requires ``id``); ``channel``
  ``{"@type": "ChannelRef", "id": …}``; ``relatedEntity[]`` ``{"@type": "RelatedEntity", "role": …,
  "entity": {"@type": …, "id": …}}``.
- Events (``TroubleTicketCreateEvent``, ``…StatusChangeEvent``, ``…AttributeValueChangeEvent``,
  ``…ResolvedEvent``): only ``@type`` is required and it must be the event's schema name; what a
  listener needs is ``{"@type": "TroubleTicketCreateEvent", "eventId": …, "eventTime": <date-time>,
  "eventType": "TroubleTicketCreateEvent", "event": {"troubleTicket": <a TroubleTicket>}}``.
- ``Hub`` (what POST/GET /hub answer): ``{"@type": "Hub", "callback": …}`` plus ``id`` and
  ``query``; ``Hub_FVO`` (the POST /hub body) requires ``@type`` and ``callback`` (``@type`` is
  any string there: no discriminator). The spec has no ``EventSubscription`` schema in v5;
  ``careloop_common.hub.hub_to_tmf`` builds the ``Hub``.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

SCHEMAS = "#/components/schemas/"
BASES = "x-careloop-base"  # where a discriminated schema's own body moves, away from its dispatch

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")


def load_openapi(spec_path: str | Path) -> dict[str, Any]:
    """Read an OpenAPI document from a YAML or JSON file."""
    text = Path(spec_path).read_text(encoding="utf-8")
    document = json.loads(text) if Path(spec_path).suffix == ".json" else yaml.safe_load(text)
    if not isinstance(document, dict) or "openapi" not in document:
        raise ValueError(f"{spec_path} is not an OpenAPI 3 document")
    return document


def validate_against(spec_path: str | Path, schema_name: str, instance: Any) -> None:
    """Assert that ``instance`` matches ``#/components/schemas/<schema_name>``, listing every failure."""
    errors = schema_errors(spec_path, schema_name, instance)
    if errors:
        lines = "\n".join(f"  {error}" for error in errors)
        raise AssertionError(f"body does not match {schema_name} of {Path(spec_path).name}:\n{lines}")


def schema_errors(spec_path: str | Path, schema_name: str, instance: Any) -> list[str]:
    """Return ``"<json pointer>: <message>"`` for each way ``instance`` breaks the schema (none: valid)."""
    validator = _validator(str(Path(spec_path).resolve()), schema_name)
    found = {
        (_pointer(error.instance_path), _short(error.message)) for error in validator.iter_errors(instance)
    }
    return [f"{path}: {message}" for path, message in sorted(found)]


def as_json_schema_document(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of an OpenAPI document whose component schemas are JSON Schema 2020-12."""
    document = copy.deepcopy(spec)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    discriminated = {name for name, schema in schemas.items() if "discriminator" in schema}
    # Subclasses extend these through allOf; unions (oneOf/anyOf) must dispatch wherever they are used.
    extended = {name for name in discriminated if not {"oneOf", "anyOf"} & set(schemas[name])}
    bases: dict[str, Any] = {}
    for name in sorted(discriminated):
        bases[name] = schemas[name]
        schemas[name] = _dispatch(name, bases[name], discriminated)
    document[BASES] = bases
    oas30 = str(spec["openapi"]).startswith("3.0")
    for schema in [*schemas.values(), *bases.values()]:
        _translate(schema, oas30, extended)
    return document


@functools.cache
def _validator(spec_path: str, schema_name: str) -> jsonschema_rs.Validator:
    document, uri = _document(spec_path)
    if schema_name not in document["components"]["schemas"]:
        close = difflib.get_close_matches(schema_name, document["components"]["schemas"], n=3)
        raise KeyError(f"{Path(spec_path).name} has no schema {schema_name!r}; close: {close}")
    registry = jsonschema_rs.Registry([(uri, document)], draft=jsonschema_rs.Draft202012)
    return jsonschema_rs.validator_for(
        {"$ref": f"{uri}{SCHEMAS}{schema_name}"}, registry=registry, validate_formats=True
    )


@functools.cache
def _document(spec_path: str) -> tuple[dict[str, Any], str]:
    return as_json_schema_document(load_openapi(spec_path)), Path(spec_path).as_uri()


def _dispatch(name: str, schema: dict[str, Any], discriminated: set[str]) -> dict[str, Any]:
    """Build the schema that checks the discriminator, then the body against the schema it names."""
    discriminator = schema.pop("discriminator")
    prop = discriminator["propertyName"]
    mapping = {value: _as_ref(target) for value, target in discriminator.get("mapping", {}).items()}
    choices = schema.pop("oneOf", None) or schema.pop("anyOf", None) or []
    for choice in choices:  # OpenAPI's implicit mapping: a listed schema's name selects it
        ref = choice.get("$ref", "")
        if ref.startswith(SCHEMAS):
            mapping.setdefault(ref.removeprefix(SCHEMAS), ref)
    if not mapping:
        mapping = {name: SCHEMAS + name}
    branches = [
        {
            "if": {"properties": {prop: {"const": value}}, "required": [prop]},
            "then": {"$ref": _base_of(target, discriminated)},
        }
        for value, target in sorted(mapping.items())
        if target != SCHEMAS + name
    ]
    return {
        "required": [prop],
        "properties": {prop: {"enum": sorted(mapping)}},
        "allOf": [{"$ref": f"#/{BASES}/{name}"}, *branches],
    }


def _as_ref(target: str) -> str:
    # A mapping value is a reference or, as OpenAPI allows, a bare schema name.
    return target if target.startswith("#") else SCHEMAS + target


def _base_of(ref: str, discriminated: set[str]) -> str:
    name = ref.removeprefix(SCHEMAS)
    return f"#/{BASES}/{name}" if ref.startswith(SCHEMAS) and name in discriminated else ref


def _translate(schema: Any, oas30: bool, extended: set[str]) -> None:
    """Rewrite one schema and its subschemas in place (see the module docstring)."""
    if not isinstance(schema, dict):
        return
    if oas30:
        _from_oas30(schema)
    for part in schema.get("allOf", []):
        # A schema extending a discriminated one takes its body; the dispatch would loop back here.
        if isinstance(part, dict) and isinstance(part.get("$ref"), str):
            part["$ref"] = _base_of(part["$ref"], extended)
    for key in _SCHEMA_MAPS:
        for sub in (schema.get(key) or {}).values():
            _translate(sub, oas30, extended)
    for key in _SCHEMA_LISTS:
        for sub in schema.get(key) or []:
            _translate(sub, oas30, extended)
    for key in _SCHEMA_VALUES:
        if isinstance(schema.get(key), dict):
            _translate(schema[key], oas30, extended)
        elif isinstance(schema.get(key), list):  # draft-4 style tuple items
            for sub in schema[key]:
                _translate(sub, oas30, extended)


def _from_oas30(schema: dict[str, Any]) -> None:
    if "$ref" in schema:
        for key in [key for key in schema if key != "$ref"]:
            del schema[key]  # OpenAPI 3.0 ignores whatever stands beside a $ref
        return
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(schema.get(exclusive), bool) and schema.pop(exclusive) and bound in schema:
            schema[exclusive] = schema.pop(bound)
    if schema.pop("nullable", False):
        _allow_null(schema)


def _allow_null(schema: dict[str, Any]) -> None:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
    elif kind is None:  # a composition (allOf …): null, or whatever it already accepts
        rest = dict(schema)
        schema.clear()
        schema["anyOf"] = [{"type": "null"}, rest]


def _pointer(path: list[str | int]) -> str:
    return "".join(f"/{part}" for part in path) or "(root)"


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
