"""What is known of the upstream's window length W: a bracket, and the best estimate within it.

The reading side of `WindowFinder` (see `windows` for how answers narrow the bracket): W is whole
seconds, so one whole number in the bracket is W (`exact`), else the largest (`certain`: surely no
shorter); unbounded, it is searched for (`searching`), with `ends_by` saying when one request
should look whether the current window ended. Configured windows, and those other workers found,
stand while the bracket allows them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from catfacts.rates import Rate
from catfacts.strategies.limited.window_evidence import WindowSeen

COMMON_WINDOWS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 86400)
SNAP = 0.005  # seconds: a whole number this close to the bracket is taken as in it
SEARCH = (1.05, 2.05, 3.05)  # seconds after a window's start to look whether it ended, searching


class WindowEstimate:
    """The bracket for W and what it says: the estimate, whether it is exact, when windows end."""

    def __init__(self, told: Iterable[Rate] = (), *, siblings: bool = False) -> None:
        self._told = tuple(told)  # configured rates: a window for the same limit is believed
        self._siblings = siblings  # other workers answer too: our lower bound is long already
        self._shared: tuple[Rate, ...] = ()  # windows other workers found: believed the same
        self._limit: int | None = None
        self._announced: float | None = None
        self._lo, self._hi = 0.0, math.inf
        self._current: WindowSeen | None = None
        self._at_least = 0.0  # a tentative guess proved short: the next is twice as long

    @property
    def window(self) -> float | None:
        """The best estimate of W; None until a limit was heard."""
        if self._announced is not None:
            return self._announced
        if self._limit is None:
            return None
        told = self._told_window()
        if told is not None:
            return told
        if math.isinf(self._hi) and self._at_least:
            return _tentative(max(self._lo, self._at_least))
        if math.isinf(self._hi):
            # A second more than it lasted (what the next look may find), up to the common
            # window there: the limiter counts slots for this long, and a window whose start we
            # did not see lasted longer than we saw; counted shorter than W, our looks at its
            # end and the next window's burst would come more than L in W. With siblings our
            # lower bound is long already (we miss their refills): rounded up again, the
            # limiter ran at 10 per 5 s for a window of 1 s.
            guess = max(math.ceil(self._lo - SNAP), 1) + 1
            return float(guess) if self._siblings else _tentative(guess)
        # W is whole seconds and no longer than the (sound) upper bound: a lower bound that
        # leaves no whole number was stretched (see `_place`) and gives way.
        return float(max(math.floor(self._hi + SNAP), 1))

    @property
    def exact(self) -> bool:
        """W known: announced, the one whole number left (`_candidates`), or configured and
        allowed. A window another worker found is an upper bound: shorter ones may be left."""
        if self._announced is not None or len(self._candidates()) == 1:
            return True
        return self._found_elsewhere() is None and self._configured() is not None

    @property
    def certain(self) -> bool:
        """`window` surely no shorter than W: announced, bounded above, or configured."""
        told = self._told_window()
        return self._announced is not None or not math.isinf(self._hi) or told is not None

    @property
    def bounds(self) -> tuple[float, float]:
        """(at least, at most) for W, from what was seen."""
        return self._lo, self._hi

    def _told_window(self) -> float | None:
        """A configured window that the bracket allows and does not pin: the one for this
        limit, or the only one configured (a limit announced lower than it is likely its own);
        before it, the shortest another worker found (`_found_elsewhere`)."""
        if self._announced is not None:
            return None
        found = self._found_elsewhere()
        if found is not None or len(self._whole()) == 1:
            return found
        return self._configured()

    def _configured(self) -> float | None:
        """The configured window for this limit (or the only one) that the bracket allows."""
        mine = [rate for rate in self._told if rate.limit == self._limit]
        told = mine or (list(self._told) if len(self._told) == 1 else [])
        fits = [r.window for r in told if self._lo - SNAP <= r.window <= self._hi + SNAP]
        return max(fits, default=None)

    def _found_elsewhere(self) -> float | None:
        """The shortest window another worker found for this limit and shorter than ours, if
        our upper bound allows it. Both upper bounds are sound, so the shorter holds; our lower
        bound does not count against it: with several workers, each hears only its share of a
        window's answers, misses refills, and reads several windows as one long one."""
        shared = [rate.window for rate in self._shared if rate.limit == self._limit]
        ours = math.floor(self._hi + SNAP) if not math.isinf(self._hi) else math.inf
        fits = [window for window in shared if window <= self._hi + SNAP and window < ours]
        return min(fits, default=None)

    def share(self, found: Iterable[Rate]) -> None:
        """The windows other workers found (through Redis), each surely no shorter than the
        upstream's: believed as a configured one is, while the answers heard here allow it.
        Without them each worker searches alone, and its guesses undo what another found."""
        self._shared = tuple(rate for rate in found if not rate.guess)

    def _whole(self) -> range:
        """The whole seconds in the bracket."""
        top = COMMON_WINDOWS[-1] if math.isinf(self._hi) else math.floor(self._hi + SNAP)
        return range(max(math.ceil(self._lo - SNAP), 1), top + 1)

    def _candidates(self) -> range:
        """The whole seconds W may be: the bracket's, up to a window another worker found (from
        1 where our lower bound, which misses refills with siblings, leaves none below it)."""
        whole, found = self._whole(), self._found_elsewhere()
        if found is None:
            return whole
        top = math.floor(found + SNAP)
        return range(whole.start if whole.start <= top else 1, top + 1)

    def ends_by(self, *, surely: bool = False) -> float | None:
        """When the current window ends: its bracketed end, or its latest start plus the next
        look (`_guess`). `surely`: by the answers alone, plus an announced window or the upper
        bound, never a configured or guessed one; None if they bound nothing."""
        current = self._current
        if surely:
            found = self._announced or self._hi
            window: float | None = found if math.isinf(found) else float(math.floor(found + SNAP))
        else:
            window = self._guess()
        if current is None or window is None:
            return None
        latest = min(current.end[1], current.start[1] + window)
        return None if math.isinf(latest) else latest

    @property
    def searching(self) -> bool:
        return self._limit is not None and not self.certain  # a limit heard, W not bounded

    @property
    def looking(self) -> bool:
        """Whether a look at a window's end is still to come: searching, or two whole numbers
        left, the shorter of which `ends_by` looks at. Its request must find the window open:
        spent to the last, the window's end (and the look) would come only at the longer."""
        return self.searching or (not self.exact and len(self._candidates()) == 2)

    @property
    def start_known(self) -> bool:
        """Whether the current window's start is bracketed from below: we saw it begin."""
        return self._current is not None and not math.isinf(self._current.start[0])

    def _guess(self) -> float | None:
        """When to look whether the current window ended, from its latest start: while
        searching, the next of `SEARCH` past what it lasted (then the tentative window); with
        two whole numbers left, the shorter, which one request settles; else `window`."""
        current = self._current
        if self.searching and current is not None:
            lasted = max(self._lo, current.end[0] - current.start[1])
            step = next((step for step in SEARCH if step > lasted + SNAP), None)
            return self.window if step is None else step
        whole = self._candidates()
        if self.exact or len(whole) != 2:
            return self.window
        return float(whole[0])


def _tentative(at_least: float) -> float:
    """The common window just above what is known, or twice the bound past the longest."""
    return float(next((w for w in COMMON_WINDOWS if w >= at_least - SNAP), 2 * at_least))
