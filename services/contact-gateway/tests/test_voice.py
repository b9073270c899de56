"""The ARI voice adapter against the ARI stand-in, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from careloop_common.natsserver import free_port, port_open
from careloop_common.telemetry import redact
from contact_gateway.standins.ari import AriStandIn, Behaviour
from contact_gateway.voice import (
    LOST_IN_OUTAGE,
    NO_RESULT,
    AriVoicePlatform,
    CallOutcome,
    CallRejected,
    CallResult,
    VoiceUnavailable,
    outcome_for_cause,
)

NUMBER = "+85291234567"
NOTICE = "sound:careloop-care-notice"
RING_S = 0.02
PLAYBACK_S = 0.05
AUTH = aiohttp.encode_basic_auth("careloop", "careloop")


class Results:
    """A result handler that queues what it is given."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[CallResult] = asyncio.Queue()

    async def __call__(self, result: CallResult) -> None:
        await self.queue.put(result)

    async def next(self, within: float = 1.5) -> CallResult:
        """Return the next result, failing the test if none comes in time."""
        return await asyncio.wait_for(self.queue.get(), within)

    async def assert_no_more(self, within: float = 0.2) -> None:
        """Fail if any further result arrives within the given time."""
        await asyncio.sleep(within)
        assert self.queue.empty(), f"unexpected extra result: {self.queue.get_nowait()}"


@pytest.fixture
async def standin() -> AsyncIterator[AriStandIn]:
    async with AriStandIn(port=free_port(), ring_s=RING_S, playback_s=PLAYBACK_S) as running:
        yield running


@pytest.fixture
def results() -> Results:
    return Results()


@pytest.fixture
async def voice(standin: AriStandIn, results: Results) -> AsyncIterator[AriVoicePlatform]:
    platform = AriVoicePlatform(standin.url, "careloop", "careloop", ring_timeout_s=5)
    await platform.start(results)
    yield platform
    await platform.stop()


async def started(
    standin: AriStandIn, handler: Callable[[CallResult], Awaitable[None]], **options: Any
) -> AriVoicePlatform:
    platform = AriVoicePlatform(standin.url, "careloop", "careloop", **options)
    await platform.start(handler)
    return platform


async def eventually(condition: Callable[[], bool | Awaitable[bool]], within: float = 1.5) -> None:
    deadline = time.monotonic() + within
    while True:
        met = condition()
        if not isinstance(met, bool):
            met = await met
        if met:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def live_channels(standin: AriStandIn) -> dict[str, str]:
    """Return the stand-in's channels and their states, as GET /ari/channels tells them."""
    status, channels = await ari(standin, "GET", "/channels")
    assert status == 200
    return {channel["id"]: channel["state"] for channel in channels}


async def ari(standin: AriStandIn, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=_authorization(kwargs.pop("auth", AUTH))) as session,
        session.request(method, f"{standin.url}/ari{path}", **kwargs) as response,
    ):
        body = await response.json(content_type=None) if response.status != 204 else None
        return response.status, body


def _authorization(header: str | None) -> dict[str, str]:
    return {"Authorization": header} if header else {}


@pytest.mark.parametrize(
    ("cause", "answered", "outcome"),
    [
        (16, True, CallOutcome.ANSWERED),
        (17, True, CallOutcome.ANSWERED),
        (None, True, CallOutcome.ANSWERED),
        (17, False, CallOutcome.BUSY),
        (18, False, CallOutcome.NO_ANSWER),
        (19, False, CallOutcome.NO_ANSWER),
        (21, False, CallOutcome.NO_ANSWER),
        (1, False, CallOutcome.WRONG_NUMBER),
        (3, False, CallOutcome.WRONG_NUMBER),
        (22, False, CallOutcome.WRONG_NUMBER),
        (28, False, CallOutcome.WRONG_NUMBER),
        (16, False, CallOutcome.FAILED),
        (34, False, CallOutcome.FAILED),
        (None, False, CallOutcome.FAILED),
    ],
)
def test_outcome_for_cause(cause: int | None, answered: bool, outcome: CallOutcome) -> None:
    assert outcome_for_cause(cause, answered) is outcome


