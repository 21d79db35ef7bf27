"""Pacing an upstream that announces nothing: requests evenly spaced, the pace found by refusals.

nginx's `limit_req` (a leaky bucket, burst 0) refuses a request that comes less than 1/r after
the last one it let through; a fixed window without headers refuses what exceeds L until the
window ends. Neither says r or L, and a burst is what both refuse, so the pace is searched for as
TCP searches for a link's capacity, never sending two requests closer than the pace:

- slow start: from a cautious pace, double it whenever it has held for `DOUBLE_AFTER` seconds
  (and two requests) without a refusal: long enough for a 1 s window to have filled;
- the first refusal ends it, at the last pace that held (the one before the doubling);
- then additive increase, multiplicative decrease: each request accepted at the pace adds
  `INCREASE` times the pace set at the last decrease (so a cycle back to the refused pace is
  about (1 - DECREASE) / INCREASE / DECREASE requests whatever the rate: ~37, one refusal each);
  a refusal multiplies the pace by `DECREASE`, or sets it to `SETTLE` times the rate accepted
  over the last `MEASURE` seconds if lower (what a fixed window let through). The refusal of a
  request sent before that decrease is no news;
- a run of refusals with nothing accepted between is a window that stays full: past
  `BACK_OFF_AFTER` of them each halves the pace (an exponential back-off, never a storm), and
  once one is accepted again the pace restarts, as TCP after a timeout, from what the upstream
  let through since the last such run, by slow start;
- a pace grown to `RESTART` times the one last refused means the limit was raised: slow start.

The constants were chosen by simulation (tests/test_pace.py has the harness). Against nginx at
20 r/s, burst 0, 5 ms of latency (the ideal for 200 requests is 10 s): 200 from a standing
start take 15.0-15.3 s and the next 200 10.8-10.9 s, 1.5-2 % refused; against a fixed window of
20 a second without headers 14.7-17.8 s and 10.4-11.1 s, at most 2 % refused. Larger INCREASE
or DECREASE near 1 refuse more (6 % at INCREASE 0.006); a shorter DOUBLE_AFTER overshoots fixed
windows (up to 50 % refused at 0.5 s before the run rule); starting at 2 a second saves 1.3 s.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable

from catfacts.rates import Rate

log = logging.getLogger(__name__)

Clock = Callable[[], float]

START = 1.0  # requests a second when nothing is known: the cautious 60/minute, evenly spaced
SLOWEST = 1 / 60
FASTEST = 1000.0
DOUBLE_AFTER = 1.0  # seconds a pace holds without refusal, in slow start, before it doubles
MEASURE = 1.0  # seconds over which the accepted rate is measured at the first refusal
SETTLE = 0.9  # the pace after the first refusal: this much of the rate that was accepted
DECREASE = 0.9  # a later refusal multiplies the pace by this
INCREASE = 0.003  # per request accepted at the pace: this much of the pace after the decrease
RESTART = 1.5  # grown to this times the pace last refused: the limit was raised, slow start
BACK_OFF_AFTER = 2  # refusals in a row, none accepted between, before each further one halves
AT_PACE = 1.5  # an accepted request this many intervals after the one before was sent at pace


class Pacer:
    """The pace to send at, from what the upstream accepted and refused (see the module)."""

    def __init__(
        self,
        start: float = START,
        *,
        slow_start: bool = True,
        ceiling: float | None = None,
        shared: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self._clock = clock
        self._shared = shared  # the pace is several workers': each sees only its own share
        self._ceiling = FASTEST if ceiling is None else min(ceiling, FASTEST)
        self.pace = self._clamped(start)
        self._slow = slow_start
        self._threshold = math.inf  # where slow start ends, if no refusal ends it first
        self._changed_at = self._decreased_at = self._cycle_began = clock()
        self._cycle_accepted = 0  # accepted since the last long run of refusals ended
        self._held = 0  # accepted at this pace since it was set
        self._never_refused = 0.0  # in slow start: the last pace that held
        self._base = self.pace  # the pace after the last decrease: the unit of increase
        self._refused_pace: float | None = None
        self._run = 0  # refusals since the last request accepted
        self._settled = self.pace  # the pace the first refusal of the run set
        self._accepted: deque[float] = deque()  # send times of the requests accepted lately
        self._last_sent: float | None = None

    @property
    def searching(self) -> bool:
        """Whether slow start still doubles the pace."""
        return self._slow

    def hear(self, sent: float, refused: bool) -> bool:
        """One request sent at `sent` was refused or not; True when the pace changed."""
        before = self.pace
        if refused:
            self._refused(sent)
        else:
            self._accepted_at(sent)
        return self.pace != before

    def adopt(self, pace: float) -> None:
        """Another worker found `pace`: go on from there. A higher one is a sibling's slow start
        (search on from it); a lower one, a sibling's refusal (search no more)."""
        before = self.pace
        self._set(pace)
        if pace > before and self._slow:
            self._never_refused = max(self._never_refused, before)  # the sibling saw it hold
        else:
            self._slow, self._base, self._decreased_at = False, self.pace, self._clock()

    def _accepted_at(self, sent: float) -> None:
        now = self._clock()
        self._cycle_accepted += 1
        self._accepted.append(sent)
        while self._accepted[0] < now - MEASURE:
            self._accepted.popleft()
        last, self._last_sent = self._last_sent, max(sent, self._last_sent or sent)
        if sent >= self._decreased_at and self._run:
            self._end_run(now)
        if sent < self._changed_at:
            return  # sent at another pace: no evidence for this one
        if self._slower(sent, last):
            return  # sent slower than the pace: no evidence for it either
        self._held += 1
        if self._slow:
            self._double(now)
            return
        self.pace = self._clamped(self.pace + INCREASE * self._base)
        if self._refused_pace is not None and self.pace >= RESTART * self._refused_pace:
            log.info("the upstream accepts %.3g/s: searching for a higher pace", self.pace)
            self._slow, self._never_refused, self._threshold = True, self.pace, math.inf

    def _slower(self, sent: float, last: float | None) -> bool:
        """Whether `sent` came later than the pace asked after the one before. Shared, the
        siblings' requests came between ours: only the time the pace held is evidence."""
        if self._shared or not self._held or last is None:
            return False
        return sent - last > AT_PACE / self.pace

    def _double(self, now: float) -> None:
        if self._held >= 2 and now - self._changed_at >= DOUBLE_AFTER:
            self._never_refused = self.pace
            self._set(min(2 * self.pace, self._threshold))
            self._slow = self.pace < self._threshold

    def _end_run(self, now: float) -> None:
        """Accepted again after refusals. A long run (a window that stayed full until it ended)
        is left as TCP leaves a timeout: from what the upstream let through since the last such
        run, a slow start up to the lower of twice that and the pace the run's first refusal set.
        """
        if self._run > BACK_OFF_AFTER:
            let_through = self._let_through(now)
            self._set(SETTLE * let_through)
            self._threshold = max(min(self._settled, 2 * let_through), self.pace)
            self._slow, self._never_refused = self.pace < self._threshold, self.pace
            self._base, self._decreased_at = self.pace, now
            self._cycle_began, self._cycle_accepted = now, 0
            log.info("the upstream's window stayed full: pacing at %.3g/s", self.pace)
        self._run = 0

    def _let_through(self, now: float) -> float:
        """Requests a second accepted since the last long run; shared, the pace that was refused
        (our own count is only our share)."""
        if self._shared:
            return self._settled
        return self._cycle_accepted / max(now - self._cycle_began, MEASURE)

    def _refused(self, sent: float) -> None:
        now = self._clock()
        if sent < self._decreased_at:
            return  # sent before the last decrease: the refusal is no news
        self._run += 1
        if self._run == 1:
            self._refused_pace = self.pace
            measured = SETTLE * self._accepted_rate(now) or self.pace
            if self._slow:
                self._set(self._never_refused or measured)
            else:
                self._set(min(DECREASE * self.pace, measured))
            self._slow, self._settled = False, self.pace
            log.info("refused at %.3g/s: pacing at %.3g/s", self._refused_pace, self.pace)
        elif self._run > BACK_OFF_AFTER:
            self._set(self.pace / 2)  # still refused: a window that stays full; back off
        self._base, self._decreased_at = self.pace, now

    def _accepted_rate(self, now: float) -> float:
        """Requests a second accepted over the last `MEASURE` seconds, or since sending began
        after a pause: a gap between calls is not a slower rate. 0: none to measure (or only
        our share of it, when the pace is shared)."""
        if self._shared or not self._accepted:
            return 0.0
        return len(self._accepted) / max(now - self._accepted[0], MEASURE / 10)

    def _set(self, pace: float) -> None:
        self.pace = self._clamped(pace)
        self._changed_at, self._held = self._clock(), 0

    def _clamped(self, pace: float) -> float:
        return min(max(pace, SLOWEST), self._ceiling)


def as_rate(pace: float) -> Rate:
    """A pace as a limit per window, for display and estimates: r a second over a second, or
    one request per 1/r seconds when slower than one a second."""
    window = max(1.0, 1 / pace)
    return Rate(max(1, math.floor(pace * window)), window)
