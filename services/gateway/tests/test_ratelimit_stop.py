"""The shared rate limiter stops when asked, even when a bucket call swallowed the cancellation."""

from __future__ import annotations

import asyncio

import pytest

from careloop_common.bus import Bus
from gateway.ratelimit import SharedRateLimiter


async def test_stop_ends_the_sync_loop_even_if_a_sync_swallowed_the_cancel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = SharedRateLimiter(Bus(url="nats://127.0.0.1:1", name="test"), sync_interval_s=0.01)
    syncing = asyncio.Event()
    swallowed: list[bool] = []

    async def swallowing_sync() -> None:
        # What asyncio.wait_for does on Python 3.11 when the cancel lands as the reply arrives (once).
        syncing.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(True)

    monkeypatch.setattr(limiter, "sync", swallowing_sync)
    await limiter.start()
    await asyncio.wait_for(syncing.wait(), timeout=5)
    # stop() cancels the loop mid-sync; before the fix the loop went on and stop() never returned.
    await asyncio.wait_for(limiter.stop(), timeout=5)
    assert swallowed == [True]
    assert limiter._task is not None
    assert limiter._task.done()