async def test_answered_call_hears_the_announcement_then_is_hung_up(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="contact_gateway")
    await voice.originate("call-1", NUMBER, announcement=NOTICE, variables={"CARELOOP_CAMPAIGN": "c-7"})

    result = await results.next()

    assert result.call_id == "call-1"
    assert result.outcome is CallOutcome.ANSWERED
    assert (result.cause, result.cause_text) == (16, "Normal Clearing")
    assert result.answered_at is not None
    assert result.duration_s == pytest.approx((result.ended_at - result.answered_at).total_seconds())
    assert result.duration_s is not None
    assert result.duration_s >= PLAYBACK_S - 0.005  # it waited for the announcement to finish
    assert standin.played == [("call-1", NOTICE)]
    assert standin.originated == [
        {
            "endpoint": f"PJSIP/{NUMBER}@operator",
            "app": "careloop",
            "appArgs": "call-1",
            "channelId": "call-1",
            "callerId": "careloop",
            "timeout": "5",
            "variables": {"CARELOOP_CAMPAIGN": "c-7"},
        }
    ]
    assert await ari(standin, "GET", "/channels") == (200, [])
    assert NUMBER not in caplog.text
    assert redact(NUMBER) in caplog.text
    await results.assert_no_more()


async def test_a_call_that_went_up_counts_as_answered_even_without_stasis_start(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    standin.behave(NUMBER, Behaviour.NEVER_ENDS)
    await voice.originate("call-1", NUMBER)
    up = {"type": "ChannelStateChange", "timestamp": "2026-05-04T10:00:00.250+0200"}
    await standin.emit("careloop", {**up, "channel": {"id": "call-1", "state": "Up"}})
    assert (await ari(standin, "DELETE", "/channels/call-1"))[0] == 204  # the far end clears down

    result = await results.next()

    assert result.outcome is CallOutcome.ANSWERED
    assert result.answered_at == datetime(2026, 5, 4, 8, 0, 0, 250000, tzinfo=UTC)
    assert result.cause == 16


async def test_answered_call_without_announcement_is_hung_up_at_once(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    await voice.originate("call-1", NUMBER)

    result = await results.next()

    assert result.outcome is CallOutcome.ANSWERED
    assert result.answered_at is not None
    assert standin.played == []
    assert await ari(standin, "GET", "/channels") == (200, [])


@pytest.mark.parametrize(
    ("behaviour", "outcome", "cause", "cause_text"),
    [
        (Behaviour.BUSY, CallOutcome.BUSY, 17, "User busy"),
        (Behaviour.NO_ANSWER, CallOutcome.NO_ANSWER, 19, "User alerting, no answer"),
        (Behaviour.WRONG_NUMBER, CallOutcome.WRONG_NUMBER, 1, "Unallocated (unassigned) number"),
    ],
)
async def test_unanswered_calls_report_the_platforms_cause_once(
    standin: AriStandIn,
    voice: AriVoicePlatform,
    results: Results,
    behaviour: Behaviour,
    outcome: CallOutcome,
    cause: int,
    cause_text: str,
) -> None:
    standin.behave(NUMBER, behaviour)
    await voice.originate("call-1", NUMBER, announcement=NOTICE)

    result = await results.next()

    assert (result.call_id, result.outcome, result.cause, result.cause_text) == (
        "call-1",
        outcome,
        cause,
        cause_text,
    )
    assert result.answered_at is None
    assert result.duration_s is None
    assert standin.played == []
    await results.assert_no_more()


async def test_duplicate_stray_and_malformed_events_are_ignored(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    standin.behave(NUMBER, Behaviour.BUSY)
    await voice.originate("call-1", NUMBER)
    assert (await results.next()).outcome is CallOutcome.BUSY

    duplicate = {
        "type": "ChannelDestroyed",
        "cause": 16,
        "cause_txt": "Normal Clearing",
        "channel": {"id": "call-1"},
    }
    await standin.emit("careloop", duplicate)
    await standin.emit("careloop", {"type": "ChannelDestroyed", "channel": "not an object"})
    await standin.emit("careloop", {"type": "PlaybackFinished", "playback": None})
    await standin.emit("careloop", "this is not JSON")
    # Somebody else's call into the same app: we must neither report it nor touch it.
    status, _ = await ari(
        standin,
        "POST",
        "/channels",
        params={"endpoint": "PJSIP/+85290000000@operator", "app": "careloop", "channelId": "theirs"},
    )
    assert status == 200
    await eventually(lambda: any(ch.get("channelId") == "theirs" for ch in standin.originated))
    await asyncio.sleep(RING_S + 0.1)  # their StasisStart has reached us by now

    assert (await ari(standin, "GET", "/channels/theirs"))[1]["state"] == "Up"
    assert standin.played == []
    await results.assert_no_more()
    # The adapter still hears its own calls afterwards.
    await voice.originate("call-2", "+85291234568")
    assert (await results.next()).call_id == "call-2"


async def test_a_failing_result_handler_is_logged_and_later_results_still_arrive(
    standin: AriStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    delivered: list[str] = []

    async def handler(result: CallResult) -> None:
        if result.call_id == "call-1":
            raise RuntimeError("database is away")
        delivered.append(result.call_id)

    voice = await started(standin, handler)
    try:
        await voice.originate("call-1", NUMBER)
        await eventually(lambda: "result handler for call call-1 failed" in caplog.text)
        await voice.originate("call-2", NUMBER)
        await eventually(lambda: delivered == ["call-2"])
    finally:
        await voice.stop()
    assert "database is away" in caplog.text


async def test_originate_without_the_events_socket_is_unavailable(
    standin: AriStandIn, results: Results
) -> None:
    voice = AriVoicePlatform(standin.url, "careloop", "careloop")
    with pytest.raises(VoiceUnavailable):
        await voice.originate("call-1", NUMBER)  # not started

    await voice.start(results)
    try:
        assert voice.connected
        await standin.stop()
        await eventually(lambda: not voice.connected)
        with pytest.raises(VoiceUnavailable, match="not connected"):
            await voice.originate("call-1", NUMBER)
    finally:
        await voice.stop()
    assert standin.originated == []


async def test_bad_credentials_leave_the_adapter_disconnected(
    standin: AriStandIn, results: Results, caplog: pytest.LogCaptureFixture
) -> None:
    voice = AriVoicePlatform(standin.url, "careloop", "wrong")
    await voice.start(results)
    try:
        assert not voice.connected
        with pytest.raises(VoiceUnavailable):
            await voice.originate("call-1", NUMBER)
    finally:
        await voice.stop()
    assert "rejected our ARI credentials (HTTP 401)" in caplog.text
    assert "wrong" not in caplog.text  # the password rides in the WebSocket URL; never log it
    assert standin.originated == []
    assert (await ari(standin, "GET", "/channels", auth=aiohttp.encode_basic_auth("careloop", "wrong")))[
        0
    ] == 401


async def test_a_4xx_is_call_rejected_and_the_call_is_forgotten(
    standin: AriStandIn, results: Results
) -> None:
    voice = await started(standin, results, endpoint_template="{number}@operator", result_timeout_s=0.2)
    try:
        with pytest.raises(CallRejected, match="HTTP 400"):
            await voice.originate("call-1", NUMBER)
        await results.assert_no_more(within=0.4)  # no "no result" report for a call never placed
    finally:
        await voice.stop()
    assert standin.originated == []


async def test_a_5xx_is_voice_unavailable(standin: AriStandIn, results: Results) -> None:
    voice = await started(standin, results, endpoint_template="Bogus/{number}", result_timeout_s=0.2)
    try:
        with pytest.raises(VoiceUnavailable, match="HTTP 500"):
            await voice.originate("call-1", NUMBER)
        await results.assert_no_more(within=0.4)
    finally:
        await voice.stop()


async def test_a_number_that_is_not_a_phone_number_is_never_dialled(
    standin: AriStandIn, voice: AriVoicePlatform
) -> None:
    with pytest.raises(CallRejected, match="not a diallable"):
        await voice.originate("call-1", "+8529123&PJSIP/999")
    assert standin.originated == []


async def test_originating_a_call_already_in_flight_does_not_dial_twice(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    standin.behave(NUMBER, Behaviour.NO_ANSWER)
    standin.ring_s = 0.2
    await voice.originate("call-1", NUMBER)
    await voice.originate("call-1", NUMBER)

    assert (await results.next()).outcome is CallOutcome.NO_ANSWER
    assert [call["channelId"] for call in standin.originated] == ["call-1"]
    await results.assert_no_more()


async def test_a_call_the_platform_already_has_is_followed_not_rejected(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    # An earlier attempt got through but its response was lost; the caller retries with the same id.
    status, _ = await ari(
        standin,
        "POST",
        "/channels",
        params={"endpoint": f"PJSIP/{NUMBER}@operator", "app": "careloop", "channelId": "call-1"},
    )
    assert status == 200

    async def answered() -> bool:
        return (await live_channels(standin)).get("call-1") == "Up"

    await eventually(answered)

    await voice.originate("call-1", NUMBER, announcement=NOTICE)

    result = await results.next()
    assert (result.call_id, result.outcome) == ("call-1", CallOutcome.ANSWERED)
    assert standin.played == [("call-1", NOTICE)]
    assert len(standin.originated) == 1


async def test_a_call_with_no_result_is_reported_failed_once_and_hung_up(
    standin: AriStandIn, results: Results
) -> None:
    standin.behave(NUMBER, Behaviour.NEVER_ENDS)
    voice = await started(standin, results, result_timeout_s=0.3)
    try:
        await voice.originate("call-1", NUMBER)
        result = await results.next()
        assert (result.outcome, result.cause, result.cause_text) == (CallOutcome.FAILED, None, NO_RESULT)
        assert result.answered_at is None

        async def hung_up() -> bool:
            return not await live_channels(standin)

        await eventually(hung_up)  # so the customer's line is not left ringing
        await results.assert_no_more()  # the ChannelDestroyed of that hang-up is not a second result
    finally:
        await voice.stop()


async def test_a_dropped_socket_is_reopened_and_the_outcome_still_reported(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results, caplog: pytest.LogCaptureFixture
) -> None:
    standin.ring_s = 0.4  # it answers after we have reconnected
    await voice.originate("call-1", NUMBER, announcement=NOTICE)
    await standin.drop_websockets()

    result = await results.next()

    assert "events WebSocket closed" in caplog.text
    assert voice.connected
    assert result.outcome is CallOutcome.ANSWERED
    assert standin.played == [("call-1", NOTICE)]


async def test_a_call_answered_while_disconnected_still_hears_the_announcement(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    # It answers (StasisStart) while no socket is open: we only learn it from GET /channels.
    await voice.originate("call-1", NUMBER, announcement=NOTICE)
    await standin.drop_websockets()

    result = await results.next()

    assert result.outcome is CallOutcome.ANSWERED
    assert result.answered_at is not None
    assert standin.played == [("call-1", NOTICE)]
    assert await ari(standin, "GET", "/channels") == (200, [])


async def test_a_call_that_vanished_in_a_platform_restart_is_reported_lost(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    standin.behave(NUMBER, Behaviour.NEVER_ENDS)
    standin.behave("+85291234568", Behaviour.NEVER_ENDS)
    await voice.originate("call-1", NUMBER)
    await standin.stop()  # the platform dies with the channel, sending no events
    await eventually(lambda: not voice.connected)
    await standin.start()
    await eventually(lambda: voice.connected)
    await voice.originate("call-2", "+85291234568")  # placed after the restart: must not be "lost"

    result = await results.next()

    assert (result.call_id, result.outcome, result.cause, result.cause_text) == (
        "call-1",
        CallOutcome.FAILED,
        None,
        LOST_IN_OUTAGE,
    )
    await results.assert_no_more(within=0.4)


async def test_an_answered_call_lost_in_a_restart_stays_answered(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    # The customer picked up before the platform died: calling them again would be the wrong fix.
    standin.playback_s = 5.0
    await voice.originate("call-1", NUMBER, announcement=NOTICE)
    await eventually(lambda: bool(standin.played))
    await standin.stop()
    await standin.start()

    result = await results.next()

    assert (result.outcome, result.cause, result.cause_text) == (CallOutcome.ANSWERED, None, LOST_IN_OUTAGE)
    assert result.answered_at is not None
    assert result.duration_s is None  # we never learnt when it ended


async def test_a_second_connection_taking_our_app_name_is_reported_loudly(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results, caplog: pytest.LogCaptureFixture
) -> None:
    intruder = await started(standin, Results())  # same app name, as two replicas would be
    try:
        await eventually(lambda: "another connection took over ARI app careloop" in caplog.text)
    finally:
        await intruder.stop()
    await eventually(lambda: voice.connected)
    await voice.originate("call-1", NUMBER)
    assert (await results.next()).outcome is CallOutcome.ANSWERED


async def test_behave_sequence_plays_one_behaviour_per_call_and_repeats_the_last(
    standin: AriStandIn, voice: AriVoicePlatform, results: Results
) -> None:
    standin.behave_sequence(NUMBER, [Behaviour.NO_ANSWER, Behaviour.BUSY, Behaviour.ANSWER])
    outcomes = []
    for round_ in range(4):
        await voice.originate(f"call-{round_}", NUMBER)
        outcomes.append((await results.next()).outcome)
    await voice.originate("other", "+85291234568")

    assert outcomes == [CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.ANSWERED, CallOutcome.ANSWERED]
    assert (await results.next()).outcome is CallOutcome.ANSWERED  # unscripted numbers answer


async def test_from_url_reads_credentials_and_options(standin: AriStandIn, results: Results) -> None:
    url = f"ari://careloop:careloop@127.0.0.1:{standin.port}?app=demo&endpoint=SIP/{{number}}@trunk&ring_timeout=9"
    voice = AriVoicePlatform.from_url(url, caller_id="care desk")
    await voice.start(results)
    try:
        await voice.originate("call-1", NUMBER)
        assert (await results.next()).outcome is CallOutcome.ANSWERED
    finally:
        await voice.stop()
    call = standin.originated[0]
    assert (call["endpoint"], call["app"], call["callerId"], call["timeout"]) == (
        f"SIP/{NUMBER}@trunk",
        "demo",
        "care desk",
        "9",
    )
    assert repr(AriVoicePlatform.from_url("ari://u:p%40ss@ari.example?tls=true")) == (
        "AriVoicePlatform('https://ari.example:8089', app='careloop')"
    )
    with pytest.raises(ValueError, match="unknown"):
        AriVoicePlatform.from_url("ari://u:p@host?endpiont=PJSIP/{number}")
    with pytest.raises(ValueError, match="ari://"):
        AriVoicePlatform.from_url("http://u:p@host:8088")


async def test_standin_speaks_the_ari_rest_subset(standin: AriStandIn) -> None:
    assert (await ari(standin, "GET", "/channels", auth=None))[0] == 401
    assert await ari(standin, "GET", "/channels", auth=None, params={"api_key": "careloop:careloop"}) == (
        200,
        [],
    )
    assert await ari(standin, "POST", "/channels", params={"app": "careloop"}) == (
        400,
        {"message": "Endpoint must be specified"},
    )
    assert (await ari(standin, "POST", "/channels", params={"endpoint": "PJSIP/123"}))[0] == 400
    standin.behave("123", Behaviour.NEVER_ENDS)
    created = await ari(
        standin,
        "POST",
        "/channels",
        json={"endpoint": "PJSIP/123@operator", "app": "careloop", "channelId": "x1"},
    )
    assert created[0] == 200
    assert {key: created[1][key] for key in ("id", "state")} == {"id": "x1", "state": "Down"}
    assert {"name", "caller", "connected", "dialplan", "creationtime"} <= created[1].keys()
    duplicate = await ari(
        standin, "POST", "/channels", params={"endpoint": "PJSIP/123", "app": "careloop", "channelId": "x1"}
    )
    assert duplicate[0] == 409
    assert [channel["id"] for channel in (await ari(standin, "GET", "/channels"))[1]] == ["x1"]
    assert (await ari(standin, "POST", "/channels/x1/play", params={"media": NOTICE}))[
        0
    ] == 409  # not answered
    assert (await ari(standin, "DELETE", "/channels/x1"))[0] == 204
    assert (await ari(standin, "GET", "/channels/x1"))[0] == 404
    assert (await ari(standin, "DELETE", "/channels/x1"))[0] == 404


async def test_standin_cli_serves_until_sigterm() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "contact_gateway.standins.ari", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "ARI_STANDIN_PASSWORD": "from-env"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port):
            assert process.returncode is None, "the stand-in exited early"
            assert time.monotonic() < deadline, "the stand-in did not start listening"
            await asyncio.sleep(0.05)
        async with (
            aiohttp.ClientSession(
                headers=_authorization(aiohttp.encode_basic_auth("careloop", "from-env"))
            ) as session,
            session.get(f"http://127.0.0.1:{port}/ari/channels") as response,
        ):
            assert (response.status, await response.json()) == (200, [])
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
