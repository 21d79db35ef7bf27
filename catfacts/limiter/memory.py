"""The in-process limiter: slots in this process's memory, for a single worker."""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Sequence

from catfacts.limiter import (
    PACED,
    PAUSED,
    WINDOW,
    Limiter,
    Queued,
    Slot,
    Survey,
    Wait,
    freeing,
    room_for,
    wait_for_room,
)
from catfacts.rates import Rates


class MemoryLimiter(Limiter):
    """Slots in memory: each counts from its send until a window after its answer came back.

    Usage::

        slot = await limiter.acquire()
        try: answer = await send()
        finally: await limiter.release(slot)

    The clock is injectable so tests can check the invariant exactly, without sleeping.
    """

    def __init__(self, rates: Rates, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rates)
        self._clock = clock
        self._in_flight: set[str] = set()
        self._answered: list[float] = []  # when each counted slot's answer came, in order
        self._paused_until = float("-inf")
        self._next_send = float("-inf")  # the pace's
        self._ids = itertools.count(1)
        self._charges: dict[str, tuple[float, int]] = {}  # charged, until when, how many
        self._charged_for = 0.0  # the longest window a charge was let in under: kept that long

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        return self.try_acquire_now()  # one process: its own turns choose the client

    def try_acquire_now(self) -> Slot | Wait:
        """The whole decision, synchronous, so unit tests can drive it with a fake clock."""
        now = self._clock()
        if now < self._paused_until:
            return Wait(self._paused_until - now, PAUSED)
        self._forget_before(now - self._kept())
        wait = wait_for_room(now, self.rates, len(self._in_flight), self._answered)
        if wait > 0:
            return Wait(wait, WINDOW)
        if self.rates.pace is not None:
            if now < self._next_send:
                return Wait(self._next_send - now, PACED)
            self._next_send = max(self._next_send, now) + 1 / self.rates.pace
        slot = Slot(str(next(self._ids)))
        self._in_flight.add(slot.id)
        return slot

    async def release(self, slot: Slot) -> None:
        if slot.id in self._in_flight:
            self._in_flight.discard(slot.id)
            bisect.insort(self._answered, self._clock())

    async def cancel(self, slot: Slot) -> None:
        self._in_flight.discard(slot.id)

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def set_rates(self, rates: Rates) -> Rates:
        self.rates = rates  # nothing moves: slots are times of answers, whatever the rates
        return rates

    async def charge(self, id: str, n: int, allowance: Rates, within: float) -> Wait | None:
        now = self._clock()
        self._charged_for = max(self._charged_for, allowance.longest_window)
        self._forget_before(now - self._kept())
        wait = wait_for_room(now, room_for(n, allowance), len(self._in_flight), self._answered)
        if wait > 0:
            return Wait(wait, WINDOW)
        self._charges = {key: at for key, at in self._charges.items() if at[0] > now}
        self._charges[id] = (now + within, n)
        self._insert(now + within, n)
        return None

    async def settle(self, id: str, n: int) -> None:
        until, n = self._charges.pop(id, (0.0, 0))
        now = self._clock()
        if until > now:  # else they count from `until` already, which is past
            at = bisect.bisect_left(self._answered, until)
            del self._answered[at : at + n]
            self._insert(now, n)

    def _insert(self, at: float, n: int) -> None:
        where = bisect.bisect_right(self._answered, at)
        self._answered[where:where] = [at] * n

    async def withdraw(self) -> None:
        """Nothing to say: no other process waits on this one's turns."""

    async def survey(self, queued: Queued) -> Survey:
        """One process: no other queue to hear of."""
        now = self._clock()
        self._forget_before(now - self._kept())
        flying, frees = len(self._in_flight), freeing(now, self.rates.tightest, self._answered)
        paused = max(self._paused_until - now, 0.0)
        return Survey(flying + len(frees), flying, frees, paused)

    async def close(self) -> None:
        """Nothing to release: the slots are plain memory."""

    def _kept(self) -> float:
        """How long an answer must be kept: the longest window in force, or a charge's (with
        only a pace, or nothing known, the limits leave no window to keep them for)."""
        return max(self.rates.longest_window, self._charged_for)

    def _forget_before(self, oldest: float) -> None:
        """Answers older than the longest window count against no policy any more."""
        stale = bisect.bisect_right(self._answered, oldest)
        if stale:
            del self._answered[:stale]
