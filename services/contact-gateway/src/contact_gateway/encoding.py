"""SMS text for SMPP 3.4: choose GSM 7-bit or UCS-2, split into concatenated parts, read receipts.

GSM text goes out unpacked (one septet per octet, data_coding 0x00) and the SMSC packs it; UCS-2 is
UTF-16-BE. A split message carries the 6-byte concatenation UDH (``05 00 03 ref total seq``) and
esm_class 0x40. Delivery receipts follow SMPP 3.4 Appendix B, with the TLVs preferred when present.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import gsm0338  # type: ignore[import-untyped]  # registers the "gsm03.38" codec; ships no type hints

GSM7 = "gsm7"
UCS2 = "ucs2"

DATA_CODING_GSM = 0x00
DATA_CODING_UCS2 = 0x08
ESM_CLASS_UDHI = 0x40
ESM_CLASS_RECEIPT = 0x04

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427

_GSM_CODEC: str = gsm0338.Codec.NAME  # "gsm03.38"
_ESCAPE = 0x1B
_SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
# A part loses 6 octets to the UDH: 7 septets once the SMSC packs GSM text, 3 UTF-16 code units in UCS-2.
_PART_LIMIT = {GSM7: 153, UCS2: 67}
_MAX_PARTS = 255  # the UDH's total and sequence are single octets
_IEI_CONCAT_8BIT = 0x00
_IEI_CONCAT_16BIT = 0x08


def _gsm_septets() -> dict[str, int]:
    """Return the septets each GSM character costs, read from the gsm0338 codec itself."""
    septets: dict[str, int] = {}
    for value in range(0x80):
        if value == _ESCAPE:
            continue  # 0x1B only introduces an extension character; a lone one is not text
        septets[bytes([value]).decode(_GSM_CODEC)] = 1
        with contextlib.suppress(UnicodeDecodeError):  # most positions have no extension character
            septets[bytes([_ESCAPE, value]).decode(_GSM_CODEC)] = 2
    return septets


_GSM_SEPTETS = _gsm_septets()


@dataclass(frozen=True)
class EncodedSms:
    """A text ready for submit_sm: one short_message body per part, and the fields that go with them."""

    encoding: str
    data_coding: int
    esm_class: int
    parts: tuple[bytes, ...]
    characters: int

    @property
    def segments(self) -> int:
        """Return how many submit_sm PDUs (and billed messages) the text takes."""
        return len(self.parts)


@dataclass(frozen=True)
class Concatenation:
    """The concatenation information element of a part: which message, how many parts, which one."""

    reference: int
    total: int
    sequence: int


def choose_encoding(text: str) -> str:
    """Return GSM7 when every character is in the GSM default alphabet or its extension, else UCS2."""
    return GSM7 if all(char in _GSM_SEPTETS for char in text) else UCS2


def count_segments(text: str) -> tuple[str, int]:
    """Return the encoding and the number of parts the text takes, without building the parts."""
    _require_text(text)
    encoding = choose_encoding(text)
    return encoding, len(_part_spans(text, encoding))


def encode_sms(text: str, reference: int) -> EncodedSms:
    """Encode text for submit_sm, split with a concatenation UDH using ``reference`` (0-255) if it is long."""
    _require_text(text)
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"concatenation reference must be 0-255, not {reference}")
    encoding = choose_encoding(text)
    data_coding = DATA_CODING_GSM if encoding == GSM7 else DATA_CODING_UCS2
    bodies = [_encode_text(text[start:end], encoding) for start, end in _part_spans(text, encoding)]
    if len(bodies) == 1:
        return EncodedSms(encoding, data_coding, 0x00, (bodies[0],), len(text))
    parts = tuple(
        _concatenation_udh(reference, len(bodies), seq) + body for seq, body in enumerate(bodies, 1)
    )
    return EncodedSms(encoding, data_coding, ESM_CLASS_UDHI, parts, len(text))


def split_udh(body: bytes, esm_class: int) -> tuple[Concatenation | None, bytes]:
    """Split a short_message into its concatenation info (if any) and its text octets.

    Without the UDHI bit in esm_class the body is all text. Raises ValueError when the UDH is malformed.
    """
    if not esm_class & ESM_CLASS_UDHI:
        return None, body
    if not body or 1 + body[0] > len(body):
        raise ValueError("user data header is longer than the short_message")
    header, text = body[1 : 1 + body[0]], body[1 + body[0] :]
    concatenation = None
    for iei, data in _information_elements(header):
        if iei == _IEI_CONCAT_8BIT and len(data) == 3:
            concatenation = Concatenation(reference=data[0], total=data[1], sequence=data[2])
        elif iei == _IEI_CONCAT_16BIT and len(data) == 4:
            reference = int.from_bytes(data[:2], "big")
            concatenation = Concatenation(reference=reference, total=data[2], sequence=data[3])
    return concatenation, text


def decode_short_message(body: bytes, data_coding: int, esm_class: int = 0) -> str:
    """Return the text of a short_message, without its UDH; undecodable octets become U+FFFD.

    Raises ValueError when esm_class announces a UDH that is malformed.
    """
    _, octets = split_udh(body, esm_class)
    return octets.decode(_codec_for(data_coding), errors="replace")


def _require_text(text: str) -> None:
    """Refuse an empty message: an SMSC would deliver nothing, yet bill it."""
    if not text:
        raise ValueError("an SMS needs at least one character")


def _costs(text: str, encoding: str) -> Iterator[int]:
    """Yield the units each character takes: septets in GSM, UTF-16 code units in UCS-2."""
    if encoding == GSM7:
        return (_GSM_SEPTETS[char] for char in text)
    return (2 if ord(char) > 0xFFFF else 1 for char in text)


def _part_spans(text: str, encoding: str) -> list[tuple[int, int]]:
    """Return the (start, end) character slices of each part.

    Whole characters only: a GSM escape stays with its extension character and a UCS-2
    surrogate pair (an emoji) stays whole, even if that leaves a part one unit short.
    """
    costs = list(_costs(text, encoding))
    if sum(costs) <= _SINGLE_LIMIT[encoding]:
        return [(0, len(text))]
    limit = _PART_LIMIT[encoding]
    spans: list[tuple[int, int]] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > limit:
            spans.append((start, index))
            start, used = index, 0
        used += cost
    spans.append((start, len(text)))
    if len(spans) > _MAX_PARTS:
        raise ValueError(f"text needs {len(spans)} parts; concatenation allows at most {_MAX_PARTS}")
    return spans


def _encode_text(text: str, encoding: str) -> bytes:
    """Return the octets of text in the chosen encoding (GSM unpacked, UCS-2 as UTF-16-BE)."""
    return text.encode(_GSM_CODEC) if encoding == GSM7 else text.encode("utf-16-be")


def _concatenation_udh(reference: int, total: int, sequence: int) -> bytes:
    """Return the 6-byte UDH: length 5, IEI 0x00 (8-bit reference concatenation), IE length 3."""
    return bytes([0x05, _IEI_CONCAT_8BIT, 0x03, reference, total, sequence])


def _information_elements(header: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (IEI, data) for each information element of a UDH."""
    position = 0
    while position + 2 <= len(header):
        iei, length = header[position], header[position + 1]
        data = header[position + 2 : position + 2 + length]
        if len(data) != length:
            raise ValueError("user data header element runs past the header")
        yield iei, data
        position += 2 + length


