"""What of the upstream's credit is held back now, and the count it is judged by.

Not all the credit the upstream's `Remaining` allows is spent at once: while the window's length
is still searched for, a window keeps `SPARES` requests to look whether it ended (one we did not
see begin is not burst into at all); and what other clients of our IP spent lately is left to
them (`_share`), asked again once our count is older than `STALE` (`_stale`). This is the count
`UpstreamQuota` keeps, and the part of it that says what not to spend; the quota decides the rest.
"""

from __future__ import annotations

import math
from collections import deque

from catfacts.rates import Rate, Rates
from catfacts.settings import CAUTIOUS_RATE
from catfacts.strategies.limited.pace import as_rate
from catfacts.strategies.limited.window_finders import Windows
from catfacts.strategies.outside import OutsideSends

SPARES = 2  # requests a window keeps while its length is searched for, to look at its end
SHARED_SPARES = 5  # with siblings, whose first requests (a probe each) may take spares too
STALE = 0.1  # seconds after which a count others may have spent into is asked again


def binding(rates: Rates) -> Rate:
    """The tightest policy, for display, estimates and the windows a stall is counted in; a
    pace (r a second) only when there is no policy."""
    if rates.tightest is not None:
        return rates.tightest
    return CAUTIOUS_RATE if rates.pace is None else as_rate(rates.pace)


class HeldCredit:
    """The quota's count of one window, and the credit it holds back: for the search of the
    window's length, or for other clients of our IP."""

    def __init__(
        self,
        rates: Rates,
        windows: Windows | None = None,
        *,
        shared: bool = False,
        outside: OutsideSends | None = None,
    ) -> None:
        self._rates = rates
        self._outside = outside  # this process's requests past the limiter: ours, not others'
        self.windows = windows
        # With a shared limiter, hits that were not this process's are mostly its siblings',
        # whose share the limiter already keeps: none is left aside for them here.
        self._shared = shared
        self._epoch = 0
        self._credit = 1  # unsure at first: one probe
        self._in_flight = 0
        self._reset_at: float | None = None  # an answer said none remain: its window's end
        self._hold_until: float | None = None  # unsure: nothing before this
        self._counted = 0  # answers this epoch: with the lowest count, were all hits ours?
        self._lowest: int | None = None
        self._upstream_limit: int | None = None
        self._heard_at: float | None = None
        self._sent = 0
        self._others: deque[int] = deque(maxlen=2)  # what others spent in the last windows
        self.release_at = -math.inf
        self._partial = False  # not a whole window's count: begun at a look, or limits named

    @property
    def rates(self) -> Rates:
        return self._rates

    def set_rates(self, rates: Rates) -> None:
        """The rates to run at changed (`learning`): count windows and credit by them."""
        self._rates = rates

    @property
    def limit(self) -> int:
        """The tightest limit in force (a pace reads as r per second), for display and estimates."""
        return binding(self._rates).limit

    @property
    def window(self) -> float:
        """The window of that tightest limit."""
        return binding(self._rates).window

    @property
    def in_flight(self) -> int:
        """Requests sent that the upstream's last count may not include yet."""
        return self._in_flight

    @property
    def probing(self) -> bool:
        """Unsure of the upstream's count: one request goes first, the rest after its answer."""
        return self._lowest is None and self._credit <= 1

    @property
    def waited_window(self) -> float:
        """The window the quota waits out after the upstream says none remain: as found, which
        may be longer than the limit's (the finder's lower bound is a best effort)."""
        return max(self._found_window(), self.window)

    def held(self, now: float = -math.inf) -> int:
        """Requests of the credit not to spend now: kept to search for the window, or left to
        other clients (`_share`)."""
        if self._lowest is None:
            return 0
        if self._looking():
            return self._kept_to_search()
        if self._shared:
            return 0
        return max(self._share(now), self._stale(now))

    def _searching(self) -> bool:
        return self.windows is not None and self.windows.searching

    def _looking(self) -> bool:
        return self.windows is not None and self.windows.looking

    def _kept_to_search(self) -> int:
        """While W is unknown, a window must never fill before we see it end: a request sent
        into a full window is refused and still arrives. So a window we saw begin keeps
        `SPARES` requests, one for each look whether it ended (`WindowFinder.ends_by`), and
        one whose beginning we did not see keeps all: a burst there could follow the last
        window's by less than W, whatever we guess W to be."""
        assert self.windows is not None and self._lowest is not None
        left = self._lowest - self._in_flight
        if self.windows.searching and not self.windows.start_known:
            return left
        return min(SHARED_SPARES if self._shared else SPARES, left)

    def _stale(self, now: float) -> int:
        """All but one of the credit, when other clients spend in this window too and our count
        is older than `STALE`: they may have spent it since, so one request asks first."""
        heard_at, lowest = self._heard_at, self._lowest
        if heard_at is None or lowest is None or now - heard_at <= STALE:
            return 0
        if self._not_ours() - self._in_flight <= 0 and not any(self._others):  # surely not ours
            return 0  # nobody else seen spending
        return max(self._credit - (0 if self._in_flight else 1), 0)  # the one ask at a time

    def _share(self, now: float) -> int:
        """The most other clients spent in either of the last two windows, less what they spent
        in this one so far (never seen before, all: they may be in the middle of it), until
        half-time, when one request asks whether they came meanwhile. A client that shares our
        IP and spends at every window's start then seldom races our burst into 429s."""
        if self._lowest is None:
            return 0
        seen = self._not_ours()
        if self._others:
            share = max(max(self._others) - (seen - self._in_flight), 0)
        else:
            share = self._credit if seen > 0 else 0
        if now < self.release_at or not share:
            return share
        asked = self._heard_at is not None and self._heard_at >= self.release_at
        return 0 if asked else max(self._credit - (0 if self._in_flight else 1), 0)

    def _not_ours(self) -> int:
        """Hits of the upstream's count this process did not hear answered: others', or ours
        still out (sent past the limiter ones are ours: `_ours_outside`)."""
        assert self._lowest is not None
        return self._limit() - self._lowest - self._counted - self._ours_outside()

    def _ours_outside(self) -> int:
        """Hits of the upstream's count that this process sent past the limiter (one by one,
        all at once) within a window of the last answer."""
        if self._outside is None or self._heard_at is None:
            return 0
        return self._outside.since(self._heard_at - self._found_window())

    def _found_window(self) -> float:
        found = None if self.windows is None else self.windows.window
        return found or self._upstream_window()

    def _upstream_window(self) -> float:
        """The window of the policy whose limit the upstream names (of several in force, the
        one its count is about), else the tightest one's."""
        named = [rate.window for rate in self._rates.policies if rate.limit == self._limit()]
        return min(named, default=self.window)

    def _limit(self) -> int:
        return self._upstream_limit or self.limit
