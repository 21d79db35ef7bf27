"""Degraded, not dead: the shared limiter falls back to a safe local share while Redis is away.

While Redis answers, each process renews its entry in a registry of sharers (a heartbeat every
`heartbeat` seconds, which also reads the slots that count now), and keeps its own slots in
memory. When Redis fails in a way that waiting may mend (down, unreachable, timed out; never a
refused password or a cluster node named as a server: those stay prompt 503s), the process runs
on a local share of each policy, from what it last saw, until Redis answers again and every
sharer is back.

Four modules: this one, `Fallback`, decides each call (a slot or a wait) against Redis or the
local share; `local_share.py` holds the share's arithmetic and the local decision, and why it
stays within the limit; `own_slots.py` the record of this process's own slots, which the share
spends and the rejoin writes back; `outage.py` the loop that runs the heartbeat, falls back,
probes, rejoins and returns. The names the rest of the package and the tests use are re-exported
here.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import Limiter, Queued, Slot, Survey, Wait
from catfacts.limiter.local_share import (
    LOCAL_WAIT_MAX,
    LocalShare,
    View,
    local_rates,
    share,
    unknown_spent,
)
from catfacts.limiter.outage import (
    DEGRADED,
    PROBE_FIRST,
    PROBE_MAX,
    RETURNING,
    SHARED,
    STALE,
    Outage,
    backoff,
    heartbeat_interval,
)
from catfacts.limiter.own_slots import OwnSlots
from catfacts.limiter.redis import RedisLimiter
from catfacts.limiter.scripts import RedisUnavailable
from catfacts.observe import metrics
from catfacts.rates import Rates

__all__ = [
    "DEGRADED",
    "LOCAL_WAIT_MAX",
    "PROBE_FIRST",
    "PROBE_MAX",
    "RETURNING",
    "SHARED",
    "STALE",
    "Fallback",
    "LocalShare",
    "View",
    "backoff",
    "heartbeat_interval",
    "local_rates",
    "share",
    "unknown_spent",
]

log = logging.getLogger(__name__)


class Fallback(Limiter):
    """A `RedisLimiter` that runs on a safe local share while Redis is away (module doc)."""

    shared = True

    def __init__(self, redis: RedisLimiter) -> None:
        super().__init__(redis.rates)
        self._redis = redis
        redis.on_shared = self._heard_shared
        self.phase = SHARED
        self.cause = ""  # why it is degraded, naming the real cause
        self._view: View | None = None  # as of the last heartbeat
        self._local: LocalShare | None = None
        self._own = OwnSlots(redis.me)  # what this process took, in case Redis goes
        self._outage = Outage(self)  # the heartbeat, the probes, the return (`outage.py`)
        metrics.limiter_degraded(False)  # listed from the start

    @property
    def degraded(self) -> str | None:
        """None while the shared budget is in use; else what this process runs on, and why."""
        if self.phase == SHARED:
            return None
        view = self._local.view if self._local else None
        n = len(view.sharers) if view else 1
        rates = local_rates(self.rates, view, self._redis.me, time.monotonic()) if view else None
        state = "coming back: waiting for every sharer" if self.phase == RETURNING else "degraded"
        return f"{state} ({self.cause}); running at {rates} (1/{n} of the limit)"

    @property
    def can_degrade(self) -> bool:
        """Whether this process knows its local share, should Redis go away."""
        return self._view is not None or self._local is not None

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        self._outage.watch()
        if self.phase == DEGRADED:
            return self._local_slot()
        if self.phase == RETURNING and self._local is not None:
            wait = self._local.room(self.rates)
            if wait is not None:
                return wait
        try:
            answer = await self._redis.try_acquire(clients)
        except RedisUnavailable as error:
            if error.lasting or not self._outage.degrade(error):
                raise
            return self._local_slot()
        if isinstance(answer, Slot):
            self._own.took(answer)
            if self._local is not None:
                self._local.took(self.rates)
        return answer

    async def release(self, slot: Slot) -> None:
        self._own.released(slot, self.rates.longest_window)
        await self._tell_redis(self._redis.release, slot)

    async def confirm(self, slot: Slot) -> Slot | None:
        """Redis says whether a slot taken long ago is still ours; while degraded, the local
        share counts it in flight until it is released, however long that takes."""
        if self.phase == DEGRADED:
            return slot
        try:
            confirmed = await self._redis.confirm(slot)
        except RedisUnavailable as error:
            if error.lasting or not self._outage.degrade(error):
                raise
            return slot
        self._own.confirmed(slot, confirmed)
        return confirmed

    async def cancel(self, slot: Slot) -> None:
        self._own.dropped(slot)
        await self._tell_redis(self._redis.cancel, slot)

    async def pause(self, seconds: float) -> None:
        if self._local is not None:
            self._local.pause(seconds)
        await self._tell_redis(self._redis.pause, seconds)

    async def set_rates(self, rates: Rates) -> Rates:
        self.rates = rates
        if self.phase == DEGRADED:
            self._redis.learned_offline(rates)
            return rates
        try:
            self.rates = await self._redis.set_rates(rates)
        except RedisUnavailable as error:
            if error.lasting or not self._outage.degrade(error):
                raise
            self._redis.learned_offline(rates)
        return self.rates

    async def charge(self, id: str, n: int, allowance: Rates, within: float) -> Wait | None:
        """Only where every process counts it: while Redis is away, nothing is charged here."""
        if self.phase != SHARED:
            raise ServiceUnavailable(
                f"all at once is not served while the shared limiter is {self.phase} "
                f"({self.cause}); the limited strategy runs on a safe share",
                retry_after=math.ceil(self.rates.longest_window or 1.0),
            )
        return await self._redis.charge(id, n, allowance, within)

    async def settle(self, id: str, n: int) -> None:
        """Counted from the latest their answers could come, if Redis cannot hear it now."""
        if self.phase == SHARED:
            with contextlib.suppress(RedisUnavailable):
                await self._redis.settle(id, n)

    async def withdraw(self) -> None:
        if self.phase != DEGRADED:
            await self._redis.withdraw()

    async def survey(self, queued: Queued) -> Survey:
        """Redis's look while it answers; away, this process's own slots, and no other queue."""
        if self.phase != DEGRADED:
            with contextlib.suppress(RedisUnavailable):
                return await self._redis.survey(queued)
        return self._own.survey(self.rates.tightest)

    async def close(self) -> None:
        await self._outage.stop()
        metrics.limiter_degraded(False)
        await self._redis.close()

    async def probe(self) -> None:
        """Start the heartbeat now (readiness asks this), so the registry lists this process."""
        self._outage.watch()

    # --- The local share ---------------------------------------------------------------------

    def _local_slot(self) -> Slot | Wait:
        assert self._local is not None
        return self._own.take(self._local, self.rates)

    async def _tell_redis(self, tell: Callable[[Any], Awaitable[None]], arg: Any) -> None:
        """Release, cancel, pause: Redis must hear of it unless it is away (its leases end)."""
        if self.phase == DEGRADED:
            return
        try:
            await tell(arg)
        except RedisUnavailable as error:
            if error.lasting or not self._outage.degrade(error):
                log.warning("could not tell the shared limiter: %s", error.message)

    def _heard_shared(self, rates: Rates) -> None:
        self.rates = rates
        if self.on_shared is not None:
            self.on_shared(rates)
