"""The local share: what one process may spend alone while Redis is away (`degraded.py`).

Apart from the fallback that uses it because it is arithmetic over what the last heartbeat saw
(and this process's own slots), readable and testable without Redis or the fallback's loop.
From that view, each process takes a share of each policy:

    share = (L - O) // N   (+1 for the first (L - O) % N sharers by id, when O = 0)

with N the sharers last seen and O the other processes' slots that still count (answered within
the window, or in flight: counted until their lease ends and a window more). Its own slots,
those Redis granted before the outage included, count against its share. Every process keeps
N·(own) + O ≤ L, so together they stay within L in any W, in flight and new calls alike.

Slots another process took after the last heartbeat before Redis went are unknown to this one:
at most what was free then, or freed since. So when it falls back, whatever is free in its view is
counted as taken by others at that instant (`unknown_spent`): each policy gives no new slot for
one window after the failure, then the shares (alone in the registry, it has the whole limit
at once). Safe rather than fast: with a 1 s window it costs a
second; with 100 a minute, a minute before degraded calls send again (they are served, not
refused).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass

from catfacts.limiter import PACED, PAUSED, WINDOW, Wait, wait_for_room
from catfacts.limiter.registry import Heard
from catfacts.rates import Rate, Rates

LOCAL_WAIT_MAX = 1.0  # a degraded wait is at most this, so the return to Redis is prompt


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
