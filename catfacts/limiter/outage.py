"""An outage of Redis from end to end, for the fallback (`degraded.py`): the heartbeat, falling
back, the probes, the rejoin and the return.

Apart from `Fallback`, which composes it, so that the fallback reads as the decision of each call
(a slot or a wait) and this as the one loop that moves it between phases (`SHARED`, `DEGRADED`,
`RETURNING`). It works on the fallback's state: its phase, its view and local share, its slots.

While Redis answers, the loop renews this process's entry in the registry of sharers every
`heartbeat_interval` and reads the view the local share is cut from (`local_share.py`). When
Redis fails in a way that waiting may mend, `degrade` puts the fallback on its local share.

It probes Redis with exponential backoff (`PROBE_FIRST` doubling to `PROBE_MAX`). When Redis
answers, the process writes its slots that still count into Redis (`rejoin`), then takes a slot
only when both Redis and its local share have room, until every sharer it knew is back (or
`PROBE_MAX` and a little more have passed: a sharer that has not come back by then is gone).
Only then does it spend the shared budget alone: no slot is ever unknown to both.

The residue: a process that cannot reach Redis while the others can (a partition of one host) is
taken as gone once `PROBE_MAX` has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from catfacts.limiter.local_share import LocalShare, View, local_rates, unknown_spent
from catfacts.limiter.scripts import RedisUnavailable
from catfacts.observe import metrics
from catfacts.rates import Rates

if TYPE_CHECKING:
    from catfacts.limiter.degraded import Fallback

# The fallback's log, as before this module was split from it: operators grep for its name.
log = logging.getLogger("catfacts.limiter.degraded")

PROBE_FIRST, PROBE_MAX = 0.5, 10.0  # seconds between probes of a Redis that is away
STALE = 5.0  # seconds a sharer not heard of stays in the registry

SHARED, DEGRADED, RETURNING = "shared", "degraded", "returning"


def heartbeat_interval(rates: Rates) -> float:
    """How often a process renews its word and its view: a twentieth of the longest window,
    between 50 ms and 0.5 s (the view's age bounds what an outage can leave unknown)."""
    return min(max(rates.longest_window / 20, 0.05), 0.5)


def backoff(previous: float | None) -> float:
    """The next probe's delay: `PROBE_FIRST`, then doubling, never above `PROBE_MAX`."""
    return PROBE_FIRST if previous is None else min(previous * 2, PROBE_MAX)


class Outage:
    """The heartbeat, the fall back, the probes and the return of one `Fallback` (module doc)."""

    def __init__(self, fallback: Fallback) -> None:
        self._fallback = fallback
        self._watcher: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._returned_at = 0.0
        self._waiting_for: set[str] = set()  # sharers not back yet, while returning
        self._return_ms = 0

    def watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watching())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def degrade(self, error: RedisUnavailable) -> bool:
        """Redis failed, and may come back: run on the local share. False if this process
        never learned how many share the limit (then the call gets the 503)."""
        f = self._fallback
        if f.phase == DEGRADED:
            return True
        if f._view is None and f._local is None:
            return False
        if f._local is None:
            assert f._view is not None
            f._local = LocalShare(f._view, f._redis.me, f._own.flying, f._own.answered)
        f.phase, f.cause = DEGRADED, error.cause
        now = time.monotonic()
        f._own.forget(f.rates.longest_window)
        own = len(f._own.flying) + len(f._own.answered)
        view = f._local.view = unknown_spent(f._local.view, f.rates, own, now)
        rates = local_rates(f.rates, view, f._redis.me, now)
        log.warning(
            "the shared limiter is degraded: %s; running at %s (1/%d of the limit, %d other "
            "slots still counting) until it answers",
            error.cause,
            rates,
            len(view.sharers),
            len(view.others),
        )
        metrics.limiter_degraded(True)
        self._woken.set()
        return True

    async def _watching(self) -> None:
        f = self._fallback
        delay: float | None = None
        while True:
            self._woken.clear()
            try:
                await self._beat()
            except RedisUnavailable as error:
                if f.phase != DEGRADED and not error.lasting:
                    self.degrade(error)
                elif f.phase == DEGRADED:
                    log.info(
                        "Redis still away (%s): next probe in %g s", error.cause, backoff(delay)
                    )
            except Exception:
                log.exception("the shared limiter's heartbeat failed; it goes on")
            if f.phase == DEGRADED:
                delay = backoff(delay)
                await asyncio.sleep(delay)
            else:
                delay = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), heartbeat_interval(f.rates))

    async def _beat(self) -> None:
        f = self._fallback
        if f.phase == DEGRADED:
            await self._rejoin()
        heard = await f._redis.heartbeat(STALE)
        f._view = View.heard(heard, f._redis.me, time.monotonic())
        if f.phase == RETURNING:
            back = {who for who, at in heard.sharers.items() if at >= self._return_ms}
            self._waiting_for -= back
            if not self._waiting_for or time.monotonic() > self._returned_at + PROBE_MAX + 2:
                f.phase, f._local = SHARED, None
                metrics.limiter_degraded(False)
                log.warning("the shared limiter is back: every worker spends one budget again")

    async def _rejoin(self) -> None:
        """Redis answers again: make it count this process's slots, then take slots from both
        until every sharer is back."""
        f = self._fallback
        now = time.monotonic()
        f._own.forget(f.rates.longest_window)
        answered, flying = f._own.for_rejoin(now, f._redis.lease)
        self._return_ms = await f._redis.rejoin(STALE, answered, flying)
        self._returned_at = now
        assert f._local is not None
        self._waiting_for = set(f._local.view.sharers) - {f._redis.me}
        f.phase = RETURNING
        log.warning(
            "Redis answers again: back to the shared budget when the %d other sharers are "
            "(at most %g s); until then within this worker's share too",
            len(self._waiting_for),
            PROBE_MAX + 2,
        )
