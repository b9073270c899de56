"""Outbound care calls through Asterisk over ARI: place one call attempt and report how it ended.

The service's round logic decides whether and when to call a customer again; this adapter places
a single attempt and reports its outcome to a handler exactly once per call id. The call id is
also the Asterisk channel id, so every event maps back to its call without a lookup table, and a
retried originate with the same id cannot ring the customer twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, TypedDict, Unpack
from urllib.parse import parse_qs, quote, unquote, urlsplit

import aiohttp

from careloop_common.telemetry import redact

log = logging.getLogger(__name__)


class CallOutcome(StrEnum):
    """How one call attempt ended, as the service's round logic sees it."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    FAILED = "failed"


@dataclass(frozen=True)
class CallResult:
    """The outcome of one call attempt, with the platform's Q.850 cause where it gave one."""

    call_id: str
    outcome: CallOutcome
    cause: int | None
    cause_text: str | None
    answered_at: datetime | None
    ended_at: datetime
    duration_s: float | None


class VoiceUnavailable(Exception):
    """The voice platform cannot take the call now (unreachable, 5xx, events not connected): retry later."""


class CallRejected(Exception):
    """The voice platform (or this adapter) refused this particular call: retrying will not help."""


ResultHandler = Callable[[CallResult], Awaitable[None]]

NO_RESULT: Final = "no result from the voice platform"
LOST_IN_OUTAGE: Final = "lost during voice-platform outage"

# Q.850 cause values, grouped by what the round logic does about them.
_BUSY_CAUSES: Final = frozenset({17})
_NO_ANSWER_CAUSES: Final = frozenset({18, 19, 21})
_WRONG_NUMBER_CAUSES: Final = frozenset({1, 3, 22, 28})

# Digits only: an Asterisk dial string treats "&" as a second endpoint and "/" or "@" as routing,
# so anything else in a number could make us call somebody who is not the customer.
_DIALLABLE: Final = re.compile(r"\+?[0-9]{3,15}")
# Statuses that say nothing about the call itself, so a later retry may well succeed.
_NOT_ABOUT_THE_CALL: Final = frozenset({401, 403, 408, 429})
_REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=10)
_CONNECT_TIMEOUT_S: Final = 10.0
_HEARTBEAT_S: Final = 20.0
_RECONNECT_MIN_S: Final = 0.1
# A connection that lasted this long was healthy, so the next drop starts the backoff afresh.
_STABLE_CONNECTION_S: Final = 10.0
# After a reconnection, time for ChannelDestroyed events already on the new socket to arrive, so a
# call that ended just after we reconnected gets its real outcome rather than "lost".
_EVENT_SETTLE_S: Final = 0.2
_STOP_GRACE_S: Final = 5.0


def outcome_for_cause(cause: int | None, answered: bool) -> CallOutcome:
    """Map a Q.850 hangup cause (and whether the customer answered) to the call's outcome."""
    if answered:
        return CallOutcome.ANSWERED
    if cause in _BUSY_CAUSES:
        return CallOutcome.BUSY
    if cause in _NO_ANSWER_CAUSES:
        return CallOutcome.NO_ANSWER
    if cause in _WRONG_NUMBER_CAUSES:
        return CallOutcome.WRONG_NUMBER
    return CallOutcome.FAILED


class AriOptions(TypedDict, total=False):
    """Keyword options of AriVoicePlatform, also accepted by from_url."""

    app: str
    endpoint_template: str
    caller_id: str
    ring_timeout_s: int
    reconnect_max_s: float
    result_timeout_s: float | None


@dataclass(eq=False)
class _Call:
    """A call in flight; dropped once its result is reported."""

    call_id: str
    number: str  # already redacted: this object ends up in logs
    announcement: str | None
    placed: bool = False
    answered_at: datetime | None = None
    in_stasis: bool = False
    playing: bool = False
    deadline: asyncio.TimerHandle | None = None


