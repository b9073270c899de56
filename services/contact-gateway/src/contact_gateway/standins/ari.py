"""An Asterisk ARI stand-in on a real socket: the REST calls and events an outbound-call app uses.

It speaks the subset of ARI the voice adapter needs: originate into a Stasis app, list, get and
hang up channels, play media, look up a playback, and the events WebSocket (StasisStart,
ChannelStateChange, PlaybackStarted/Finished, StasisEnd, ChannelDestroyed with Q.850 causes).
How a dialled number behaves is set per number, so tests and the demo can make a customer answer,
be busy, not pick up, not exist, or hang in the air. Run it alone with
``python -m contact_gateway.standins.ari --port 8088``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import signal
import time
import uuid
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Annotated, Any, Final

import aiohttp
import typer
from aiohttp import web

from careloop_common.telemetry import redact

log = logging.getLogger(__name__)


class Behaviour(StrEnum):
    """What the called party does."""

    ANSWER = "answer"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    NEVER_ENDS = "never_ends"


# Asterisk's own wording (ast_cause2str), which is what real ChannelDestroyed events carry.
CAUSE_TEXT: Final[Mapping[int, str]] = {
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
}
NORMAL_CLEARING: Final = 16
_BEHAVIOUR_CAUSE: Final[Mapping[Behaviour, int]] = {
    Behaviour.BUSY: 17,
    Behaviour.NO_ANSWER: 19,
    Behaviour.WRONG_NUMBER: 1,
}
# Technologies a stock Asterisk has; any other cannot allocate a channel (a 500, as in Asterisk).
_TECHNOLOGIES: Final = frozenset({"PJSIP", "SIP", "IAX2", "DAHDI", "Local"})
_ORIGINATE_FIELDS: Final = ("endpoint", "app", "appArgs", "channelId", "callerId", "timeout")
STANDIN_PASSWORD: Final = "careloop"  # noqa: S105 - the stand-in's published demo credential


@dataclass(eq=False)
class _Channel:
    id: str
    name: str
    app: str
    args: list[str]
    number: str
    caller_id: str
    created: datetime
    state: str = "Down"
    in_stasis: bool = False

    def as_json(self) -> dict[str, Any]:
        """Render the ARI Channel model."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": {"name": "", "number": self.caller_id},
            "connected": {"name": "", "number": self.number},
            "accountcode": "",
            "dialplan": {
                "context": "default",
                "exten": "s",
                "priority": 1,
                "app_name": "Stasis" if self.in_stasis else "",
                "app_data": ",".join([self.app, *self.args]) if self.in_stasis else "",
            },
            "creationtime": _ari_timestamp(self.created),
            "language": "en",
        }


@dataclass
class _Script:
    behaviours: list[Behaviour]
    calls: int = field(default=0)

    def next(self) -> Behaviour:
        """Return the behaviour for the next call; the last one repeats."""
        behaviour = self.behaviours[min(self.calls, len(self.behaviours) - 1)]
        self.calls += 1
        return behaviour


