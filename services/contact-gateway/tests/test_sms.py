# ruff: noqa: RUF001 - Chinese text and full-width letters on purpose
"""The SMS path end to end against an SMSC stand-in speaking SMPP 3.4 on a socket: encodings,
concatenation, receipts (also before their submit_sm_resp), throttling, a bind dropped mid-send,
permanent errors, failover, replies with STOP/START. Nothing lost, nothing sent twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from smpp34._smpp34 import ESME_RINVDSTADR

from careloop_common.natsserver import free_port
from careloop_common.testing import auth_headers, running_app, service_settings, wait_until
from contact_gateway.main import create_app
from contact_gateway.settings import ContactGatewaySettings
from contact_gateway.smpp import Connector, ConnectorPool, SmscConfig
from contact_gateway.standins.smsc import SmscStandIn

HK = "+85291234567"
CHINESE_300 = ("您好！本區網絡優化工程將於本月完成，期間通話可能受影響，敬請見諒。" * 10)[:300]


def writer() -> dict[str, str]:
    return auth_headers("contact:read", "contact:write", subject="care-desk")


@dataclass
class Stack:
    client: httpx.AsyncClient
    smsc: SmscStandIn
    backup: SmscStandIn


def smsc_url(port: int, **query: Any) -> str:
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return f"smpp://careloop:secret@127.0.0.1:{port}?window=10&{extra}"


@pytest.fixture
async def stack(database_url: str, nats_url: str) -> AsyncIterator[Stack]:
    primary, backup = SmscStandIn(port=free_port(), receipt_delay_s=0.05), SmscStandIn(port=free_port())
    async with primary, backup:
        settings = service_settings(
            ContactGatewaySettings,
            database_url,
            nats_url,
            smsc_urls=f"{smsc_url(primary.port)},{smsc_url(backup.port)}",
            quiet_hours={"service": "", "care": ""},
            dispatch_poll_s=0.05,
            retry_base_s=0.2,
            receipt_match_s=0.3,
        )
        async with running_app(create_app(settings)) as client:
            yield Stack(client, primary, backup)


async def send(
    client: httpx.AsyncClient, key: str, text: str, msisdn: str = HK, **extra: Any
) -> dict[str, Any]:
    body = {"msisdn": msisdn, "purpose": "service", "text": text, **extra}
    response = await client.post(
        "/contact/v1/requests", json=body, headers={**writer(), "Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def until(
    client: httpx.AsyncClient, request_id: str, done: Callable[[dict[str, Any]], bool], timeout_s: float = 15
) -> dict[str, Any]:
    """Poll a request until ``done`` holds, and return it."""

    last: dict[str, Any] = {}

    async def check() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/contact/v1/requests/{request_id}", headers=writer())
        ).json()
        last.update(body)
        return body if done(body) else None

    try:
        result: dict[str, Any] = await wait_until(check, timeout_s=timeout_s, message=f"request {request_id}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the request as last read: {last}") from None
    return result


async def json_when(client: httpx.AsyncClient, path: str, done: Callable[[Any], bool], **params: str) -> Any:
    """Poll a GET until ``done`` holds for its body, and return the body."""

    async def check() -> Any:
        body = (await client.get(path, params=params, headers=writer())).json()
        return body if done(body) else None

    return await wait_until(check, message=path)


def final(body: dict[str, Any]) -> bool:
    return body["status"] in ("delivered", "failed")


async def test_chinese_goes_as_ucs2_and_is_delivered(stack: Stack) -> None:
    message = await send(stack.client, "zh", "您的投訴已受理。")
    done = await until(stack.client, message["id"], final)
    assert done["status"] == "delivered", done
    assert (done["encoding"], done["segments"]) == ("ucs2", 1)
    assert [s["status"] for s in done["timeline"]] == ["accepted", "submitted", "delivered"]
    [submitted] = stack.smsc.accepted
    assert submitted.data_coding == 8
    assert submitted.destination == HK.lstrip("+")
    assert stack.smsc.messages() == [(HK.lstrip("+"), "您的投訴已受理。")]


async def test_300_characters_go_in_concatenated_parts_and_arrive_whole(stack: Stack) -> None:
    message = await send(stack.client, "long", CHINESE_300)
    done = await until(stack.client, message["id"], final)
    assert done["status"] == "delivered"
    assert done["segments"] == 5
    assert len(stack.smsc.accepted) == 5
    assert all(part.esm_class & 0x40 for part in stack.smsc.accepted)
    assert stack.smsc.messages() == [(HK.lstrip("+"), CHINESE_300)]


async def test_gsm_text_is_one_part_of_160(stack: Stack) -> None:
    message = await send(stack.client, "gsm", "A" * 160)
    done = await until(stack.client, message["id"], final)
    assert (done["encoding"], done["segments"], done["status"]) == ("gsm7", 1, "delivered")
    assert stack.smsc.accepted[0].data_coding == 0


async def test_a_receipt_before_its_submit_response_still_matches(stack: Stack) -> None:
    stack.smsc.receipts_before_response = True
    message = await send(stack.client, "early", "Receipt first")
    done = await until(stack.client, message["id"], final)
    assert done["status"] == "delivered"


async def test_undeliverable_receipts_fail_the_message(stack: Stack) -> None:
    stack.smsc.receipt_state_for("99", "UNDELIV")
    message = await send(stack.client, "undeliv", "Hello", msisdn="+85291234599")
    done = await until(stack.client, message["id"], final)
    assert (done["status"], done["reason"]) == ("failed", "undeliverable")


async def test_a_permanent_error_fails_at_once_with_the_smpp_status(stack: Stack) -> None:
    stack.smsc.fail_destination("98", ESME_RINVDSTADR)
    message = await send(stack.client, "perm", "Hello", msisdn="+85291234598")
    done = await until(stack.client, message["id"], final)
    assert (done["status"], done["reason"], done["smpp_status"]) == ("failed", "rejected", 0x0B)
    assert not stack.smsc.accepted
    assert not stack.backup.accepted


async def test_throttling_is_retried_and_nothing_is_sent_twice(stack: Stack) -> None:
    stack.smsc.throttle_next(4)
    stack.backup.throttle_next(4)
    ids = [
        (await send(stack.client, f"t{i}", f"Message {i}", msisdn=f"+8529123450{i}"))["id"] for i in range(5)
    ]
    for request_id in ids:
        assert (await until(stack.client, request_id, final))["status"] == "delivered"
    sent = Counter(text for _, text in stack.smsc.messages() + stack.backup.messages())
    assert sent == Counter(f"Message {i}" for i in range(5))


async def test_a_bind_dropped_mid_send_loses_and_doubles_nothing(stack: Stack) -> None:
    texts = [f"Outage notice {i}: 本區網絡維修" for i in range(60)]
    items = [
        {"msisdn": f"+852912345{i:02d}", "purpose": "service", "text": text, "idempotency_key": f"d{i}"}
        for i, text in enumerate(texts)
    ]
    batch = await stack.client.post("/contact/v1/request-batches", json={"items": items}, headers=writer())
    assert batch.status_code == 200, batch.text
    await stack.smsc.wait_for_accepted(5)
    stack.smsc.drop_bind_on_next_submit()  # while the rest are in flight
    for item in batch.json()["items"]:
        assert (await until(stack.client, item["id"], final))["status"] == "delivered"
    sent = Counter(text for _, text in stack.smsc.messages() + stack.backup.messages())
    assert sent == Counter(texts)  # every message exactly once, across both SMSCs
    assert stack.backup.accepted, "the backup SMSC should have taken over while the primary rebound"


async def test_with_the_primary_down_the_backup_takes_the_traffic(database_url: str, nats_url: str) -> None:
    down = free_port()  # nothing listens here: the primary SMSC is down
    async with SmscStandIn(port=free_port()) as backup:
        settings = service_settings(
            ContactGatewaySettings,
            database_url,
            nats_url,
            smsc_urls=f"{smsc_url(down)},{smsc_url(backup.port)}",
            quiet_hours={"service": "", "care": ""},
            dispatch_poll_s=0.05,
        )
        async with running_app(create_app(settings)) as client:
            message = await send(client, "failover", "Via the backup")
            done = await until(client, message["id"], final)
            assert done["status"] == "delivered"
            assert [text for _, text in backup.messages()] == ["Via the backup"]
            connectors = (await client.get("/contact/v1/connectors", headers=writer())).json()["smsc"]
            assert [c["bound"] for c in connectors] == [False, True]
            assert "refused" in (connectors[0]["last_error"] or "")


async def test_an_smsc_that_stops_answering_is_dropped_and_the_backup_takes_over(
    database_url: str, nats_url: str
) -> None:
    async with SmscStandIn(port=free_port()) as primary, SmscStandIn(port=free_port()) as backup:
        settings = service_settings(
            ContactGatewaySettings,
            database_url,
            nats_url,
            smsc_urls=f"{smsc_url(primary.port, timeout=0.3)},{smsc_url(backup.port)}",
            quiet_hours={"service": "", "care": ""},
            dispatch_poll_s=0.05,
            retry_base_s=0.2,
        )
        async with running_app(create_app(settings)) as client:
            primary.hang()  # bound, enquire_links answered, submits never
            texts = [f"Wedged primary {i}" for i in range(6)]
            ids = [
                (await send(client, f"w{i}", text, msisdn=f"+8529123460{i}"))["id"]
                for i, text in enumerate(texts)
            ]
            for request_id in ids:
                assert (await until(client, request_id, final))["status"] == "delivered"
            assert Counter(text for _, text in backup.messages()) == Counter(texts)
            assert primary.messages() == []

            # The wedged session was dropped, and the primary is bound again (to be tried anew).
            async def bound_again() -> bool:
                return primary.binds >= 2

            await wait_until(bound_again, message="the primary bound again")


async def test_stop_and_start_replies_change_the_opt_out(stack: Stack) -> None:
    first = await send(stack.client, "before", "Care offer", purpose="care")
    await until(stack.client, first["id"], final)
    await stack.smsc.send_mo(HK.lstrip("+"), "careloop", "退訂")
    replies = await json_when(stack.client, "/contact/v1/replies", lambda b: b["total"])
    [reply] = replies["items"]
    assert (reply["msisdn"], reply["keyword"], reply["in_reply_to"]) == (HK, "STOP", first["id"])
    refused = await send(stack.client, "after-stop", "Another offer", purpose="care")
    assert (refused["status"], refused["reason"]) == ("suppressed", "opted_out")
    await stack.smsc.send_mo(HK.lstrip("+"), "careloop", "START")
    outs = await json_when(
        stack.client,
        "/contact/v1/opt-outs",
        lambda b: b["items"] and not b["items"][0]["opted_out"],
        msisdn=HK,
    )
    assert outs["items"][0]["opted_out"] is False
    assert outs["items"][0]["source"] == "reply"
    again = await send(stack.client, "after-start", "Welcome back", purpose="care")
    assert again["status"] == "accepted"


async def test_a_session_smpp34_gave_up_on_is_bound_again() -> None:
    """smpp34 ends a session whose inbound queue overflows without telling the reader; the
    connector takes the submits it then refuses as a dead session and binds again."""
    async with SmscStandIn(port=free_port()) as smsc:
        connector = Connector(SmscConfig.parse(smsc_url(smsc.port, inbound=4)))
        reading = asyncio.Event()  # never set: a reader stuck on its first deliver_sm

        async def stuck_reader(_connector: str, _event: object) -> None:
            await reading.wait()

        running = asyncio.create_task(connector.run(stuck_reader))
        try:
            assert await connector.wait_bound(5)
            # Our side sees bind_resp before the stand-in has handled the bind: wait for both.
            await wait_until(lambda: _bound(smsc), message="the SMSC registered the bind")
            replies = [asyncio.create_task(smsc.send_mo(HK, "1000", f"reply {i}")) for i in range(40)]
            await asyncio.gather(*replies, return_exceptions=True)  # refused once the queue is full

            outcomes = []

            async def sent_after_rebinding() -> bool:
                outcome = await connector.submit(
                    "85291234567", b"after", source="careloop", data_coding=0, esm_class=0
                )
                outcomes.append(outcome)
                return outcome.ok and smsc.binds >= 2

            await wait_until(sent_after_rebinding, message="a submit on a fresh bind")
            assert any("session error" in (o.error or "") for o in outcomes)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await connector.stop()


class SlowReader:
    """An on_deliver that takes its time, so deliver_sm pile up in smpp34's queue behind it."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.texts: list[str] = []

    async def __call__(self, _connector: str, event: object) -> None:
        await asyncio.sleep(self.delay_s)
        self.texts.append(getattr(event, "short_message", b"").decode())


