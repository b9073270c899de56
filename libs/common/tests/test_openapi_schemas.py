"""The OpenAPI schema checker on the TMF621 v5 spec and on the OpenAPI 3.0 quirks it translates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from careloop_common.hub import HubSubscription, hub_to_tmf
from careloop_common.testing.openapi_schemas import load_openapi, schema_errors, validate_against

SPEC_NAME = "TMF621-Trouble_Ticket-v5.0.1.oas.yaml"
SPEC = Path(__file__).resolve().parents[3] / "specs" / SPEC_NAME

EVENTS = [
    "TroubleTicketCreateEvent",
    "TroubleTicketStatusChangeEvent",
    "TroubleTicketAttributeValueChangeEvent",
    "TroubleTicketResolvedEvent",
]


@pytest.fixture(scope="module")
def tmf621() -> Path:
    return SPEC


def full_ticket() -> dict[str, Any]:
    """A ticket as the complaints service might answer, using the nested shapes partners see."""
    return {
        "@type": "TroubleTicket",
        "id": "4a3c",
        "href": "/tmf-api/troubleTicket/v5/troubleTicket/4a3c",
        "description": "No 4G signal at home since Monday",
        "severity": "Major",
        "ticketType": "complaint",
        "status": "acknowledged",
        "creationDate": "2026-11-30T10:00:00Z",
        "lastUpdate": "2026-11-30T10:05:00.123+01:00",
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "originator",
                "partyOrPartyRole": {"@type": "PartyRoleRef", "id": "partner-7", "partyId": "p7"},
            }
        ],
        "note": [{"@type": "Note", "text": "customer called twice", "date": "2026-11-30T10:01:00Z"}],
        "statusChangeHistory": [
            {"@type": "StatusChange", "status": "acknowledged", "statusChangeDate": "2026-11-30T10:00:00Z"}
        ],
        "troubleTicketCharacteristic": [{"@type": "StringCharacteristic", "name": "area", "value": "h3:89"}],
    }


def test_minimal_trouble_ticket_passes(tmf621: Path) -> None:
    validate_against(tmf621, "TroubleTicket", {"@type": "TroubleTicket"})
    validate_against(tmf621, "TroubleTicket", full_ticket())


def test_broken_trouble_ticket_fails_naming_each_path(tmf621: Path) -> None:
    ticket = full_ticket()
    ticket["status"] = "open"
    ticket["creationDate"] = "30/11/2026"
    ticket["note"] = [{"text": "no @type"}]
    ticket["relatedParty"][0]["partyOrPartyRole"]["@type"] = "Party"
    ticket["troubleTicketCharacteristic"][0]["value"] = 7  # a StringCharacteristic's value is a string
    with pytest.raises(AssertionError) as failed:
        validate_against(tmf621, "TroubleTicket", ticket)
    report = str(failed.value)
    for path in (
        "/status:",
        "/creationDate:",
        "/note/0:",
        "/relatedParty/0/partyOrPartyRole/@type:",
        "/troubleTicketCharacteristic/0/value:",
    ):
        assert path in report, report
    assert len(schema_errors(tmf621, "TroubleTicket", ticket)) == 5


def test_type_must_be_the_one_the_discriminator_names(tmf621: Path) -> None:
    assert schema_errors(tmf621, "TroubleTicket", {}) == ['(root): "@type" is a required property']
    assert schema_errors(tmf621, "TroubleTicket", {"@type": "Complaint"}) == [
        '/@type: "Complaint" is not one of "TroubleTicket"'
    ]


def test_party_ref_and_party_role_ref_are_told_apart_by_type(tmf621: Path) -> None:
    # Both accept the same JSON, so a plain oneOf would refuse either; the discriminator picks one.
    for party in ({"@type": "PartyRef", "id": "c1"}, {"@type": "PartyRoleRef", "id": "r1"}):
        related = {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "customer", "partyOrPartyRole": party}
        validate_against(tmf621, "TroubleTicket", {"@type": "TroubleTicket", "relatedParty": [related]})
    missing_id = {"@type": "RelatedPartyRefOrPartyRoleRef", "partyOrPartyRole": {"@type": "PartyRef"}}
    assert schema_errors(tmf621, "RelatedPartyRefOrPartyRoleRef", missing_id) == [
        '/partyOrPartyRole: "id" is a required property'
    ]


def test_create_body_needs_description_severity_and_ticket_type(tmf621: Path) -> None:
    body = {
        "@type": "TroubleTicket",
        "description": "no signal",
        "severity": "Major",
        "ticketType": "complaint",
    }
    validate_against(tmf621, "TroubleTicket_FVO", body)
    assert schema_errors(tmf621, "TroubleTicket_FVO", {"@type": "TroubleTicket", "description": "x"}) == [
        '(root): "severity" is a required property',
        '(root): "ticketType" is a required property',
    ]


@pytest.mark.parametrize("event_type", EVENTS)
def test_trouble_ticket_events(tmf621: Path, event_type: str) -> None:
    event = {
        "@type": event_type,
        "eventId": "e-1",
        "eventTime": "2026-11-30T10:00:00Z",
        "eventType": event_type,
        "event": {"troubleTicket": {"@type": "TroubleTicket", "id": "4a3c", "status": "resolved"}},
    }
    validate_against(tmf621, event_type, event)
    validate_against(tmf621, event_type, {"@type": event_type})
    wrong = {**event, "@type": "TroubleTicketEvent", "event": {"troubleTicket": {"id": "4a3c"}}}
    assert schema_errors(tmf621, event_type, wrong) == [
        f'/@type: "TroubleTicketEvent" is not one of "{event_type}"',
        '/event/troubleTicket: "@type" is a required property',
    ]


def test_hub_resource_and_hub_body(tmf621: Path) -> None:
    subscription = HubSubscription(
        api="troubleTicket",
        callback="https://partner.example/listener",
        query="eventType=TroubleTicketCreateEvent",
    )
    validate_against(tmf621, "Hub", hub_to_tmf(subscription))
    validate_against(tmf621, "Hub_FVO", {"@type": "Hub", "callback": "https://partner.example/listener"})
    assert schema_errors(tmf621, "Hub_FVO", {"@type": "Hub"}) == ['(root): "callback" is a required property']


def test_every_component_schema_of_the_spec_compiles(tmf621: Path) -> None:
    for name in load_openapi(tmf621)["components"]["schemas"]:
        schema_errors(tmf621, name, {"@type": name})  # raises if a reference does not resolve or loops


def test_unknown_schema_name_suggests_close_ones(tmf621: Path) -> None:
    with pytest.raises(KeyError, match="TroubleTicket"):
        validate_against(tmf621, "TroubleTickets", {})


OAS30 = {
    "openapi": "3.0.1",
    "info": {"title": "quirks", "version": "1"},
    "paths": {},
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["petType"],
                "properties": {"petType": {"type": "string"}, "name": {"type": "string", "nullable": True}},
                "discriminator": {
                    "propertyName": "petType",
                    "mapping": {"cat": "Cat", "dog": "#/components/schemas/Dog"},
                },
            },
            "Cat": {
                "allOf": [
                    {"$ref": "#/components/schemas/Pet"},
                    {"properties": {"lives": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}}},
                ]
            },
            "Dog": {
                "allOf": [
                    {"$ref": "#/components/schemas/Pet"},
                    {"required": ["bark"], "properties": {"bark": {"type": "string"}}},
                ]
            },
            "Owner": {
                "type": "object",
                "properties": {
                    # OpenAPI 3.0 ignores a $ref's siblings: this is a Pet, not a string.
                    "pet": {"$ref": "#/components/schemas/Pet", "type": "string"},
                    "since": {"allOf": [{"$ref": "#/components/schemas/Day"}], "nullable": True},
                    "mood": {"type": "string", "enum": ["calm"], "nullable": True},
                },
            },
            "Day": {"type": "string", "format": "date"},
        }
    },
}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_openapi_30_quirks_are_translated(tmp_path: Path, suffix: str) -> None:
    spec = tmp_path / f"quirks{suffix}"
    spec.write_text(json.dumps(OAS30) if suffix == ".json" else yaml.safe_dump(OAS30))

    validate_against(
        spec, "Owner", {"pet": {"petType": "cat", "name": None, "lives": 1}, "since": None, "mood": None}
    )
    validate_against(spec, "Owner", {"pet": {"petType": "dog", "bark": "woof"}, "since": "2026-11-30"})
    assert schema_errors(spec, "Owner", {"pet": {"petType": "dog"}, "since": "monday", "mood": "grumpy"}) == [
        '/mood: "grumpy" is not one of "calm" or null',
        '/pet: "bark" is a required property',
        "/since: \"monday\" is not valid under any of the schemas listed in the 'anyOf' keyword",
    ]
    assert schema_errors(spec, "Pet", {"petType": "cat", "lives": 0}) == [
        "/lives: 0 is less than or equal to the minimum of 0"
    ]
    assert schema_errors(spec, "Pet", {"petType": "fish"}) == [
        '/petType: "fish" is not one of "cat" or "dog"'
    ]
