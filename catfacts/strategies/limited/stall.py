"""The stall: when a call let in is failed for time, and only then.

One call may wait long for its turn while others are served; what must not happen is that the
dispatcher as a whole gets no fact. So a call waits for its facts until no fact came back for
anyone for `STALL_WINDOWS` windows and two time-outs, counted from the last fact, or from work
arriving when the dispatcher was idle. Time this process did not run (SIGSTOP, a VM paused, a
loop blocked) is not the upstream's silence: a call's timer, set at most `LOOK_EVERY` ahead,
that fires much later than it was set for, says how long, and that time is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from catfacts.errors import UpstreamTimeout
from catfacts.strategies.limited.calls import Call

STALL_WINDOWS = 3  # windows without a fact for anyone, besides two time-outs, before giving up
LOOK_EVERY = 0.5  # seconds: how often a waiting call looks, so that it notices a pause
LATE = 0.25  # seconds a timer may fire late from a busy loop without counting as a pause


class StallWatch:
    """Waits for a call's facts while the dispatcher as a whole keeps getting facts."""

    def __init__(self, window: Callable[[], float], timeout: float) -> None:
        self._window = window  # the upstream's window in force
        self._timeout = timeout  # the upstream client's time-out
        self._progress_at = 0.0  # loop time of the last fact, or of work arriving when idle
        self._paused_to = 0.0  # loop time up to which pauses were already taken off

    @property
    def seconds(self) -> float:
        """The dispatcher as a whole must keep getting facts; one call may wait long for a turn."""
        return STALL_WINDOWS * self._window() + 2 * self._timeout

    def progressed(self) -> None:
        """A fact came back, or work arrived at an idle dispatcher: the count starts again."""
        self._progress_at = asyncio.get_running_loop().time()

    async def until_done(self, call: Call) -> list[str]:
        """The call's facts, or a 504 once the dispatcher has stalled."""
        loop = asyncio.get_running_loop()
        while True:
            stall, now = self.seconds, loop.time()
            quiet_left = self._progress_at + stall - now
            if quiet_left <= 0:
                raise UpstreamTimeout(
                    f"the upstream gave no fact for {stall:g} s; "
                    f"got {call.fetched} of {call.n} facts"
                ).with_progress(call.fetched, call.n)
            step = min(quiet_left, LOOK_EVERY)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(call.result), step)
            self._paused(now + step, loop.time())

    def _paused(self, due: float, woke: float) -> None:
        """A timer due at `due` fired at `woke`: if much later, the process did not run in
        between; that time (once, whichever call saw it) does not count as quiet."""
        if woke - due > LATE:
            unseen = max(woke - max(due, self._paused_to), 0.0)
            self._progress_at = min(self._progress_at + unseen, woke)
            self._paused_to = max(self._paused_to, woke)
