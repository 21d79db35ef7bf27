"""Laravel's `throttle` middleware, as catfact.ninja runs it: a fixed window per client.

The emulator must reject exactly what the real API rejects, or a client tuned against it would
misbehave against the real thing. The clocks are injected so the window edges can be tested exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import limits

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` hits in each window of `window` seconds."""

    limit: int
    window: float


def parse_rate(text: str) -> Rate:
    """Read one rate in the notation of the `limits` package: "100/minute", "30 per 2 seconds".

    Raises ValueError with a message fit to show a user as is.
    """
    try:
        items = limits.parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(
            f"bad rate limit {text!r}: expected one rate such as '100/minute' or '30 per 2 seconds'"
        )
    return Rate(limit=items[0].amount, window=float(items[0].get_expiry()))


@dataclass(frozen=True, slots=True)
class Decision:
    """The throttle's answer to one hit, with what the rate-limit headers need."""

    allowed: bool
    limit: int
    remaining: int  # hits left in this window after this one; 0 when rejected
    retry_after: int  # whole seconds until the window resets, rounded down
    reset_at: int  # unix time, in whole seconds, of that reset
    resets_in: float  # seconds until the window ends, exactly


@dataclass(slots=True)
class _Window:
    ends_at: float
    hits: int = 0


class FixedWindowThrottle:
    """Counts each key's hits in fixed windows, with the semantics of Laravel's throttle.

    Exactly:
    - A key's window opens at its first counted hit, at time t, and covers [t, t + window).
    - Up to `limit` hits are allowed and counted in a window. Further hits are rejected and not
      counted: hammering does not push the reset back.
    - From t + window on, the window is over and the key's next hit opens a new one.
    - `retry_after` is the time left in the window rounded down to whole seconds, as Laravel's
      integer clock gives it, so it is 0 in the window's last second.
    - `reset_at` is computed as Laravel does: the current unix second plus `retry_after`.
    """

    def __init__(
        self, rate: Rate, *, clock: Clock = time.monotonic, wall_clock: Clock = time.time
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._wall_clock = wall_clock
        self._windows: dict[str, _Window] = {}

    def hit(self, key: str) -> Decision:
        """Count a hit for `key` if its window has room, and say whether it may proceed."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window.ends_at:
            window = self._windows[key] = _Window(ends_at=now + self.rate.window)
        allowed = window.hits < self.rate.limit
        if allowed:
            window.hits += 1
        retry_after = math.floor(window.ends_at - now)
        return Decision(
            allowed=allowed,
            limit=self.rate.limit,
            remaining=self.rate.limit - window.hits if allowed else 0,
            retry_after=retry_after,
            reset_at=math.floor(self._wall_clock()) + retry_after,
            resets_in=window.ends_at - now,
        )

    def reset(self) -> None:
        """Forget every window, as if no client had ever been seen."""
        self._windows.clear()
