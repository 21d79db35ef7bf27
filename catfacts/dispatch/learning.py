"""The rate to run at, learned from what the upstream announces rather than only configured.

A lower limit (or a longer window) is obeyed at once: the upstream will refuse what exceeds it.
A higher one is believed once it has been announced consistently for a whole window, so a single
odd answer cannot make us burst. A configured rate stays a ceiling; with `CATFACTS_RATE_LIMIT=auto`
the first announcement is taken as it is, and when the upstream announces nothing the cautious
default stands, said once in the log.
"""

from __future__ import annotations

import logging
import math

from catfacts.settings import CAUTIOUS_RATE, Rate
from catfacts.upstream.headers import Quota

log = logging.getLogger(__name__)


class RateLearner:
    """`limit` requests per `window` seconds: the configured rate, or what the upstream says."""

    def __init__(self, ceiling: Rate | None) -> None:
        self.ceiling = ceiling
        start = ceiling or CAUTIOUS_RATE
        self.limit, self.window = start.limit, start.window
        self._heard = ceiling is not None  # with auto, the first announcement is taken as is
        self._looser: tuple[int, float] | None = None  # announced looser, since `_since`
        self._since = 0.0
        self._said_nothing = False

    def hear(self, quota: Quota, now: float, *, refused: bool = False) -> bool:
        """Learn from one answer (`refused`: a 429); True when the rate to run at changed."""
        announced = self._announced(quota, refused)
        if announced is None:
            if not self._heard and not self._said_nothing:
                self._said_nothing = True
                log.warning(
                    "the upstream announces no rate limit: running at the cautious %s",
                    CAUTIOUS_RATE.text,
                )
            return False
        limit, window = self._clamped(*announced)
        if not self._heard:
            self._heard = True
            return self._adopt(limit, window)
        if limit >= self.limit and window <= self.window:
            return self._maybe_loosen(limit, window, now)
        self._looser = None
        # Stricter in some way: take the stricter part of each now, the rest after a window.
        return self._adopt(min(limit, self.limit), max(window, self.window))

    def _announced(self, quota: Quota, refused: bool) -> tuple[int, float] | None:
        if quota.limit is None or quota.limit < 1:
            return None
        window = quota.window
        first_hit = not refused and quota.remaining == quota.limit - 1
        if window is None and quota.reset_in is not None and first_hit and self.ceiling is None:
            # The first hit of a fixed window: its reset is the whole window, rounded up to whole
            # seconds as resets are. (A configured window is not second-guessed this way.)
            window = float(max(math.ceil(quota.reset_in), 1))
        return quota.limit, window if window is not None and window > 0 else self.window

    def _clamped(self, limit: int, window: float) -> tuple[int, float]:
        if self.ceiling is None:
            return limit, window
        return min(limit, self.ceiling.limit), max(window, self.ceiling.window)

    def _maybe_loosen(self, limit: int, window: float, now: float) -> bool:
        if (limit, window) == (self.limit, self.window):
            self._looser = None
            return False
        if self._looser != (limit, window):
            self._looser, self._since = (limit, window), now
            return False
        if now - self._since < self.window:
            return False
        self._looser = None
        return self._adopt(limit, window)

    def _adopt(self, limit: int, window: float) -> bool:
        changed = (limit, window) != (self.limit, self.window)
        self.limit, self.window = limit, window
        return changed
