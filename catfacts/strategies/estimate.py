"""When a call will end, as its strategy last reckoned it: what the `eta` of a streamed line and
the `X-Facts-Estimate` header say.

The strategy reckons on its event loop (`reckon`, at admission, at each fact, at each look at the
budget); the caller's thread reads (`seconds`) between reckonings, counting down from the last
one. The state is one tuple, swapped whole, so a reader never sees half of an update.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A new reckoning this little above the count-down is noise (one round trip longer than the last),
# not news: the caller sees the estimate rise only when something changed (a caller came, a 429).
NOISE = 0.1  # of the estimate
NOISE_FLOOR = 0.25  # seconds


class Estimate:
    """Seconds until a call's last fact is back, counting down from the last reckoning; and the
    wait the call is in, if any (what it waits for, until when)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reckoned: tuple[float, float] | None = None  # (seconds, when)
        self._waiting: tuple[str, float] | None = None  # (what for, until when)
        self.first: float | None = None  # the reckoning at the door: the header's

    def reckon(self, seconds: float) -> None:
        """The strategy's estimate now; a rise within the noise keeps the count-down."""
        now = self._clock()
        current = self.seconds()
        if current is not None and current < seconds <= current + max(NOISE * current, NOISE_FLOOR):
            return
        self._reckoned = (max(seconds, 0.0), now)
        if self.first is None:
            self.first = max(seconds, 0.0)

    def waits(self, until: float, why: str) -> None:
        """The call can send nothing until `until` (the clock's time), for `why`."""
        self._waiting = (why, until)

    def finished(self) -> None:
        """The call is over: nothing left to wait for."""
        self._reckoned, self._waiting = (0.0, self._clock()), None

    def seconds(self) -> float | None:
        """Seconds left as last reckoned, counted down since; None before any reckoning."""
        reckoned = self._reckoned
        if reckoned is None:
            return None
        seconds, at = reckoned
        return max(seconds - (self._clock() - at), 0.0)

    def waiting(self) -> tuple[str, float] | None:
        """What the call waits for now and the seconds left, or None when it is not waiting."""
        waiting = self._waiting
        if waiting is None:
            return None
        left = waiting[1] - self._clock()
        return (waiting[0], left) if left > 0 else None