class AriVoicePlatform:
    """Places outbound calls through Asterisk's REST interface and follows them on its events WebSocket."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        app: str = "careloop",
        endpoint_template: str = "PJSIP/{number}@operator",
        caller_id: str = "careloop",
        ring_timeout_s: int = 30,
        reconnect_max_s: float = 30.0,
        result_timeout_s: float | None = None,
    ) -> None:
        if "{number}" not in endpoint_template:
            raise ValueError("endpoint_template must contain {number}")
        self._base_url = base_url.rstrip("/")
        self._authorization = aiohttp.encode_basic_auth(username, password)
        self._api_key = f"{username}:{password}"
        self._app = app
        self._endpoint_template = endpoint_template
        self._caller_id = caller_id
        self._ring_timeout_s = ring_timeout_s
        self._reconnect_max_s = reconnect_max_s
        # Long enough for the platform's own ring timeout to run out twice, plus time to clear down.
        self._result_timeout_s = (
            result_timeout_s if result_timeout_s is not None else 2 * ring_timeout_s + 60.0
        )
        self._calls: dict[str, _Call] = {}
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_result: ResultHandler | None = None

    @classmethod
    def from_url(cls, url: str, **options: Unpack[AriOptions]) -> AriVoicePlatform:
        """Build from ``ari://user:pass@host:port?app=…&endpoint=…&caller_id=…&ring_timeout=…&tls=true``."""
        parts = urlsplit(url)
        if parts.scheme != "ari" or not parts.hostname:
            raise ValueError("expected a URL like ari://user:pass@host:8088?app=careloop")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        tls = query.pop("tls", "false").lower() in {"1", "true", "yes"}
        merged = _options_from_query(query)
        merged.update(options)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or (8089 if tls else 8088)
        return cls(
            f"{'https' if tls else 'http'}://{host}:{port}",
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            **merged,
        )

    def __repr__(self) -> str:
        return f"AriVoicePlatform({self._base_url!r}, app={self._app!r})"

    @property
    def connected(self) -> bool:
        """Tell whether the events WebSocket is open, i.e. whether outcomes can be heard."""
        return self._ws is not None and not self._ws.closed

    @property
    def in_flight(self) -> int:
        """Return how many calls wait for their outcome."""
        return len(self._calls)

    async def start(self, on_result: ResultHandler) -> None:
        """Open the events WebSocket and keep it open in the background; return after the first attempt.

        A platform that is away (or refuses our credentials) does not make this fail: the adapter
        keeps retrying and ``connected`` says how things stand, like the bus does for NATS.
        """
        if self._events_task is not None:
            raise RuntimeError("already started")
        self._on_result = on_result
        self._session = aiohttp.ClientSession(headers={"Authorization": self._authorization})
        first_attempt = asyncio.Event()
        self._events_task = asyncio.create_task(self._keep_events_open(first_attempt), name="ari-events")
        await first_attempt.wait()

    async def stop(self) -> None:
        """Close the events socket and the HTTP session; calls still in flight get no result."""
        if self._events_task is not None:
            self._events_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._events_task
            self._events_task = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        for call in self._calls.values():
            _cancel_deadline(call)
        self._calls.clear()
        await self._settle_background_tasks()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def originate(
        self,
        call_id: str,
        msisdn: str,
        *,
        announcement: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        """Place one call attempt to msisdn; its outcome reaches the result handler later, exactly once.

        Raises VoiceUnavailable when the platform cannot take the call now (retry later with the
        same call_id) and CallRejected when this call can never be placed.
        """
        if not self.connected:
            raise VoiceUnavailable("not connected to the voice platform's events; the outcome would be lost")
        if not _DIALLABLE.fullmatch(msisdn):
            raise CallRejected("not a diallable phone number")
        if not call_id:
            raise CallRejected("a call needs a non-empty call_id")
        if call_id in self._calls:
            log.info("call %s is already in flight; not dialling again", call_id)
            return
        # Registered before the request: a busy line can end the channel before the response arrives.
        call = self._track(call_id, redact(msisdn), announcement)
        try:
            status, body = await self._ari(
                "POST",
                "/channels",
                params=self._originate_params(call_id, msisdn),
                body={"variables": dict(variables)} if variables else None,
            )
        except VoiceUnavailable:
            self._forget(call)
            raise
        self._settle_originate(call, status, body)

    def _track(self, call_id: str, number: str, announcement: str | None) -> _Call:
        call = _Call(call_id, number, announcement)
        self._calls[call_id] = call
        self._arm_deadline(call)
        return call

    def _forget(self, call: _Call) -> None:
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
        _cancel_deadline(call)

    def _originate_params(self, call_id: str, msisdn: str) -> dict[str, str]:
        return {
            "endpoint": self._endpoint_template.replace("{number}", msisdn),
            "app": self._app,
            "appArgs": call_id,
            "channelId": call_id,
            "callerId": self._caller_id,
            "timeout": str(self._ring_timeout_s),
        }

    def _settle_originate(self, call: _Call, status: int, body: Any) -> None:
        if 200 <= status < 300:
            call.placed = True
            log.info("call %s to %s placed", call.call_id, call.number)
            return
        if status == 409:
            # The channel id is taken, so an earlier attempt with this call id got through even
            # though its response was lost: follow that call instead of failing this one.
            call.placed = True
            log.warning("call %s already exists on the voice platform; following it", call.call_id)
            self._spawn(self._adopt(call), f"adopting call {call.call_id}")
            return
        self._forget(call)
        message = redact(_error_message(body))
        if status >= 500 or status in _NOT_ABOUT_THE_CALL:
            raise VoiceUnavailable(f"voice platform answered HTTP {status}: {message}")
        raise CallRejected(f"voice platform rejected the call (HTTP {status}): {message}")

    async def _adopt(self, call: _Call) -> None:
        status, body = await self._ari("GET", f"/channels/{_path(call.call_id)}")
        if status == 200 and isinstance(body, dict):
            await self._resume(call, body)
        elif status == 404:
            self._finish(call, cause=None, cause_text=NO_RESULT, ended_at=_now(), ended_seen=False)

    # --- the events WebSocket -------------------------------------------------------------

    async def _keep_events_open(self, first_attempt: asyncio.Event) -> None:
        delay = _RECONNECT_MIN_S
        try:
            while True:
                if await self._listen_once(first_attempt):
                    delay = _RECONNECT_MIN_S
                # Jitter, so the replicas of a service do not all hit a restarted platform at once.
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - not a secret
                delay = min(delay * 2, self._reconnect_max_s)
        finally:
            first_attempt.set()

    async def _listen_once(self, first_attempt: asyncio.Event) -> bool:
        """Connect and read events until the socket closes; tell whether the connection was a stable one."""
        loop = asyncio.get_running_loop()
        try:
            ws = await self._connect_events()
            first_attempt.set()
            if ws is None:
                return False
            opened_at = loop.time()
            await self._read_events(ws)
            return loop.time() - opened_at >= _STABLE_CONNECTION_S
        except Exception:
            # A bug here must not leave us deaf for good: log it and reconnect.
            log.exception("voice platform events connection failed")
            return False

    async def _connect_events(self) -> aiohttp.ClientWebSocketResponse | None:
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                ws = await self._require_session().ws_connect(
                    f"{self._base_url}/ari/events",
                    params={"app": self._app, "api_key": self._api_key},
                    heartbeat=_HEARTBEAT_S,
                )
        except aiohttp.WSServerHandshakeError as exc:
            # Never log the exception itself: its URL carries api_key, i.e. our password.
            if exc.status in (401, 403):
                log.error("voice platform rejected our ARI credentials (HTTP %s); retrying", exc.status)
            else:
                log.warning("voice platform refused the events WebSocket (HTTP %s); retrying", exc.status)
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("voice platform unreachable (%s); retrying", type(exc).__name__)
            return None
        self._ws = ws
        log.info(
            "listening to voice platform events for app %s (%d call(s) in flight)",
            self._app,
            len(self._calls),
        )
        if any(call.placed for call in self._calls.values()):
            self._spawn(self._reconcile(), "reconciling calls after reconnecting")
        return ws

    async def _read_events(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._handle_message(message.data)
        finally:
            if self._ws is ws:
                self._ws = None
            await ws.close()
        log.warning("voice platform events WebSocket closed; %d call(s) in flight", len(self._calls))

    def _handle_message(self, data: str) -> None:
        try:
            event = json.loads(data)
            if isinstance(event, dict):
                self._on_event(event)
        except Exception:
            # One odd event must not stop us hearing about every other call.
            log.exception("could not handle a voice platform event")

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "ApplicationReplaced":
            self._on_replaced()
            return
        call_id = _playback_channel_id(event) if kind == "PlaybackFinished" else _channel_id(event)
        call = self._calls.get(call_id) if call_id else None
        if call is None:
            return  # not ours (another app or replica), or already reported
        match kind:
            case "ChannelStateChange":
                self._on_state_change(call, event)
            case "StasisStart":
                self._on_answered(call, _event_time(event))
            case "PlaybackFinished":
                self._on_playback_finished(call)
            case "ChannelDestroyed":
                self._on_destroyed(call, event)

    def _on_replaced(self) -> None:
        # Asterisk sends an app's events to its newest socket only, so from now on we hear nothing.
        log.error(
            "another connection took over ARI app %s and now gets its events: "
            "every instance of the service needs its own app name",
            self._app,
        )
        self._spawn(self._close_events(), "closing the replaced events socket")

    async def _close_events(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    def _on_state_change(self, call: _Call, event: dict[str, Any]) -> None:
        channel = event.get("channel")
        if isinstance(channel, dict) and channel.get("state") == "Up":
            self._mark_answered(call, _event_time(event))

    def _on_answered(self, call: _Call, at: datetime) -> None:
        self._mark_answered(call, at)
        if call.in_stasis:
            return  # a repeated StasisStart
        call.in_stasis = True
        # Set before the task runs, so "in Stasis and not playing" always means "hang-up requested".
        call.playing = call.announcement is not None
        self._spawn(self._announce_then_hang_up(call), f"announcement on call {call.call_id}")

    def _mark_answered(self, call: _Call, at: datetime) -> None:
        if call.answered_at is None:
            call.answered_at = at
            # An answered call may run as long as its announcement: give it a fresh allowance.
            self._arm_deadline(call)

    def _on_playback_finished(self, call: _Call) -> None:
        if call.playing:
            call.playing = False
            self._spawn(self._hang_up(call.call_id), f"hanging up call {call.call_id}")

    def _on_destroyed(self, call: _Call, event: dict[str, Any]) -> None:
        cause = event.get("cause")
        cause_text = event.get("cause_txt")
        self._finish(
            call,
            cause=cause if isinstance(cause, int) else None,
            cause_text=cause_text if isinstance(cause_text, str) else None,
            ended_at=_event_time(event),
            ended_seen=True,
        )

    # --- what we do to an answered call ---------------------------------------------------

    async def _announce_then_hang_up(self, call: _Call) -> None:
        if call.announcement is None:
            await self._hang_up(call.call_id)
            return
        try:
            status, body = await self._ari(
                "POST",
                f"/channels/{_path(call.call_id)}/play",
                # Our own playback id, so after an outage we can ask whether it is still playing.
                params={"media": call.announcement, "playbackId": _playback_id(call.call_id)},
            )
        except VoiceUnavailable:
            # Start again from the top when the events socket comes back (_resume); the result
            # deadline hangs up if it never does.
            call.in_stasis = call.playing = False
            raise
        if 200 <= status < 300 or status == 404:
            return  # playing; or the customer already hung up, and ChannelDestroyed will say so
        call.playing = False
        if status == 409:
            call.in_stasis = False  # not in our app yet; its StasisStart will start the announcement
            return
        log.warning(
            "could not play the announcement on call %s (HTTP %s): %s",
            call.call_id,
            status,
            _error_message(body),
        )
        await self._hang_up(call.call_id)  # rather than hold a silent line open

    async def _hang_up(self, call_id: str) -> None:
        status, body = await self._ari("DELETE", f"/channels/{_path(call_id)}")
        if status >= 300 and status != 404:
            log.warning("could not hang up call %s (HTTP %s): %s", call_id, status, _error_message(body))

    # --- results ---------------------------------------------------------------------------

    def _finish(
        self,
        call: _Call,
        *,
        cause: int | None,
        cause_text: str | None,
        ended_at: datetime,
        ended_seen: bool,
    ) -> None:
        if self._calls.get(call.call_id) is not call:
            return  # already reported
        self._forget(call)
        answered_at = call.answered_at
        duration_s = (
            max(0.0, (ended_at - answered_at).total_seconds())
            if answered_at is not None and ended_seen
            else None
        )
        result = CallResult(
            call_id=call.call_id,
            outcome=outcome_for_cause(cause, answered_at is not None),
            cause=cause,
            cause_text=cause_text,
            answered_at=answered_at,
            ended_at=ended_at,
            duration_s=duration_s,
        )
        log.info("call %s to %s ended: %s (cause %s)", call.call_id, call.number, result.outcome, cause)
        self._spawn(self._deliver(result), f"result handler for call {call.call_id}")

    async def _deliver(self, result: CallResult) -> None:
        if self._on_result is not None:
            await self._on_result(result)

    def _arm_deadline(self, call: _Call) -> None:
        _cancel_deadline(call)
        call.deadline = asyncio.get_running_loop().call_later(self._result_timeout_s, self._on_deadline, call)

    def _on_deadline(self, call: _Call) -> None:
        if self._calls.get(call.call_id) is not call:
            return
        log.warning(
            "no result for call %s after %.0f s; giving up on it", call.call_id, self._result_timeout_s
        )
        self._finish(call, cause=None, cause_text=NO_RESULT, ended_at=_now(), ended_seen=False)
        # If the platform still has the channel, do not leave the customer's line ringing or open.
        self._spawn(self._hang_up(call.call_id), f"hanging up call {call.call_id}")

    # --- after a reconnection --------------------------------------------------------------

    async def _reconcile(self) -> None:
        # Only calls the platform had accepted before we ask: a call placed later is not listed yet.
        placed = [call for call in self._calls.values() if call.placed]
        status, body = await self._ari("GET", "/channels")
        if status != 200 or not isinstance(body, list):
            log.warning("could not list the voice platform's channels (HTTP %s)", status)
            return
        live = {channel["id"]: channel for channel in body if isinstance(channel, dict) and "id" in channel}
        await asyncio.sleep(_EVENT_SETTLE_S)
        for call in placed:
            channel = live.get(call.call_id)
            if channel is None:
                self._finish(call, cause=None, cause_text=LOST_IN_OUTAGE, ended_at=_now(), ended_seen=False)
            elif self._calls.get(call.call_id) is call:
                await self._resume(call, channel)

    async def _resume(self, call: _Call, channel: dict[str, Any]) -> None:
        """Carry on with a live call whose events we may have missed."""
        if channel.get("state") != "Up":
            return  # still ringing: its events will come on the new socket
        if not call.in_stasis:
            self._on_answered(call, _now())  # its StasisStart went to a closed socket
        elif not call.playing:
            await self._hang_up(call.call_id)  # our hang-up may have been lost with the connection
        elif not await self._playback_exists(call.call_id):
            self._on_playback_finished(call)  # its PlaybackFinished went to a closed socket

    async def _playback_exists(self, call_id: str) -> bool:
        status, _ = await self._ari("GET", f"/playbacks/{_path(_playback_id(call_id))}")
        return status != 404

    # --- plumbing --------------------------------------------------------------------------

    async def _ari(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, Any]:
        """Send one ARI request and return its status and JSON body (None when it has none)."""
        try:
            async with self._require_session().request(
                method, f"{self._base_url}/ari{path}", params=params, json=body, timeout=_REQUEST_TIMEOUT
            ) as response:
                return response.status, await _json_or_none(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VoiceUnavailable(f"voice platform unreachable ({type(exc).__name__})") from exc

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise VoiceUnavailable("the voice platform adapter is not started")
        return self._session

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(_logged(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle_background_tasks(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=_STOP_GRACE_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _options_from_query(query: dict[str, str]) -> AriOptions:
    options = AriOptions()
    for name, value in query.items():
        match name:
            case "app":
                options["app"] = value
            case "endpoint":
                options["endpoint_template"] = value
            case "caller_id":
                options["caller_id"] = value
            case "ring_timeout":
                options["ring_timeout_s"] = int(value)
            case _:
                raise ValueError(f"unknown ari:// URL option {name!r}")
    return options


async def _logged(work: Coroutine[Any, Any, None], what: str) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("%s failed", what)


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except ValueError:
        return None  # an empty 204, or a proxy's HTML error page


def _error_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return "no details"


def _channel_id(event: dict[str, Any]) -> str | None:
    channel = event.get("channel")
    if isinstance(channel, dict) and isinstance(channel.get("id"), str):
        return str(channel["id"])
    return None


def _playback_channel_id(event: dict[str, Any]) -> str | None:
    playback = event.get("playback")
    target = playback.get("target_uri") if isinstance(playback, dict) else None
    if isinstance(target, str) and target.startswith("channel:"):
        return target.removeprefix("channel:")
    return None


def _playback_id(call_id: str) -> str:
    return f"{call_id}-announcement"


def _event_time(event: dict[str, Any]) -> datetime:
    """Return when the platform says the event happened (UTC), or now if it did not say."""
    stamp = event.get("timestamp")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(stamp)
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
    return _now()


def _now() -> datetime:
    return datetime.now(UTC)


def _path(segment: str) -> str:
    return quote(segment, safe="")


def _cancel_deadline(call: _Call) -> None:
    if call.deadline is not None:
        call.deadline.cancel()
        call.deadline = None