# SMPP 3.4 data_coding 0x00-0x0F name the alphabet directly; 0x01 (IA5) is read as GSM because
# SMSCs that send it mostly mean their default alphabet.
_SMPP_CODECS: dict[int, str] = {
    0x00: _GSM_CODEC,
    0x01: _GSM_CODEC,
    0x02: "latin-1",
    0x03: "latin-1",
    0x04: "latin-1",
    0x05: "shift_jis",
    0x06: "iso8859_5",
    0x07: "iso8859_8",
    0x08: "utf-16-be",
    0x0A: "iso2022_jp",
    0x0D: "euc_jis_2004",
    0x0E: "euc_kr",
}


def _codec_for(data_coding: int) -> str:
    """Return the Python codec for a data_coding, reading values above 0x0F as a GSM 03.38 DCS."""
    if data_coding <= 0x0F:
        return _SMPP_CODECS.get(data_coding, "latin-1")
    if data_coding & 0xF0 == 0xF0:  # data coding/message class group: bit 2 says 8-bit data
        return "latin-1" if data_coding & 0x04 else _GSM_CODEC
    if data_coding <= 0x3F:  # general data coding group: bits 3-2 name the alphabet
        return {0x00: _GSM_CODEC, 0x04: "latin-1", 0x08: "utf-16-be"}.get(data_coding & 0x0C, "latin-1")
    if data_coding & 0xF0 == 0xE0:  # message waiting group, UCS-2
        return "utf-16-be"
    if data_coding & 0xE0 == 0xC0:  # message waiting group, default alphabet
        return _GSM_CODEC
    return "latin-1"  # reserved values: every octet still shows as something


# ── Delivery receipts (SMPP 3.4 Appendix B) ─────────────────────────────────────────────────────

DELIVRD = "DELIVRD"
EXPIRED = "EXPIRED"
DELETED = "DELETED"
UNDELIV = "UNDELIV"
ACCEPTD = "ACCEPTD"
UNKNOWN = "UNKNOWN"
REJECTD = "REJECTD"
ENROUTE = "ENROUTE"

