"""When each request arrived at the emulator and how it was answered, and the peaks: the most
arrivals in any window of each rate.

Memory stays flat however long the emulator runs (`make run` leaves it running for days):

- The arrivals are a ring of the last ARRIVALS_KEPT, allocated once: 10 bytes each (a float time
  and a 16-bit status), 1.3 MB in all. That is far more than any test or benchmark makes between
  two resets (at 2,000 requests a second, the last minute; at the real API's 100 a minute, the
  last 22 hours). Older ones are forgotten, and counted as `forgotten`.
- The peaks, the most arrivals in any window of each rate (of any status, and of 200s), are kept
  up to date as arrivals come and are answered, so they count every arrival since the last reset,
  forgotten ones included: a soak longer than the ring is still judged on all of it. They are
  exact as long as no window holds more than ARRIVALS_KEPT arrivals (an hour's window hammered at
  over 36 a second); beyond that, `exact` turns false and they are a lower bound.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# The arrivals kept; older ones are forgotten (the peaks still count them).
ARRIVALS_KEPT = 131_072
OK = 200  # the status whose own peak is kept: the answers that spent the client's budget


@dataclass(slots=True)
class _Peak:
    """The most arrivals in any half-open [t, t + window), fed one arrival at a time in order.

    `first` is the sequence number of the oldest arrival that may still share a window with the
    next one; `count` is how many of those from `first` on are counted (all, or only the 200s).
    The same sweep as `process.max_in_any_window`, done as arrivals come instead of all at once.
    """

    window: float
    ok_only: bool
    first: int = 0
    count: int = 0
    most: int = 0
    exact: bool = True

    def copy(self) -> _Peak:
        return _Peak(self.window, self.ok_only, self.first, self.count, self.most, self.exact)

    def drop(self, ticket: int, at: float, ok: bool, earliest_unfed: float) -> None:
        """Arrival `ticket` (at `at`, a 200 if `ok`) leaves the ring: if this window holds it, it
        counts no more, and the peak stays exact unless an arrival yet to be fed shares it."""
        if self.first <= ticket:  # in the window of the latest arrival fed
            if at + self.window > earliest_unfed:
                self.exact = False
            if ok or not self.ok_only:
                self.count -= 1
            self.first = ticket + 1


class ArrivalLog:
    """The ring of arrivals, and the peaks fed from it.

    Each arrival has a sequence number, its ticket; the ring holds the last `capacity` of them.
    An arrival is "settled" once answered, in arrival order: the peaks are fed settled arrivals,
    since the peak of 200s needs their statuses. One still unanswered when the ring would
    overwrite it is settled as it is (status 0), so a request that never ends cannot hold the
    peaks back; those still unsettled are added at each reading of the peaks.
    """

    def __init__(self, windows: Iterable[float] = (), capacity: int = ARRIVALS_KEPT) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._times = array("d", bytes(8 * capacity))
        self._statuses = array("H", bytes(2 * capacity))
        self._next = 0  # the ticket of the next arrival
        self._start = 0  # the ticket of the first arrival since the last `clear`
        self._settled = 0  # every arrival before this ticket fed the peaks
        self._peaks: list[_Peak] = []
        self.watch(windows)

    def arrive(self, time: float) -> int:
        """Note a request arriving at `time`; pass the ticket to `answered` when it is answered.

        Times must not go backwards: the emulator's clock is monotonic.
        """
        ticket = self._next
        overwritten = ticket - self.capacity
        if overwritten >= self._start:
            self._forget(overwritten, time)
        slot = ticket % self.capacity
        self._times[slot] = time
        self._statuses[slot] = 0
        self._next = ticket + 1
        return ticket

    def answered(self, ticket: int, status: int) -> bool:
        """Note the answer to `ticket`; False if it arrived before the last `clear`."""
        if ticket < self._start:
            return False
        if ticket >= self._next - self.capacity:  # still in the ring
            self._statuses[ticket % self.capacity] = status
            self._settle()
        return True

    def watch(self, windows: Iterable[float]) -> None:
        """Keep peaks for these windows (seconds) from now on, computed again from those kept.

        That is one pass over the arrivals kept: a third of a second for a full ring, which only
        a rate changed in the middle of a long benchmark would see.
        """
        self._peaks = [
            _Peak(window, ok_only, self._oldest) for window in windows for ok_only in (False, True)
        ]
        for ticket in range(self._oldest, self._settled):
            self._feed(self._peaks, ticket)
        if self.forgotten:
            for peak in self._peaks:
                peak.exact = False

    def clear(self) -> None:
        """Forget every arrival so far, and the answers still owed to them."""
        self._start = self._settled = self._next
        self._peaks = [_Peak(p.window, p.ok_only, self._next) for p in self._peaks]

    @property
    def forgotten(self) -> int:
        """How many arrivals since the last `clear` are no longer kept."""
        return self._oldest - self._start

    @property
    def kept(self) -> int:
        """How many arrivals since the last `clear` are kept."""
        return self._next - self._oldest

    @property
    def unsettled(self) -> int:
        """How many arrivals the peaks have not been fed yet (unanswered, or after one that is)."""
        return self._next - self._settled

    def peaks(self) -> list[dict[str, Any]]:
        """For each window watched: the most arrivals in any such window, and the most 200s.

        Counted over every arrival since the last `clear`, unanswered ones included in `all` as
        `max_in_any_window` counts them; `exact` is false once a window held more arrivals than
        the ring keeps, and the counts are then a lower bound.
        """
        current = [peak.copy() for peak in self._peaks]
        for ticket in range(self._settled, self._next):
            self._feed(current, ticket)
        return _by_window(current)

    def to_json(self) -> list[list[float]]:
        """`[time, status]` for each request kept, in the order they arrived."""
        times, statuses, capacity = self._times, self._statuses, self.capacity
        return [
            [times[ticket % capacity], statuses[ticket % capacity]]
            for ticket in range(self._oldest, self._next)
        ]

    @property
    def _oldest(self) -> int:
        """The ticket of the oldest arrival kept since the last `clear`."""
        return max(self._start, self._next - self.capacity)

    def _settle(self) -> None:
        """Feed the peaks every answered arrival that follows those already fed."""
        statuses, capacity = self._statuses, self.capacity
        ticket = self._settled
        while ticket < self._next and statuses[ticket % capacity]:
            self._feed(self._peaks, ticket)
            ticket += 1
        self._settled = ticket

    def _forget(self, ticket: int, now: float) -> None:
        """The ring is about to overwrite `ticket` with an arrival at `now`: let the peaks go.

        It is settled first if need be. A peak whose window still holds it drops it; the peak
        stays exact unless an arrival yet to be fed (the earliest unsettled one, or this new
        one) falls in a window with it, which would then count one too few.
        """
        while self._settled <= ticket:  # unanswered yet: settled as it is, and those after it
            self._feed(self._peaks, self._settled)
            self._settled += 1
            self._settle()
        times, statuses, capacity = self._times, self._statuses, self.capacity
        at = times[ticket % capacity]
        ok = statuses[ticket % capacity] == OK
        earliest_unfed = times[self._settled % capacity] if self._settled < self._next else now
        for peak in self._peaks:
            peak.drop(ticket, at, ok, earliest_unfed)

    def _feed(self, peaks: Sequence[_Peak], ticket: int) -> None:
        """Move each peak's window on to end at arrival `ticket`, and count it if it counts."""
        times, statuses, capacity = self._times, self._statuses, self.capacity
        at = times[ticket % capacity]
        counted = statuses[ticket % capacity] == OK
        for peak in peaks:
            first = peak.first
            while first < ticket and times[first % capacity] + peak.window <= at:
                if not peak.ok_only or statuses[first % capacity] == OK:
                    peak.count -= 1
                first += 1
            peak.first = first
            if counted or not peak.ok_only:
                peak.count += 1
                peak.most = max(peak.most, peak.count)


def _by_window(peaks: Iterable[_Peak]) -> list[dict[str, Any]]:
    """One entry per window: the most arrivals ("all") and 200s ("ok"), and whether exact."""
    by_window: dict[float, dict[str, Any]] = {}
    for peak in peaks:
        entry = by_window.setdefault(peak.window, {"window": peak.window, "exact": True})
        entry["ok" if peak.ok_only else "all"] = peak.most
        entry["exact"] = entry["exact"] and peak.exact
    return list(by_window.values())
