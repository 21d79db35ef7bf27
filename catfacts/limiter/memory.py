"""The in-process limiter: slots in this process's memory, for a single worker."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence

from catfacts.limiter import PAUSED, Limiter, Slot, Wait, wait_for_slot
from catfacts.settings import Rate


class MemoryLimiter(Limiter):
    """L slots in memory; a released slot is free again W seconds after its answer came back.

    Usage::

        slot = await limiter.acquire()
        try: answer = await send()
        finally: await limiter.release(slot)

    The clock is injectable so tests can check the invariant exactly, without sleeping.
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rate)
        self._clock = clock
        self._in_flight: set[str] = set()
        self._free_at: list[float] = []  # a heap: when each released slot may be used again
        self._paused_until = float("-inf")
        self._ids = itertools.count(1)

    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        return self.try_acquire_now()  # one process: its own turns choose the client

    def try_acquire_now(self) -> Slot | Wait:
        """The whole decision, synchronous, so unit tests can drive it with a fake clock."""
        now = self._clock()
        if now < self._paused_until:
            return Wait(self._paused_until - now, PAUSED)
        if len(self._in_flight) + len(self._free_at) < self.limit:
            return self._take()
        if self._free_at and self._free_at[0] <= now:
            heapq.heappop(self._free_at)
            return self._take()
        return wait_for_slot(now, self.window, self._free_at[0] if self._free_at else None)

    async def release(self, slot: Slot) -> None:
        self._give_back(slot, self._clock() + self.window)

    async def cancel(self, slot: Slot) -> None:
        self._give_back(slot, self._clock())

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def set_rate(self, limit: int, window: float) -> None:
        # A released slot frees one window after its answer, whichever window is in force.
        shift = window - self.window
        self._free_at = [free_at + shift for free_at in self._free_at]
        self.limit, self.window = limit, window
        # Drop the slots that free soonest: the ones kept free later than any dropped one, so
        # a window straddling the change still sees at most one arrival per kept slot.
        while self._free_at and len(self._in_flight) + len(self._free_at) > self.limit:
            heapq.heappop(self._free_at)

    async def withdraw(self) -> None:
        """Nothing to say: no other process waits on this one's turns."""

    async def close(self) -> None:
        """Nothing to release: the slots are plain memory."""

    def _take(self) -> Slot:
        slot = Slot(str(next(self._ids)))
        self._in_flight.add(slot.id)
        return slot

    def _give_back(self, slot: Slot, free_at: float) -> None:
        self._in_flight.discard(slot.id)
        if len(self._in_flight) + len(self._free_at) < self.limit:
            heapq.heappush(self._free_at, free_at)
