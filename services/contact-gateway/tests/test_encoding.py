"""SMS encoding, concatenation and delivery receipts against the sizes SMPP 3.4 and GSM 03.38 allow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contact_gateway.encoding import (
    GSM7,
    UCS2,
    Concatenation,
    EncodedSms,
    Receipt,
    choose_encoding,
    count_segments,
    decode_short_message,
    encode_sms,
    format_receipt,
    parse_receipt,
    split_udh,
)

CHINESE = "您的投诉已受理我们将尽快处理感谢耐心等待"  # 20 BMP characters, one UTF-16 unit each


def payloads(sms: EncodedSms) -> list[bytes]:
    """Return each part's text octets, UDH removed, checking the UDH numbers the parts in order."""
    result = []
    for sequence, part in enumerate(sms.parts, 1):
        concatenation, payload = split_udh(part, sms.esm_class)
        if sms.segments > 1:
            assert concatenation is not None
            assert (concatenation.total, concatenation.sequence) == (sms.segments, sequence)
        result.append(payload)
    return result


def reassemble(sms: EncodedSms) -> str:
    """Decode the parts the way a handset does: strip each UDH, join in sequence order, decode once."""
    return decode_short_message(b"".join(payloads(sms)), sms.data_coding)


def test_160_ascii_characters_fit_one_gsm_message() -> None:
    sms = encode_sms("x" * 160, reference=7)

    assert (sms.encoding, sms.data_coding, sms.esm_class, sms.segments) == (GSM7, 0x00, 0x00, 1)
    assert sms.parts == (b"x" * 160,)
    assert count_segments("x" * 160) == (GSM7, 1)


def test_161_ascii_characters_split_into_153_and_8_with_a_udh() -> None:
    sms = encode_sms("x" * 161, reference=7)

    assert (sms.segments, sms.esm_class, sms.characters) == (2, 0x40, 161)
    assert sms.parts[0] == bytes([0x05, 0x00, 0x03, 7, 2, 1]) + b"x" * 153
    assert sms.parts[1] == bytes([0x05, 0x00, 0x03, 7, 2, 2]) + b"x" * 8
    assert count_segments("x" * 161) == (GSM7, 2)


def test_extension_characters_cost_two_septets() -> None:
    assert count_segments("x" * 158 + "€") == (GSM7, 1)
    assert count_segments("x" * 159 + "€") == (GSM7, 2)
    assert encode_sms("[1]", reference=0).parts == (b"\x1b<1\x1b>",)


def test_an_escape_is_never_separated_from_its_extension_character() -> None:
    text = "x" * 152 + "€" + "y" * 10  # the euro's two septets would straddle the 153-septet cut

    first, second = payloads(encode_sms(text, reference=1))

    assert first == b"x" * 152
    assert second == b"\x1be" + b"y" * 10


def test_extension_characters_everywhere_split_on_whole_characters() -> None:
    text = "{}" * 100  # 400 septets, every character an escape pair

    sms = encode_sms(text, reference=2)

    assert sms.segments == count_segments(text)[1] == 3
    assert [len(p) for p in payloads(sms)] == [152, 152, 96]
    assert reassemble(sms) == text


def test_70_chinese_characters_fit_one_ucs2_message() -> None:
    text = (CHINESE * 4)[:70]

    sms = encode_sms(text, reference=0)

    assert (sms.encoding, sms.data_coding, sms.esm_class, sms.segments) == (UCS2, 0x08, 0x00, 1)
    assert sms.parts == (text.encode("utf-16-be"),)