async def test_replies_queued_on_a_session_given_up_on_are_all_handed_on() -> None:
    """smpp34 answers each deliver_sm as it queues it: a session we stop using is drained, not dropped."""
    async with SmscStandIn(port=free_port()) as smsc:
        connector = Connector(SmscConfig.parse(smsc_url(smsc.port, timeout=0.2)))
        reader = SlowReader()
        running = asyncio.create_task(connector.run(reader))
        try:
            assert await connector.wait_bound(5)
            # Our side sees bind_resp before the stand-in has handled the bind: wait for both.
            await wait_until(lambda: _bound(smsc), message="the SMSC registered the bind")
            texts = [f"reply {i}" for i in range(50)]
            for text in texts:  # each answered by smpp34 at once, read one per 20 ms
                await smsc.send_mo(HK, "1000", text)
            smsc.hang()
            outcomes = await asyncio.gather(
                *(
                    connector.submit("85291234567", b"x", source="", data_coding=0, esm_class=0)
                    for _ in range(3)
                )
            )
            assert all(o.error == "no submit_sm_resp in time" for o in outcomes), outcomes
            assert len(reader.texts) < len(texts), "the session was given up on with replies still queued"

            async def bound_again() -> bool:
                return smsc.binds >= 2

            await wait_until(bound_again, message="a fresh bind")
            assert Counter(reader.texts) == Counter(texts)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await connector.stop()


