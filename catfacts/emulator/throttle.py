"""Laravel's `throttle` middleware, as catfact.ninja runs it: fixed windows per client.

The emulator must reject exactly what the real API rejects, or a client tuned against it would
misbehave against the real thing. The clocks are injected so the window edges can be tested exactly.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from catfacts.rates import Rate, Rates

Clock = Callable[[], float]


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Read rates in the notation of the `limits` package, several separated by ";" or ",", with
    the service's own parser. "100/minute", "30 per 2 seconds", "20/second;1000/hour". Raises
    ValueError with a message fit to show a user as is.
    """
    try:
        return Rates.parse(text).policies
    except ValueError as error:
        raise ValueError(f"bad rate limit {text!r}: {error}") from None


@dataclass(frozen=True, slots=True)
class Policy:
    """Where one rate's window stands for a key after a hit."""

    rate: Rate
    remaining: int  # hits left in this window after this one
    resets_in: float  # seconds until the window ends, exactly


@dataclass(frozen=True, slots=True)
class Decision:
    """The throttle's answer to one hit, with what the rate-limit headers need.

    The scalar fields describe the binding policy: the one with the fewest hits left and, among
    those, the latest reset, so a refusal names the full window that lasts longest.
    """

    allowed: bool
    limit: int
    remaining: int  # hits left in the binding window after this one; 0 when rejected
    retry_after: int  # whole seconds until the binding window resets, rounded down
    reset_at: int  # unix time, in whole seconds, of that reset
    resets_in: float  # seconds until the binding window ends, exactly
    policies: tuple[Policy, ...]  # every rate's window, in the order the rates were given


@dataclass(slots=True)
class _Window:
    ends_at: float
    hits: int = 0


class FixedWindowThrottle:
    """Counts each key's hits in a fixed window per rate, with the semantics of Laravel's throttle.

    Exactly, for each rate:
    - A key's window opens at its first counted hit, at time t, and covers [t, t + window).
    - Up to `limit` hits are allowed and counted in a window. Further hits are rejected and not
      counted: hammering does not push the reset back.
    - From t + window on, the window is over and the key's next counted hit opens a new one.
    - `retry_after` is the time left in the binding window rounded down to whole seconds, as
      Laravel's integer clock gives it, so it is 0 in the window's last second.
    - `reset_at` is computed as Laravel does: the current unix second plus `retry_after`.

    With several rates, as Laravel checks every limit before it counts a hit in any: a hit is
    allowed only if every window has room, and is then counted in all of them; a rejected hit is
    counted in none, so it opens no window either. Its binding window is then the full one that
    ends last, so `retry_after` is the wait until every full window has reset.

    Memory: a key whose windows are all over is the same as a key never seen, so it is forgotten.
    Keys are kept in the order of their last counted hit; each hit first drops the oldest while
    all their windows are over. Every key not hit within the longest window is over, so only the
    clients seen within it are kept, however many have come and gone: exact, and flat.
    """

    def __init__(
        self,
        rates: Sequence[Rate],
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        if not rates:
            raise ValueError("a throttle needs at least one rate")
        self.rates = tuple(rates)
        self._clock = clock
        self._wall_clock = wall_clock
        self._windows: OrderedDict[str, list[_Window]] = OrderedDict()

    def hit(self, key: str) -> Decision:
        """Count a hit for `key` if every window has room, and say whether it may proceed."""
        now = self._clock()
        self._forget_over(now)
        windows = self._current_windows(key, now)
        allowed = all(w.hits < rate.limit for w, rate in zip(windows, self.rates, strict=True))
        if allowed:
            for window in windows:
                window.hits += 1
            self._windows[key] = windows
            self._windows.move_to_end(key)
        policies = tuple(
            Policy(rate, rate.limit - window.hits, window.ends_at - now)
            for window, rate in zip(windows, self.rates, strict=True)
        )
        return self._decision(allowed, policies)

    def reset(self) -> None:
        """Forget every window, as if no client had ever been seen."""
        self._windows.clear()

    def __len__(self) -> int:
        """How many keys have a window kept."""
        return len(self._windows)

    def _forget_over(self, now: float) -> None:
        """Drop the least recently hit keys while all their windows are over at `now`."""
        windows = self._windows
        while windows:
            oldest = next(iter(windows.values()))
            if any(now < window.ends_at for window in oldest):
                return
            windows.popitem(last=False)

    def _current_windows(self, key: str, now: float) -> list[_Window]:
        """The key's windows at `now`; one that is over, or never opened, is a fresh copy.

        Fresh windows are only stored once a hit is counted, so a rejected hit opens none.
        """
        stored = self._windows.get(key)
        if stored is None:
            return [_Window(ends_at=now + rate.window) for rate in self.rates]
        return [
            window if now < window.ends_at else _Window(ends_at=now + rate.window)
            for window, rate in zip(stored, self.rates, strict=True)
        ]

    def _decision(self, allowed: bool, policies: tuple[Policy, ...]) -> Decision:
        binding = min(policies, key=lambda policy: (policy.remaining, -policy.resets_in))
        retry_after = math.floor(binding.resets_in)
        return Decision(
            allowed=allowed,
            limit=binding.rate.limit,
            remaining=binding.remaining,  # a rejected hit's binding window is full: 0
            retry_after=retry_after,
            reset_at=math.floor(self._wall_clock()) + retry_after,
            resets_in=binding.resets_in,
            policies=policies,
        )
