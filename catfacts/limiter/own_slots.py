"""This process's own slots, kept by the fallback (`degraded.py`) beside Redis's count while it
answers: while it is away, they are what the local share spends (`local_share.py`); when it
answers again, what the rejoin writes back (`outage.py`).

Apart from `Fallback`, so that it reads as the decision of each call and this as the record of
what each call took and gave back.
"""

from __future__ import annotations

import bisect
import itertools
import time

from catfacts.limiter import Slot, Survey, Wait, freeing
from catfacts.limiter.local_share import LocalShare
from catfacts.rates import Rate, Rates


class OwnSlots:
    """The slots of process `me` in flight (id -> when taken) and answered (when, in order), as
    long as any may count; the local share reads the same dict and list."""

    def __init__(self, me: str) -> None:
        self.flying: dict[str, float] = {}
        self.answered: list[float] = []
        self._ids = (f"{me}:local{n}" for n in itertools.count(1))

    def took(self, slot: Slot) -> None:
        """A slot Redis granted: it counts in flight from now."""
        self.flying[slot.id] = time.monotonic()

    def take(self, share: LocalShare, rates: Rates) -> Slot | Wait:
        """A slot of the local `share`, or how long until one may be."""
        wait = share.room(rates)
        if wait is not None:
            return wait
        share.took(rates)
        slot = Slot(next(self._ids), taken=time.monotonic())
        self.flying[slot.id] = slot.taken
        return slot

    def released(self, slot: Slot, longest_window: float) -> None:
        """Answered now: it counts from now until it is older than every window."""
        if self.flying.pop(slot.id, None) is not None:
            bisect.insort(self.answered, time.monotonic())
            self.forget(longest_window)

    def dropped(self, slot: Slot) -> None:
        """Cancelled: it never reached the upstream."""
        self.flying.pop(slot.id, None)

    def confirmed(self, slot: Slot, confirmed: Slot | None) -> None:
        """What Redis said of a slot sent on late: lost (dropped), or its lease renewed."""
        if confirmed is None:
            self.flying.pop(slot.id, None)
        elif confirmed is not slot and slot.id in self.flying:
            self.flying[slot.id] = confirmed.taken  # its lease renewed from then

    def forget(self, longest_window: float) -> None:
        stale = bisect.bisect_right(self.answered, time.monotonic() - longest_window)
        del self.answered[:stale]

    def survey(self, tightest: Rate | None) -> Survey:
        """The budget as this process alone sees it: its own slots, and no other queue."""
        frees = freeing(time.monotonic(), tightest, self.answered)
        return Survey(len(self.flying) + len(frees), len(self.flying), frees)

    def for_rejoin(self, now: float, lease: float) -> tuple[list[float], list[tuple[str, float]]]:
        """Seconds since each answer, and each slot in flight with the seconds its lease has
        left (`lease` after it was taken), at `now`: for Redis to count them again."""
        flying = [(slot, taken + lease - now) for slot, taken in self.flying.items()]
        return [now - at for at in self.answered], flying