async def test_stopping_the_pool_hands_on_what_the_smsc_already_sent() -> None:
    """At shutdown the connectors unbind and read what smpp34 took before they stop."""
    async with SmscStandIn(port=free_port()) as smsc:
        pool = ConnectorPool([SmscConfig.parse(smsc_url(smsc.port))])
        reader = SlowReader()
        pool.start(reader)
        [connector] = pool.connectors
        assert await connector.wait_bound(5)
        # Our side sees bind_resp before the stand-in has handled the bind: wait for both.
        await wait_until(lambda: _bound(smsc), message="the SMSC registered the bind")
        texts = [f"late reply {i}" for i in range(30)]
        for text in texts:
            await smsc.send_mo(HK, "1000", text)
        assert len(reader.texts) < len(texts), "the pool was stopped with replies still queued"
        await pool.stop()
        assert Counter(reader.texts) == Counter(texts)
        assert not connector.bound


async def test_replies_taken_just_before_shutdown_are_written(database_url: str, nats_url: str) -> None:
    """A reply smpp34 has answered is ours to keep: shutdown unbinds, drains and writes before it stops."""
    async with SmscStandIn(port=free_port()) as smsc:
        settings = service_settings(
            ContactGatewaySettings,
            database_url,
            nats_url,
            smsc_urls=smsc_url(smsc.port),
            dispatch_poll_s=0.05,
        )
        numbers = [f"+8529123456{i}" for i in range(4, 10)]
        async with running_app(create_app(settings)):
            await wait_until(lambda: _bound(smsc), message="the gateway bound")
            for number in numbers:
                await smsc.send_mo(number.lstrip("+"), "careloop", "STOP")
        async with running_app(create_app(settings)) as client:
            replies = (await client.get("/contact/v1/replies", headers=writer())).json()
            assert sorted(r["msisdn"] for r in replies["items"]) == numbers


async def _bound(smsc: SmscStandIn) -> bool:
    return smsc.binds >= 1
