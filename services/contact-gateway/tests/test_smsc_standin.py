"""The SMSC stand-in, driven by a real smpp34 ESME over TCP, as the contact gateway will drive it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import smpp34
from smpp34._smpp34 import ESME_RINVDSTADR, ESME_RMSGQFUL, ESME_RTHROTTLED

from careloop_common.natsserver import free_port
from careloop_common.testing import wait_until
from contact_gateway.encoding import Receipt, decode_short_message, encode_sms, parse_receipt, split_udh
from contact_gateway.standins.smsc import SmscStandIn

CHINESE = "您的投诉已受理我们将尽快处理感谢耐心等待"  # 20 characters


@pytest.fixture
async def smsc() -> AsyncIterator[SmscStandIn]:
    async with SmscStandIn(port=free_port(), receipt_delay_s=0.01) as standin:
        yield standin


@pytest.fixture
async def esme(smsc: SmscStandIn) -> AsyncIterator[smpp34.Smsc]:
    client = smpp34.Client("127.0.0.1", smsc.port, "careloop", "secret", bind_type="TRX")
    session = await client.connect()

    async def bound() -> bool:
        return smsc.sessions == 1

    await wait_until(bound, timeout_s=2, message="the stand-in to see the bind")
    yield session
    # Client.stop() alone leaves the TCP connection open and the SMSC thinking the ESME is bound.
    with contextlib.suppress(smpp34.SmppError):
        await session.unbind()
    await client.stop()


async def next_deliver(esme: smpp34.Smsc) -> smpp34.DeliverSmEvent:
    """Return the next deliver_sm the ESME receives, failing the test on a disconnect or a long wait."""
    async with asyncio.timeout(1.0):  # not wait_for: its extra task would let other tasks run first
        event = await esme.next()
    assert isinstance(event, smpp34.DeliverSmEvent)
    return event


def receipt_text_and_tlvs(pdu: smpp34.DeliverSmEvent) -> tuple[Receipt, Receipt]:
    """Return the receipt read from the Appendix B text alone and from the TLVs alone."""
    from_text = parse_receipt(pdu.short_message)
    from_tlvs = parse_receipt(b"", [(tlv.tag, tlv.value) for tlv in pdu.tlvs])
    assert from_text is not None
    assert from_tlvs is not None
    return from_text, from_tlvs


async def test_accepts_and_sends_a_receipt_with_text_and_tlvs(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    response = await esme.submit_sm(
        "+447700900123", b"Your complaint has been resolved", source_addr="CARELOOP", registered_delivery=1
    )

    receipt_pdu = await next_deliver(esme)

    assert response.is_success
    assert response.message_id is not None
    assert [s.message_id for s in smsc.accepted] == [response.message_id]
    assert (receipt_pdu.esm_class, receipt_pdu.source_addr, receipt_pdu.destination_addr) == (
        0x04,
        "+447700900123",
        "CARELOOP",
    )
    from_text, from_tlvs = receipt_text_and_tlvs(receipt_pdu)
    assert (from_text.message_id, from_text.state, from_text.error) == (response.message_id, "DELIVRD", "000")
    assert (from_tlvs.message_id, from_tlvs.state) == (response.message_id, "DELIVRD")
    assert receipt_pdu.short_message.endswith(b"text:Your complaint has b")


async def test_message_ids_are_unique(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    responses = await asyncio.gather(*(esme.submit_sm(f"+4477009001{n:02d}", b"hi") for n in range(20)))

    assert len({r.message_id for r in responses}) == 20
    assert smsc.accepted_count == 20


async def test_no_receipt_unless_registered_delivery_asks(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    await esme.submit_sm("+447700900123", b"no receipt please", registered_delivery=0)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(esme.next(), timeout=0.2)


async def test_receipt_can_arrive_before_the_submit_response(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    smsc.receipts_before_response = True
    smsc.receipt_delay_s = 5.0  # would time the test out if the delayed path were taken
    submit = asyncio.ensure_future(esme.submit_sm("+447700900123", b"race", registered_delivery=1))

    receipt_pdu = await next_deliver(esme)
    answered_before_receipt = submit.done()
    response = await submit

    receipt = parse_receipt(receipt_pdu.short_message, [(t.tag, t.value) for t in receipt_pdu.tlvs])
    assert receipt is not None
    assert receipt.message_id == response.message_id
    assert not answered_before_receipt


async def test_receipt_state_for_a_destination(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    smsc.receipt_state_for("666", "UNDELIV")
    smsc.receipt_state_for("9666", "EXPIRED")  # the longer suffix wins

    await esme.submit_sm("+447700900666", b"a", registered_delivery=1)
    first = receipt_text_and_tlvs(await next_deliver(esme))
    await esme.submit_sm("+447700909666", b"b", registered_delivery=1)
    second = receipt_text_and_tlvs(await next_deliver(esme))

    assert [(r.state, r.error) for r in first] == [("UNDELIV", "001"), ("UNDELIV", None)]
    assert [r.state for r in second] == ["EXPIRED", "EXPIRED"]


async def test_receipts_wait_for_a_receiving_bind_of_the_same_esme(smsc: SmscStandIn) -> None:
    transmitter = smpp34.Client("127.0.0.1", smsc.port, "careloop", "secret", bind_type="TX")
    receiver = smpp34.Client("127.0.0.1", smsc.port, "careloop", "secret", bind_type="RX")
    tx = await transmitter.connect()
    response = await tx.submit_sm("+447700900123", b"hi", registered_delivery=1)
    await asyncio.sleep(0.1)  # past the receipt delay, while no session can take the receipt

    rx = await receiver.connect()
    receipt = parse_receipt((await next_deliver(rx)).short_message)

    assert receipt is not None
    assert receipt.message_id == response.message_id
    for session, client in ((tx, transmitter), (rx, receiver)):
        await session.unbind()
        await client.stop()


async def test_throttle_next_rejects_then_accepts(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    smsc.throttle_next(2)

    statuses = [(await esme.submit_sm("+447700900123", b"hi")).command_status for _ in range(3)]

    assert statuses == [0x58, 0x58, 0]
    assert (smsc.rejected, len(smsc.accepted)) == (2, 1)


async def test_throttle_next_with_another_status(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    smsc.throttle_next(1, status=ESME_RMSGQFUL)

    response = await esme.submit_sm("+447700900123", b"hi")

    assert (response.command_status, response.is_success, response.message_id) == (ESME_RMSGQFUL, False, None)


async def test_fail_destination_rejects_only_matching_numbers(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    smsc.fail_destination("000", ESME_RINVDSTADR)

    refused = await esme.submit_sm("+447700900000", b"hi")
    refused_again = await esme.submit_sm("+447700900000", b"hi")
    fine = await esme.submit_sm("+447700900001", b"hi")

    assert refused.command_status == refused_again.command_status == ESME_RINVDSTADR
    assert fine.is_success
    assert [s.destination for s in smsc.accepted] == ["+447700900001"]


async def test_max_rate_answers_throttled_beyond_the_rate(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    smsc.max_rate_per_s = 5.0

    responses = await asyncio.gather(*(esme.submit_sm("+447700900123", b"hi") for _ in range(8)))

    assert sorted(r.command_status for r in responses) == [0] * 5 + [ESME_RTHROTTLED] * 3
    await asyncio.sleep(0.25)  # a token and a bit comes back
    assert (await esme.submit_sm("+447700900123", b"hi")).is_success


async def test_dropped_bind_leaves_the_submit_unanswered(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    await esme.submit_sm("+447700900123", b"before")
    smsc.drop_bind_on_next_submit()

    with pytest.raises(smpp34.SmppError):
        await asyncio.wait_for(esme.submit_sm("+447700900123", b"lost"), timeout=1.0)
    after = await asyncio.wait_for(esme.next(), timeout=1.0)

    assert isinstance(after, smpp34.Disconnected)
    assert [s.body for s in smsc.accepted] == [b"before"]
    assert smsc.rejected == 0

    async def unbound() -> bool:
        return smsc.sessions == 0

    await wait_until(unbound, timeout_s=1, message="the stand-in to forget the session")


async def test_send_mo_in_chinese_decodes_back(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    await smsc.send_mo("+447700900123", "60006", CHINESE)

    mo = await next_deliver(esme)

    assert (mo.source_addr, mo.destination_addr, mo.data_coding, mo.esm_class) == (
        "+447700900123",
        "60006",
        8,
        0,
    )
    assert decode_short_message(mo.short_message, mo.data_coding, mo.esm_class) == CHINESE


async def test_send_mo_splits_long_text_into_concatenated_parts(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    text = "Mi antena no funciona desde ayer, ¿pueden revisarlo? " * 4

    await smsc.send_mo("+447700900123", "60006", text)
    parts = [await next_deliver(esme) for _ in range(2)]

    assert {p.esm_class for p in parts} == {0x40}
    payloads = [split_udh(p.short_message, p.esm_class) for p in parts]
    assert [c.sequence for c, _ in payloads if c is not None] == [1, 2]
    assert decode_short_message(b"".join(body for _, body in payloads), parts[0].data_coding) == text


async def test_send_mo_needs_a_receiving_session(smsc: SmscStandIn) -> None:
    with pytest.raises(RuntimeError, match="no bound session"):
        await smsc.send_mo("+447700900123", "60006", "hello")


async def test_a_long_chinese_message_comes_out_whole(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    text = CHINESE * 15
    sms = encode_sms(text, reference=42)
    assert sms.segments == 5

    for part in sms.parts:
        response = await esme.submit_sm(
            "+8613800138000",
            part,
            source_addr="CARELOOP",
            esm_class=sms.esm_class,
            data_coding=sms.data_coding,
        )
        assert response.is_success
    await esme.submit_sm("+447700900123", b"short one", source_addr="CARELOOP")

    assert len(smsc.accepted) == 6
    assert smsc.messages() == [("+8613800138000", text), ("+447700900123", "short one")]


async def test_parts_arriving_out_of_order_are_joined_in_sequence(
    smsc: SmscStandIn, esme: smpp34.Smsc
) -> None:
    text = "x" * 150 + "yz" * 10
    sms = encode_sms(text, reference=7)

    for part in reversed(sms.parts):
        await esme.submit_sm("+447700900123", part, esm_class=sms.esm_class, data_coding=sms.data_coding)

    assert smsc.messages() == [("+447700900123", text)]


async def test_wait_for_accepted(smsc: SmscStandIn, esme: smpp34.Smsc) -> None:
    late = asyncio.ensure_future(esme.submit_sm("+447700900123", b"hi"))

    await smsc.wait_for_accepted(1, timeout_s=1.0)
    with pytest.raises(TimeoutError, match="1 of 2"):
        await smsc.wait_for_accepted(2, timeout_s=0.1)
    await late


async def test_keep_forgets_old_submits_but_counts_them(esme: smpp34.Smsc, smsc: SmscStandIn) -> None:
    smsc.keep = 2

    for n in range(7):
        await esme.submit_sm("+447700900123", f"m{n}".encode())

    assert smsc.accepted_count == 7
    assert 2 <= len(smsc.accepted) <= 4
    assert smsc.accepted[-1].body == b"m6"


async def test_stop_unbinds_bound_sessions() -> None:
    smsc = SmscStandIn(port=free_port())
    await smsc.start()
    client = smpp34.Client("127.0.0.1", smsc.port, "careloop", "secret", bind_type="TRX")
    session = await client.connect()

    async def bound() -> bool:
        return smsc.sessions == 1

    await wait_until(bound, timeout_s=2, message="the stand-in to see the bind")
    await smsc.stop()

    assert isinstance(await asyncio.wait_for(session.next(), timeout=1.0), smpp34.Disconnected)
    await client.stop()
