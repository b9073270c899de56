"""How many SMS a text takes: GSM-7 (160 a message, 153 a part when split) or UCS-2 (70, 67).

One character outside the GSM 03.38 alphabet (any Chinese character) makes the whole text UCS-2.
In GSM-7 the extension characters (``€ [ ] { } \\ ^ ~ |`` and form feed) take two septets, an escape
and the character; in UCS-2 a character beyond the Basic Multilingual Plane (most emoji) takes two
16-bit units. Neither pair is split across two parts, as handsets reassemble them whole. The
builder's script (``static/js/campaigns.js``) counts the same way as the page types.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SmsCount:
    """A text's encoding, its length in that encoding's units, and the messages it takes."""

    encoding: str
    units: int
    parts: int
    per_part: int
    left: int


def encoding_of(text: str) -> str:
    """Return ``GSM-7`` when every character is in the GSM alphabet (with its extension), else ``UCS-2``."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        return "GSM-7"
    return "UCS-2"


def unit_weights(text: str, encoding: str) -> list[int]:
    """Return how many units each character takes in the encoding (1 or 2)."""
    if encoding == "GSM-7":
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_sms(text: str) -> SmsCount:
    """Count the messages a text takes as one SMS or a concatenated one."""
    encoding = encoding_of(text)
    single, part = LIMITS[encoding]
    weights = unit_weights(text, encoding)
    units = sum(weights)
    if units == 0:
        return SmsCount(encoding, 0, 0, single, single)
    if units <= single:
        return SmsCount(encoding, units, 1, single, single - units)
    parts, used = 1, 0
    for weight in weights:
        if used + weight > part:  # a pair never straddles two parts
            parts, used = parts + 1, 0
        used += weight
    return SmsCount(encoding, units, parts, part, part - used)
