"""Rate limits shared by every gateway replica, counted in a NATS JetStream key-value bucket.

Fixed one-minute windows per caller (API key, staff user, or client IP for anonymous calls).
Asking NATS on every request would add a round trip to the hot path, so each replica admits
against the last total it read from the bucket plus what it admitted since, and adds its local
count to the bucket with compare-and-set every ``sync_interval_s``. A caller spread over R
replicas can overshoot its limit by at most what R replicas admit in one sync interval.
When NATS is away, each replica keeps limiting on its own counts (fail-safe, not fail-open).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from dataclasses import dataclass, field

import nats
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from careloop_common.bus import Bus
from careloop_common.inbox import stop_if_cancelled

log = logging.getLogger(__name__)

BUCKET = "RATELIMITS"
_KV_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Decision:
    """The answer for one request: admitted or not, and what to tell the caller."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        """Return the RateLimit headers (and Retry-After when refused)."""
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.reset_s)
        return out


@dataclass
class _Counter:
    window: int
    seen_total: int = 0  # the bucket's total at the last read, all replicas together
    pending: int = 0  # admitted here and not yet added to the bucket
    seeded: asyncio.Event = field(default_factory=asyncio.Event)


class SharedRateLimiter:
    """Per-caller request counts per window, shared through a JetStream key-value bucket."""

    def __init__(self, bus: Bus, *, window_s: int = 60, sync_interval_s: float = 0.25) -> None:
        self.bus = bus
        self.window_s = window_s
        self.sync_interval_s = sync_interval_s
        self._counters: dict[str, _Counter] = {}
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background sync with the shared bucket."""
        self._task = asyncio.create_task(self._sync_forever(), name="ratelimit-sync")

    async def stop(self) -> None:
        """Flush what is pending and stop syncing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.sync()

    async def hit(self, identity: str, limit: int) -> Decision:
        """Count one request by ``identity`` and say whether it is within ``limit`` per window."""
        now = time.time()
        window = int(now // self.window_s)
        reset_s = max(1, math.ceil((window + 1) * self.window_s - now))
        key = _bucket_key(identity, window)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = _Counter(window)
            await self._seed(key, counter)
        elif not counter.seeded.is_set():
            await counter.seeded.wait()
        used = counter.seen_total + counter.pending
        if used >= limit:
            return Decision(False, limit, 0, reset_s)
        counter.pending += 1
        return Decision(True, limit, limit - used - 1, reset_s)

    async def sync(self) -> None:
        """Add every pending count to the bucket and read back the totals; drop past windows."""
        current = int(time.time() // self.window_s)
        for key, counter in list(self._counters.items()):
            if counter.window < current:
                del self._counters[key]
                continue
            if counter.pending:
                await self._flush(key, counter)

    async def _seed(self, key: str, counter: _Counter) -> None:
        """Read the bucket's total for a caller's first request in a window on this replica."""
        try:
            kv = await self._bucket()
            if kv is not None:
                entry = await asyncio.wait_for(kv.get(key), _KV_TIMEOUT_S)
                counter.seen_total = int(entry.value or b"0")
        except KeyNotFoundError:
            pass
        except (TimeoutError, nats.errors.Error, ValueError) as exc:
            log.warning("rate-limit bucket unreadable, counting locally: %s", exc)
        finally:
            counter.seeded.set()

    async def _flush(self, key: str, counter: _Counter) -> None:
        """Add one counter's pending requests to the bucket with compare-and-set."""
        kv = await self._bucket()
        if kv is None:
            return
        for _ in range(10):
            delta = counter.pending
            try:
                try:
                    entry = await asyncio.wait_for(kv.get(key), _KV_TIMEOUT_S)
                    total = int(entry.value or b"0") + delta
                    await asyncio.wait_for(
                        kv.update(key, str(total).encode(), last=entry.revision), _KV_TIMEOUT_S
                    )
                except KeyNotFoundError:
                    total = delta
                    await asyncio.wait_for(kv.create(key, str(total).encode()), _KV_TIMEOUT_S)
            except KeyWrongLastSequenceError:
                continue  # another replica wrote first: read again and retry
            except nats.js.errors.KeyValueError:
                continue  # create raced with another replica's create
            except (TimeoutError, nats.errors.Error, ValueError) as exc:
                log.warning("rate-limit bucket unwritable, counting locally: %s", exc)
                return
            counter.pending -= delta
            counter.seen_total = total
            return

    async def _bucket(self) -> KeyValue | None:
        """Open (creating if needed) the shared bucket; None while NATS is away."""
        if self._kv is not None:
            return self._kv
        if not self.bus.connected:
            return None
        try:
            config = KeyValueConfig(
                bucket=BUCKET,
                description="gateway request counts per caller and window",
                history=1,
                ttl=float(self.window_s * 2),
                storage=StorageType.MEMORY,
                # On a NATS cluster the counts outlive the loss of one server, like the streams.
                replicas=self.bus.stream_replicas,
            )
            self._kv = await asyncio.wait_for(self.bus.js.create_key_value(config), 2.0)
        except (TimeoutError, nats.errors.Error) as exc:
            log.warning("rate-limit bucket not available yet: %s", exc)
            return None
        return self._kv

    async def _sync_forever(self) -> None:
        while True:
            # The bucket calls use wait_for, which on Python 3.11 can swallow the stop's cancel:
            # the loop went on, and the gateway's shutdown waited for it forever (a CI teardown).
            stop_if_cancelled()
            await asyncio.sleep(self.sync_interval_s)
            try:
                await self.sync()
            except Exception:
                log.exception("rate-limit sync failed; retrying")


def _bucket_key(identity: str, window: int) -> str:
    """Return a bucket key for a caller and window (hashed: identities may hold any character)."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return f"{digest}.{window}"
