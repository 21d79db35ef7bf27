"""Degraded, not dead: the shared limiter falls back to a safe local share while Redis is away.

While Redis answers, each process renews its entry in a registry of sharers (a heartbeat every
`heartbeat` seconds, which also reads the slots that count now), and keeps its own slots in
memory. When Redis fails in a way that waiting may mend (down, unreachable, timed out; never a
refused password or a cluster node named as a server: those stay prompt 503s), the process runs
on a local share of each policy, from what it last saw:

    share = (L - O) // N   (+1 for the first (L - O) % N sharers by id, when O = 0)

with N the sharers last seen and O the other processes' slots that still count (answered within
the window, or in flight: counted until their lease ends and a window more). Its own slots,
those Redis granted before the outage included, count against its share. Every process keeps
N·(own) + O ≤ L, so together they stay within L in any W, in flight and new calls alike.

It probes Redis with exponential backoff (`PROBE_FIRST` doubling to `PROBE_MAX`). When Redis
answers, the process writes its slots that still count into Redis (`rejoin`), then takes a slot
only when both Redis and its local share have room, until every sharer it knew is back (or
`PROBE_MAX` and a little more have passed: a sharer that has not come back by then is gone).
Only then does it spend the shared budget alone: no slot is ever unknown to both.

Slots another process took after the last heartbeat before Redis went are unknown to this one:
at most what was free then, or freed since. So when it falls back, whatever is free in its view is
counted as taken by others at that instant (`unknown_spent`): each policy gives no new slot for
one window after the failure, then the shares (alone in the registry, it has the whole limit
at once). Safe rather than fast: with a 1 s window it costs a
second; with 100 a minute, a minute before degraded calls send again (they are served, not
refused). The residue: a process that cannot reach Redis while the others can (a partition of
one host) is taken as gone once `PROBE_MAX` has passed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from catfacts.limiter import PACED, PAUSED, WINDOW, Limiter, Slot, Wait, wait_for_room
from catfacts.limiter.redis import Heard, RedisLimiter, RedisUnavailable
from catfacts.observe import metrics
from catfacts.rates import Rate, Rates

log = logging.getLogger(__name__)

PROBE_FIRST, PROBE_MAX = 0.5, 10.0  # seconds between probes of a Redis that is away
STALE = 5.0  # seconds a sharer not heard of stays in the registry
LOCAL_WAIT_MAX = 1.0  # a degraded wait is at most this, so the return to Redis is prompt

SHARED, DEGRADED, RETURNING = "shared", "degraded", "returning"


def heartbeat_interval(rates: Rates) -> float:
    """How often a process renews its word and its view: a twentieth of the longest window,
    between 50 ms and 0.5 s (the view's age bounds what an outage can leave unknown)."""
    return min(max(rates.longest_window / 20, 0.05), 0.5)


def backoff(previous: float | None) -> float:
    """The next probe's delay: `PROBE_FIRST`, then doubling, never above `PROBE_MAX`."""
    return PROBE_FIRST if previous is None else min(previous * 2, PROBE_MAX)


@dataclass(frozen=True)
class View:
    """What the last heartbeat saw: the sharers (ids, sorted) and when each of the other
    processes' slots stops counting, less its window (a time on this process's clock)."""

    sharers: tuple[str, ...]
    others: tuple[float, ...]  # sorted: answer times, or lease ends for slots in flight

    @classmethod
    def heard(cls, heard: Heard, me: str, at: float) -> View:
        """`heard` at monotonic `at`: Redis's milliseconds made this process's seconds."""
        mine = f"{me}:"
        ends = [
            at + (score - heard.now) / 1000
            for slot, score in heard.answered + heard.leases
            if not slot.startswith(mine)
        ]
        return cls(tuple(sorted(set(heard.sharers) | {me})), tuple(sorted(ends)))

    def rank(self, me: str) -> int:
        return self.sharers.index(me) if me in self.sharers else len(self.sharers)


def share(rate: Rate, view: View, me: str, now: float) -> tuple[int, float | None]:
    """This process's share of `rate` now, and when it may grow (another's slot stops counting).

    N·share + O ≤ L, so N processes holding their shares stay within L together; the remainder
    goes to the first sharers by id only when no other slot counts, when every view agrees.
    """
    first = bisect.bisect_right(view.others, now - rate.window)
    counted = len(view.others) - first
    n = max(len(view.sharers), 1)
    room = max(rate.limit - counted, 0)
    mine = room // n
    if counted == 0 and view.rank(me) < room % n:
        mine += 1
    grows = view.others[first] + rate.window if counted else None
    return mine, grows


def unknown_spent(view: View, rates: Rates, own: int, now: float) -> View:
    """`view` with what was free in it at `now` (the failure) counted as others' slots taken
    then: another process may have spent it after the last heartbeat, and nobody can know.
    Alone in the registry, nobody else did."""
    if len(view.sharers) <= 1:
        return view
    free = 0
    for rate in rates.policies:
        counted = len(view.others) - bisect.bisect_right(view.others, now - rate.window)
        free = max(free, rate.limit - counted - own)
    return View(view.sharers, tuple(sorted(view.others + (now,) * max(free, 0))))


def local_rates(rates: Rates, view: View, me: str, now: float) -> Rates:
    """The rates this process may use alone now (a pace, too, is divided by the sharers)."""
    policies = tuple(
        Rate(share(rate, view, me, now)[0], rate.window, guess=rate.guess)
        for rate in rates.policies
    )
    pace = None if rates.pace is None else rates.pace / max(len(view.sharers), 1)
    return Rates(policies, pace)


class LocalShare:
    """The local decision while Redis is away: this process's own slots (shared with the
    fallback, which records them) against its share of each policy."""

    def __init__(
        self,
        view: View,
        me: str,
        flying: dict[str, float],
        answered: list[float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = view
        self._me = me
        self._flying = flying  # slot id -> when it was taken
        self._answered = answered  # when each own slot's answer came, in order
        self._clock = clock
        self._paused_until = float("-inf")
        self._next_send = float("-inf")

    def room(self, rates: Rates) -> Wait | None:
        """None if one more slot fits every share now, else how long until one may."""
        now = self._clock()
        if now < self._paused_until:
            return Wait(min(self._paused_until - now, LOCAL_WAIT_MAX), PAUSED)
        wait = 0.0
        for rate in rates.policies:
            mine, grows = share(rate, self.view, self._me, now)
            alone = wait_for_room(
                now, Rates((Rate(mine, rate.window),)), len(self._flying), self._answered
            )
            if alone > 0 and grows is not None:
                alone = min(alone, grows - now)
            wait = max(wait, alone)
        if wait > 0:
            return Wait(min(max(wait, 0.001), LOCAL_WAIT_MAX), WINDOW)
        pace = local_rates(rates, self.view, self._me, now).pace
        if pace is not None and now < self._next_send:
            return Wait(self._next_send - now, PACED)
        return None

    def took(self, rates: Rates) -> None:
        pace = local_rates(rates, self.view, self._me, self._clock()).pace
        if pace is not None:
            self._next_send = max(self._next_send, self._clock()) + 1 / pace

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)


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
        self._flying: dict[str, float] = {}
        self._answered: list[float] = []
        self._ids = (f"{redis.me}:local{n}" for n in itertools.count(1))
        self._watcher: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._returned_at = 0.0
        self._waiting_for: set[str] = set()  # sharers not back yet, while returning
        self._return_ms = 0
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
        self._watch()
        if self.phase == DEGRADED:
            return self._local_slot()
        if self.phase == RETURNING and self._local is not None:
            wait = self._local.room(self.rates)
            if wait is not None:
                return wait
        try:
            answer = await self._redis.try_acquire(clients)
        except RedisUnavailable as error:
            if error.lasting or not self._degrade(error):
                raise
            return self._local_slot()
        if isinstance(answer, Slot):
            self._flying[answer.id] = time.monotonic()
            if self._local is not None:
                self._local.took(self.rates)
        return answer

    async def release(self, slot: Slot) -> None:
        if self._flying.pop(slot.id, None) is not None:
            bisect.insort(self._answered, time.monotonic())
            self._forget()
        await self._tell_redis(self._redis.release, slot)

    async def cancel(self, slot: Slot) -> None:
        self._flying.pop(slot.id, None)
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
            if error.lasting or not self._degrade(error):
                raise
            self._redis.learned_offline(rates)
        return self.rates

    async def withdraw(self) -> None:
        if self.phase != DEGRADED:
            await self._redis.withdraw()

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        metrics.limiter_degraded(False)
        await self._redis.close()

    async def probe(self) -> None:
        """Start the heartbeat now (readiness asks this), so the registry lists this process."""
        self._watch()

    # --- The local share ---------------------------------------------------------------------

    def _local_slot(self) -> Slot | Wait:
        assert self._local is not None
        wait = self._local.room(self.rates)
        if wait is not None:
            return wait
        self._local.took(self.rates)
        slot = Slot(next(self._ids))
        self._flying[slot.id] = time.monotonic()
        return slot

    def _forget(self) -> None:
        stale = bisect.bisect_right(self._answered, time.monotonic() - self.rates.longest_window)
        del self._answered[:stale]

    def _degrade(self, error: RedisUnavailable) -> bool:
        """Redis failed, and may come back: run on the local share. False if this process
        never learned how many share the limit (then the call gets the 503)."""
        if self.phase == DEGRADED:
            return True
        if self._view is None and self._local is None:
            return False
        if self._local is None:
            assert self._view is not None
            self._local = LocalShare(self._view, self._redis.me, self._flying, self._answered)
        self.phase, self.cause = DEGRADED, error.cause
        now = time.monotonic()
        self._forget()
        own = len(self._flying) + len(self._answered)
        view = self._local.view = unknown_spent(self._local.view, self.rates, own, now)
        rates = local_rates(self.rates, view, self._redis.me, now)
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

    async def _tell_redis(self, tell: Callable[[Any], Awaitable[None]], arg: Any) -> None:
        """Release, cancel, pause: Redis must hear of it unless it is away (its leases end)."""
        if self.phase == DEGRADED:
            return
        try:
            await tell(arg)
        except RedisUnavailable as error:
            if error.lasting or not self._degrade(error):
                log.warning("could not tell the shared limiter: %s", error.message)

    def _heard_shared(self, rates: Rates) -> None:
        self.rates = rates
        if self.on_shared is not None:
            self.on_shared(rates)

    # --- The heartbeat, the probes, the return -----------------------------------------------

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watching())

    async def _watching(self) -> None:
        delay: float | None = None
        while True:
            self._woken.clear()
            try:
                await self._beat()
            except RedisUnavailable as error:
                if self.phase != DEGRADED and not error.lasting:
                    self._degrade(error)
                elif self.phase == DEGRADED:
                    log.info(
                        "Redis still away (%s): next probe in %g s", error.cause, backoff(delay)
                    )
            except Exception:
                log.exception("the shared limiter's heartbeat failed; it goes on")
            if self.phase == DEGRADED:
                delay = backoff(delay)
                await asyncio.sleep(delay)
            else:
                delay = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), heartbeat_interval(self.rates))

    async def _beat(self) -> None:
        if self.phase == DEGRADED:
            await self._rejoin()
        heard = await self._redis.heartbeat(STALE)
        self._view = View.heard(heard, self._redis.me, time.monotonic())
        if self.phase == RETURNING:
            back = {who for who, at in heard.sharers.items() if at >= self._return_ms}
            self._waiting_for -= back
            if not self._waiting_for or time.monotonic() > self._returned_at + PROBE_MAX + 2:
                self.phase, self._local = SHARED, None
                metrics.limiter_degraded(False)
                log.warning("the shared limiter is back: every worker spends one budget again")

    async def _rejoin(self) -> None:
        """Redis answers again: make it count this process's slots, then take slots from both
        until every sharer is back."""
        now = time.monotonic()
        self._forget()
        answered = [now - at for at in self._answered]
        lease = self._redis.lease
        flying = [(slot, taken + lease - now) for slot, taken in self._flying.items()]
        self._return_ms = await self._redis.rejoin(STALE, answered, flying)
        self._returned_at = now
        assert self._local is not None
        self._waiting_for = set(self._local.view.sharers) - {self._redis.me}
        self.phase = RETURNING
        log.warning(
            "Redis answers again: back to the shared budget when the %d other sharers are "
            "(at most %g s); until then within this worker's share too",
            len(self._waiting_for),
            PROBE_MAX + 2,
        )