def test_71_chinese_characters_take_two_ucs2_parts() -> None:
    text = (CHINESE * 4)[:71]

    sms = encode_sms(text, reference=0)

    assert sms.segments == 2
    assert [len(p) // 2 for p in payloads(sms)] == [67, 4]
    assert count_segments(text) == (UCS2, 2)


def test_300_chinese_characters_take_five_parts_of_at_most_67_units() -> None:
    text = CHINESE * 15

    sms = encode_sms(text, reference=200)

    assert sms.segments == 5
    assert [len(p) // 2 for p in payloads(sms)] == [67, 67, 67, 67, 32]
    assert all(part[:6] == bytes([5, 0, 3, 200, 5, seq]) for seq, part in enumerate(sms.parts, 1))
    assert reassemble(sms) == text


def test_an_emoji_is_never_split_across_parts() -> None:
    text = "中" * 66 + "😀" + "中" * 10  # the emoji's surrogate pair would be units 67 and 68

    first, second = payloads(encode_sms(text, reference=3))

    assert first.decode("utf-16-be") == "中" * 66  # strict: no lone surrogate at the end
    assert second.decode("utf-16-be") == "😀" + "中" * 10


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    assert choose_encoding("Ça coûte 5€ [promo]") == UCS2  # û is not in GSM 03.38
    assert choose_encoding("Ça va? 5€ [promo] ~ | ^ \\") == GSM7
    assert choose_encoding("hi \x1b") == UCS2  # a bare escape is not text
    assert count_segments("é" * 160) == (GSM7, 1)


@pytest.mark.parametrize(
    "text",
    [
        "Your complaint CL-1042 is resolved. Reply STOP to opt out. " * 5,
        "Preis: 5€ {inkl.} [MwSt] ~ Ä Ö Ü ß @ £ $ ¥ è é ù ì ò Ç Ø ø Å å Δ _ Φ Γ Λ Ω Π Ψ Σ Θ Ξ " * 4,
        CHINESE * 7 + "😀👍🏽" * 20,
        "Merci 🙏 " * 40,
    ],
)
def test_parts_reassemble_to_the_original(text: str) -> None:
    sms = encode_sms(text, reference=99)

    assert sms.segments > 1
    assert reassemble(sms) == text


def test_empty_text_and_bad_references_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one character"):
        encode_sms("", reference=0)
    with pytest.raises(ValueError, match="at least one character"):
        count_segments("")
    with pytest.raises(ValueError, match="0-255"):
        encode_sms("hi", reference=256)


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 255"):
        encode_sms("x" * (153 * 255 + 1), reference=0)


def test_decode_latin1_ucs2_and_gsm() -> None:
    assert decode_short_message("Grüße".encode("latin-1"), 0x03) == "Grüße"
    assert decode_short_message("您好 😀".encode("utf-16-be"), 0x08) == "您好 😀"
    assert decode_short_message(b"\x00 \x1be 5\x02", 0x00) == "@ € 5$"


def test_decode_strips_the_udh_only_when_esm_class_says_so() -> None:
    body = bytes([5, 0, 3, 1, 2, 1]) + "hé".encode("latin-1")

    assert decode_short_message(body, 0x03, esm_class=0x40) == "hé"
    assert decode_short_message(body, 0x03).endswith("hé")
    assert len(decode_short_message(body, 0x03)) == 8


def test_split_udh_reads_16_bit_references_and_skips_other_elements() -> None:
    udh = bytes([0x0A, 0x0A, 0x02, 0xAA, 0xBB, 0x08, 0x04, 0x12, 0x34, 3, 2])  # a text-format IE first

    concatenation, text = split_udh(udh + b"body", 0x40)

    assert concatenation == Concatenation(reference=0x1234, total=3, sequence=2)
    assert text == b"body"
    assert split_udh(b"\x05\x00\x03", 0x00) == (None, b"\x05\x00\x03")


def test_split_udh_refuses_a_header_longer_than_the_body() -> None:
    with pytest.raises(ValueError, match="longer than"):
        split_udh(bytes([9, 0, 3, 1]), 0x40)


SUBMITTED = datetime(2026, 3, 14, 9, 26, tzinfo=UTC)
DONE = datetime(2026, 3, 14, 9, 27, tzinfo=UTC)


def test_receipt_text_round_trips() -> None:
    body = format_receipt(
        "a1b2c3", "DELIVRD", submitted_at=SUBMITTED, done_at=DONE, text="Your code is 1234 ok?"
    )

    assert body == (
        b"id:a1b2c3 sub:001 dlvrd:001 submit date:2603140926 done date:2603140927"
        b" stat:DELIVRD err:000 text:Your code is 1234 ok"
    )
    assert parse_receipt(body) == Receipt("a1b2c3", "DELIVRD", "000", SUBMITTED, DONE)


def test_receipt_text_from_other_smscs_is_read_loosely() -> None:
    body = (
        b"ID:77F0 SUB:001 DLVRD:000 SUBMIT_DATE:260314092633 Done Date:2603140930 Stat:UNDELIVERABLE ERR:034"
    )

    receipt = parse_receipt(body)

    assert receipt == Receipt(
        "77F0",
        "UNDELIV",
        "034",
        datetime(2026, 3, 14, 9, 26, 33, tzinfo=UTC),
        datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
    )


def test_receipt_text_needs_only_id_and_stat_and_ignores_the_message_text() -> None:
    receipt = parse_receipt(b"id:42 stat:EXPIRED text:id:99 stat:DELIVRD")

    assert receipt == Receipt("42", "EXPIRED", None, None, None)


def test_receipt_tlvs_win_over_the_text() -> None:
    body = format_receipt("text-id", "ENROUTE", submitted_at=SUBMITTED, done_at=DONE)

    receipt = parse_receipt(body, [(0x001E, b"tlv-id\x00"), (0x0427, bytes([5]))])

    assert receipt is not None
    assert (receipt.message_id, receipt.state, receipt.error) == ("tlv-id", "UNDELIV", "000")


def test_receipt_from_tlvs_alone() -> None:
    assert parse_receipt(b"", [(0x001E, b"abc\x00"), (0x0427, bytes([2]))]) == Receipt(
        "abc", "DELIVRD", None, None, None
    )


@pytest.mark.parametrize(
    ("body", "tlvs"),
    [
        (b"hello, is my complaint fixed?", []),
        (b"\xff\x00\x13garbage", []),
        (b"stat:DELIVRD", []),  # no id
        (b"id:abc", []),  # no state
        (b"", [(0x0427, bytes([2]))]),
        (b"", []),
    ],
)
def test_not_a_receipt(body: bytes, tlvs: list[tuple[int, bytes]]) -> None:
    assert parse_receipt(body, tlvs) is None


def test_format_receipt_refuses_an_unknown_state() -> None:
    with pytest.raises(ValueError, match="unknown receipt state"):
        format_receipt("x", "DONE", submitted_at=SUBMITTED, done_at=DONE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2603140927", datetime(2026, 3, 14, 9, 27, tzinfo=UTC)),
        ("260314092705", datetime(2026, 3, 14, 9, 27, 5, tzinfo=UTC)),
        ("9912312359", datetime(1999, 12, 31, 23, 59, tzinfo=UTC)),
        ("2613140927", None),  # month 13
        ("26031409", None),  # too short
        ("26031409x7", None),
    ],
)
def test_receipt_dates_are_read_like_strptime_would(text: str, expected: datetime | None) -> None:
    receipt = parse_receipt(
        f"id:abc sub:001 dlvrd:001 submit date:{text} done date:{text} stat:DELIVRD".encode()
    )
    assert receipt is not None
    assert receipt.done_at == expected