class AriStandIn:
    """A voice platform that speaks ARI over HTTP and WebSocket on host:port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8088,
        *,
        username: str = "careloop",
        password: str = STANDIN_PASSWORD,
        ring_s: float = 0.05,
        playback_s: float = 0.05,
    ) -> None:
        self.host = host
        self.port = port
        self.ring_s = ring_s
        self.playback_s = playback_s
        self._username = username
        self._password = password
        self.originated: list[dict[str, Any]] = []
        self.played: list[tuple[str, str]] = []
        self._scripts: dict[str, _Script] = {}
        self._channels: dict[str, _Channel] = {}
        self._playbacks: dict[str, dict[str, Any]] = {}
        # Asterisk keeps one events socket per application: the newest replaces the older.
        self._subscribers: dict[str, web.WebSocketResponse] = {}
        self._sockets: set[web.WebSocketResponse] = set()  # replaced ones too
        self._tasks: set[asyncio.Task[None]] = set()
        self._channel_tasks: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()
        self._sequence = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Return the base URL ARI clients use (without the /ari prefix)."""
        return f"http://{self.host}:{self.port}"

    def behave(self, number: str, behaviour: Behaviour) -> None:
        """Make every call to number behave this way."""
        self.behave_sequence(number, [behaviour])

    def behave_sequence(self, number: str, behaviours: Sequence[Behaviour]) -> None:
        """Make successive calls to number behave in this order; the last behaviour repeats."""
        if not behaviours:
            raise ValueError("give at least one behaviour")
        self._scripts[number] = _Script(list(behaviours))

    async def start(self) -> None:
        """Listen on host:port; a stopped stand-in may be started again (a platform restart)."""
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_post("/ari/channels", self._originate)
        app.router.add_get("/ari/channels", self._list_channels)
        app.router.add_get("/ari/channels/{channel_id}", self._get_channel)
        app.router.add_delete("/ari/channels/{channel_id}", self._hang_up)
        app.router.add_post("/ari/channels/{channel_id}/play", self._play)
        app.router.add_get("/ari/playbacks/{playback_id}", self._get_playback)
        app.router.add_get("/ari/events", self._events)
        # No access log: request lines carry api_key and the dialled numbers.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        """Stop listening and forget every channel, without events, as a crashed platform would."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._channels.clear()
        self._channel_tasks.clear()
        self._playbacks.clear()
        await self.drop_websockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> AriStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def drop_websockets(self) -> None:
        """Close every events socket, as a network blip would; channels carry on."""
        sockets = list(self._sockets)
        self._subscribers.clear()
        for ws in sockets:
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY)

    async def emit(self, app: str, event: Mapping[str, Any] | str) -> None:
        """Send app's subscribers an event, or raw text: duplicate and broken events for tests."""
        if isinstance(event, str):
            await self._send(app, event)
        else:
            await self._send(app, {"application": app, "timestamp": _ari_timestamp(_now()), **event})

    # --- REST ------------------------------------------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self._authorised(request):
            response: web.StreamResponse = await handler(request)
            return response
        return web.json_response(
            {"message": "Authentication required"},
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
        )

    def _authorised(self, request: web.Request) -> bool:
        api_key = request.query.get("api_key")
        if api_key is not None:
            return secrets.compare_digest(api_key, f"{self._username}:{self._password}")
        expected = aiohttp.encode_basic_auth(self._username, self._password)
        return secrets.compare_digest(request.headers.get("Authorization", ""), expected)

    async def _originate(self, request: web.Request) -> web.Response:
        fields, variables = await _originate_fields(request)
        endpoint, app = fields.get("endpoint", ""), fields.get("app", "")
        technology, _, resource = endpoint.partition("/")
        channel_id = fields.get("channelId") or f"{time.time():.0f}.{next(self._sequence)}"
        problem = self._originate_problem(endpoint, app, technology, resource, channel_id)
        if problem is not None:
            return problem
        number, _, trunk = resource.partition("@")
        self.originated.append({**fields, "channelId": channel_id, "variables": variables})
        channel = _Channel(
            id=channel_id,
            name=f"{technology}/{trunk or number}-{next(self._sequence):08x}",
            app=app,
            args=[arg for arg in fields.get("appArgs", "").split(",") if arg],
            number=number,
            caller_id=fields.get("callerId", ""),
            created=_now(),
        )
        self._channels[channel_id] = channel
        behaviour = self._next_behaviour(number)
        log.info("originate %s to %s: %s", channel_id, redact(number), behaviour)
        self._channel_tasks[channel_id] = self._spawn(self._play_out(channel, behaviour))
        return web.json_response(channel.as_json())

    def _originate_problem(
        self, endpoint: str, app: str, technology: str, resource: str, channel_id: str
    ) -> web.Response | None:
        if not endpoint:
            return _error(400, "Endpoint must be specified")
        if not app:
            return _error(400, "Application or extension must be specified")
        if not resource:
            return _error(400, "Invalid endpoint specified")
        if technology not in _TECHNOLOGIES:
            return _error(500, "Allocation failed")
        if channel_id in self._channels:
            return _error(409, "Channel with given unique ID already exists")
        return None

    async def _list_channels(self, request: web.Request) -> web.Response:
        return web.json_response([channel.as_json() for channel in self._channels.values()])

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channel_id"])
        if channel is None:
            return _error(404, "Channel not found")
        return web.json_response(channel.as_json())

    async def _hang_up(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channel_id"])
        if channel is None:
            return _error(404, "Channel not found")
        task = self._channel_tasks.get(channel.id)
        if task is not None:
            task.cancel()
        await self._destroy(channel, _int(request.query.get("reason_code"), NORMAL_CLEARING))
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channel_id"])
        media = request.query.get("media")
        if channel is None:
            return _error(404, "Channel not found")
        if not media:
            return _error(400, "media must be specified")
        if not channel.in_stasis:
            return _error(409, "Channel not in Stasis application")
        playback_id = request.query.get("playbackId") or str(uuid.uuid4())
        playback = {
            "id": playback_id,
            "media_uri": media,
            "target_uri": f"channel:{channel.id}",
            "state": "queued",
            "language": "en",
        }
        self.played.append((channel.id, media))
        self._playbacks[playback_id] = playback
        self._spawn(self._perform(channel, playback))
        return web.json_response(playback, status=201)

    async def _get_playback(self, request: web.Request) -> web.Response:
        playback = self._playbacks.get(request.match_info["playback_id"])
        if playback is None:
            return _error(404, "Playback not found")
        return web.json_response(playback)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        apps = [app for app in request.query.get("app", "").split(",") if app]
        if not apps:
            return _error(400, "app must be specified")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        for app in apps:
            await self._subscribe(app, ws)
        try:
            async for _ in ws:
                pass  # ARI clients have nothing to say on this socket
        finally:
            self._sockets.discard(ws)
            for app in apps:
                if self._subscribers.get(app) is ws:
                    del self._subscribers[app]
        return ws

    async def _subscribe(self, app: str, ws: web.WebSocketResponse) -> None:
        previous = self._subscribers.get(app)
        self._subscribers[app] = ws
        if previous is not None and not previous.closed:
            # As Asterisk does: the older socket stays open but hears no more of this app.
            event = {"type": "ApplicationReplaced", "application": app, "timestamp": _ari_timestamp(_now())}
            with contextlib.suppress(ConnectionError, RuntimeError):
                await previous.send_str(json.dumps(event))

    # --- what the called party does --------------------------------------------------------

    def _next_behaviour(self, number: str) -> Behaviour:
        script = self._scripts.get(number)
        return script.next() if script is not None else Behaviour.ANSWER

    async def _play_out(self, channel: _Channel, behaviour: Behaviour) -> None:
        if behaviour in (Behaviour.ANSWER, Behaviour.NO_ANSWER):
            await asyncio.sleep(self.ring_s)
        if behaviour is Behaviour.ANSWER:
            await self._answer(channel)
        elif behaviour in _BEHAVIOUR_CAUSE:
            self._channel_tasks.pop(channel.id, None)  # past the point where a hang-up cancels us
            await self._destroy(channel, _BEHAVIOUR_CAUSE[behaviour])
        # NEVER_ENDS: the channel stays until someone hangs it up.

    async def _answer(self, channel: _Channel) -> None:
        channel.state = "Up"
        await self._send_channel_event("ChannelStateChange", channel)
        channel.in_stasis = True
        await self._send_channel_event("StasisStart", channel, args=channel.args)

    async def _perform(self, channel: _Channel, playback: dict[str, Any]) -> None:
        playback["state"] = "playing"
        await self.emit(channel.app, {"type": "PlaybackStarted", "playback": dict(playback)})
        await asyncio.sleep(self.playback_s)
        self._playbacks.pop(playback["id"], None)
        if self._channels.get(channel.id) is channel:
            playback["state"] = "done"
            await self.emit(channel.app, {"type": "PlaybackFinished", "playback": playback})

    async def _destroy(self, channel: _Channel, cause: int) -> None:
        if self._channels.pop(channel.id, None) is None:
            return
        self._channel_tasks.pop(channel.id, None)
        for playback_id, playback in list(self._playbacks.items()):
            if playback["target_uri"] == f"channel:{channel.id}":
                del self._playbacks[playback_id]
        if channel.in_stasis:
            await self._send_channel_event("StasisEnd", channel)
        cause_txt = CAUSE_TEXT.get(cause, "Unknown")
        await self._send_channel_event("ChannelDestroyed", channel, cause=cause, cause_txt=cause_txt)

    # --- plumbing --------------------------------------------------------------------------

    async def _send_channel_event(self, kind: str, channel: _Channel, **extra: Any) -> None:
        await self.emit(channel.app, {"type": kind, "channel": channel.as_json(), **extra})

    async def _send(self, app: str, event: Mapping[str, Any] | str) -> None:
        text = event if isinstance(event, str) else json.dumps(event)
        # One sender at a time, so each subscriber sees events in the order they happened.
        async with self._send_lock:
            ws = self._subscribers.get(app)
            if ws is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(text)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _originate_fields(request: web.Request) -> tuple[dict[str, str], dict[str, str]]:
    """Collect originate parameters from the query and the JSON body, as Asterisk accepts both."""
    fields = {name: request.query[name] for name in _ORIGINATE_FIELDS if name in request.query}
    body: Any = {}
    if request.can_read_body:
        with contextlib.suppress(ValueError):
            body = await request.json()
    if not isinstance(body, dict):
        body = {}
    for name in _ORIGINATE_FIELDS:
        if isinstance(body.get(name), str | int):
            fields[name] = str(body[name])
    raw_variables = body.get("variables")
    variables = (
        {str(key): str(value) for key, value in raw_variables.items()}
        if isinstance(raw_variables, dict)
        else {}
    )
    return fields, variables


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _now() -> datetime:
    return datetime.now(UTC)


def _ari_timestamp(moment: datetime) -> str:
    """Format as Asterisk does: milliseconds and a +HHMM offset (2014-05-19T11:30:40.959+0000)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


cli = typer.Typer(add_completion=False, help="Run an Asterisk ARI stand-in for the careloop demo.")


def _parse_behaviours(rules: list[str]) -> dict[str, Behaviour]:
    behaviours: dict[str, Behaviour] = {}
    for rule in rules:
        number, _, name = rule.partition("=")
        try:
            behaviours[number] = Behaviour(name)
        except ValueError:
            choices = ", ".join(Behaviour)
            raise typer.BadParameter(f"{rule!r}: expected NUMBER=BEHAVIOUR, one of {choices}") from None
    return behaviours


@cli.command()
def main(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8088,
    username: Annotated[str, typer.Option(envvar="ARI_STANDIN_USERNAME", help="ARI user")] = "careloop",
    password: Annotated[
        str, typer.Option(envvar="ARI_STANDIN_PASSWORD", help="ARI password (prefer the env var)")
    ] = STANDIN_PASSWORD,
    ring_s: Annotated[float, typer.Option(help="seconds a phone rings before it answers")] = 2.0,
    playback_s: Annotated[float, typer.Option(help="seconds an announcement lasts")] = 3.0,
    behave: Annotated[
        list[str] | None, typer.Option(help="NUMBER=BEHAVIOUR for a dialled number; repeatable")
    ] = None,
) -> None:
    """Serve the ARI stand-in until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    standin = AriStandIn(
        host, port, username=username, password=password, ring_s=ring_s, playback_s=playback_s
    )
    for number, behaviour in _parse_behaviours(behave or []).items():
        standin.behave(number, behaviour)
    asyncio.run(_serve(standin))


async def _serve(standin: AriStandIn) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with standin:
        log.info("ARI stand-in listening on %s/ari", standin.url)
        await stop.wait()
    log.info("ARI stand-in stopped")


if __name__ == "__main__":
    cli()