# message_state TLV values (SMPP 3.4 section 5.2.28) and the Appendix B stat word of each.
MESSAGE_STATES: dict[int, str] = {
    1: ENROUTE,
    2: DELIVRD,
    3: EXPIRED,
    4: DELETED,
    5: UNDELIV,
    6: ACCEPTD,
    7: UNKNOWN,
    8: REJECTD,
}
STATE_CODES: dict[str, int] = {state: code for code, state in MESSAGE_STATES.items()}
# Some SMSCs write the state in full, or in message_state's own words, rather than the 7-letter form.
_STATE_ALIASES = {
    "DELIVERED": DELIVRD,
    "UNDELIVERABLE": UNDELIV,
    "ACCEPTED": ACCEPTD,
    "REJECTED": REJECTD,
    "DELETE": DELETED,
}
_RECEIPT_TEXT_LENGTH = 20  # Appendix B: the first 20 characters of the message
_DATE_FORMAT = "%y%m%d%H%M"


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: which message, its final (or intermediate) state, and when."""

    message_id: str
    state: str
    error: str | None
    submitted_at: datetime | None
    done_at: datetime | None


def format_receipt(
    message_id: str,
    state: str,
    *,
    error: str = "000",
    submitted_at: datetime,
    done_at: datetime,
    text: str = "",
) -> bytes:
    """Return the Appendix B receipt text an SMSC puts in a deliver_sm's short_message.

    Aware datetimes are written in UTC; the text keeps its first 20 characters, non-ASCII as "?".
    """
    if state not in STATE_CODES:
        raise ValueError(f"unknown receipt state {state!r}; one of {', '.join(STATE_CODES)}")
    delivered = "001" if state == DELIVRD else "000"
    receipt = (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{_receipt_date(submitted_at)}"
        f" done date:{_receipt_date(done_at)} stat:{state} err:{error} text:{text[:_RECEIPT_TEXT_LENGTH]}"
    )
    return receipt.encode("ascii", errors="replace")


def parse_receipt(short_message: bytes, tlvs: Sequence[tuple[int, bytes]] = ()) -> Receipt | None:
    """Read a delivery receipt from a deliver_sm, or return None if it is not one.

    The receipted_message_id and message_state TLVs win over the text, whose keys are read in any
    case and any of whose fields may be missing. Dates carry no zone in Appendix B; they are read as UTC.
    """
    fields = _receipt_fields(short_message.decode("latin-1"))
    tlv_values = dict(tlvs)
    message_id = _tlv_message_id(tlv_values) or fields.get("id")
    state = _tlv_state(tlv_values) or _normalise_state(fields.get("stat"))
    if not message_id or not state:
        return None
    return Receipt(
        message_id=message_id,
        state=state,
        error=fields.get("err"),
        submitted_at=_parse_receipt_date(fields.get("submit date")),
        done_at=_parse_receipt_date(fields.get("done date")),
    )


def _receipt_date(moment: datetime) -> str:
    """Return YYMMDDhhmm, in UTC when the datetime knows its zone."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(_DATE_FORMAT)


# A known key (some SMSCs write "submit_date") then a colon and a value up to the next space.
_RECEIPT_FIELD = re.compile(
    r"(?:^|\s)(id|sub|dlvrd|submit[ _]date|done[ _]date|stat|err):(\S*)", re.IGNORECASE
)
_RECEIPT_TEXT = re.compile(r"(?:^|\s)text:", re.IGNORECASE)


def _receipt_fields(receipt: str) -> dict[str, str]:
    """Return the Appendix B fields by lower-case key, ignoring everything from "text:" on.

    The free text is the customer's message, so it may itself contain "id:" or "stat:".
    """
    head = _RECEIPT_TEXT.split(receipt, maxsplit=1)[0]
    fields: dict[str, str] = {}
    for key, value in _RECEIPT_FIELD.findall(head):
        fields.setdefault(key.lower().replace("_", " "), value)
    return fields


def _tlv_message_id(tlvs: dict[int, bytes]) -> str | None:
    """Return receipted_message_id (a C-string) if the PDU carries it."""
    value = tlvs.get(TLV_RECEIPTED_MESSAGE_ID)
    if value is None:
        return None
    return value.split(b"\x00", 1)[0].decode("latin-1") or None


def _tlv_state(tlvs: dict[int, bytes]) -> str | None:
    """Return the state word for the message_state TLV if the PDU carries it."""
    value = tlvs.get(TLV_MESSAGE_STATE)
    if not value:
        return None
    return MESSAGE_STATES.get(value[0], UNKNOWN)


def _normalise_state(stat: str | None) -> str | None:
    """Return the 7-letter state word for a stat field; an unrecognised word is UNKNOWN."""
    if not stat:
        return None
    word = stat.upper()
    word = _STATE_ALIASES.get(word, word)
    return word if word in STATE_CODES else UNKNOWN


def _parse_receipt_date(value: str | None) -> datetime | None:
    """Return a YYMMDDhhmm (or YYMMDDhhmmss) date as aware UTC, None if absent or malformed."""
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    # Sliced by hand: strptime cost more than the rest of a receipt's handling together.
    year, month, day, hour, minute, second = (int(value[i : i + 2] or 0) for i in range(0, 12, 2))
    try:
        # Two-digit years as strptime reads them: 69-99 are the 1900s.
        return datetime(year + (2000 if year < 69 else 1900), month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
