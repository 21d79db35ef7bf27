"""The limiter interface: at most L requests reach the upstream in any interval of W seconds.

The scheme (the same for every backend): there are L slots. A request takes a slot when it is
sent; the slot becomes free W seconds after the request's answer came back, or after it failed
or timed out. The upstream counts a request when it arrives, which is after it was sent and
before its answer came back, so two arrivals on one slot are always more than W apart: in any
interval of length W there is at most one arrival per slot, L in all, whatever the network delay.
It costs one round trip per window compared with a perfect clock, and needs no safety margin.
It assumes only that a request the upstream counts reaches it before our timeout for it ends
(a timed-out request's slot is released when it times out).

Backends differ only in where the slots live: `memory` in this process, `redis` in Redis so that
every worker and host shares one budget. Pick one with `create_limiter`.

Fair shares across processes: a caller names the clients it has work for (`clients`, in its own
turn order). The memory limiter serves one process, whose turns are already fair, so it ignores
them. The Redis limiter grants a slot only to the named client furthest behind among every
client any process is waiting for, and says which one (`Slot.client`); when another process's
client is further behind, the caller waits (`BEHIND`) for as long as the slots' state says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from catfacts.observe import metrics
from catfacts.settings import Rate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    """Permission to send one request; give it back with `release` (or `cancel` if unused)."""

    id: str
    client: str | None = None  # whose turn it is, when the limiter chose (see the module doc)


@dataclass(frozen=True)
class Wait:
    """No slot now: try again in `seconds`, for `reason`."""

    seconds: float
    reason: str


class StateLost(Exception):
    """The shared slots were lost without an error (a Redis restart, FLUSHALL, a fail-over).

    Whatever was spent just before is unknown, so wait a window before sending again.
    """


WINDOW = "the upstream window"
PAUSED = "the upstream's Retry-After"
BEHIND = "another worker's client, further behind"


class Limiter(ABC):
    """Slots for requests to the upstream; see the module docstring for the invariant."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate  # as started; `limit` and `window` follow what the upstream announces
        self.limit, self.window = rate.limit, rate.window

    async def acquire(
        self,
        on_wait: Callable[[Wait], None] | None = None,
        clients: Callable[[], Sequence[str]] | None = None,
    ) -> Slot:
        """Wait until a slot is free, sleeping exactly until the limiter says one may be.

        `on_wait` hears of each sleep before it starts (the timelines show them). `clients`
        says, at each try, which clients the caller has work for, in its turn order.
        """
        started = time.monotonic()
        while True:
            answer = await self.try_acquire(clients() if clients is not None else ())
            if isinstance(answer, Slot):
                metrics.waited_for_slot(time.monotonic() - started)
                return answer
            level = logging.INFO if answer.seconds >= 0.05 else logging.DEBUG
            log.log(level, "waiting %.2f s for %s", answer.seconds, answer.reason)
            if on_wait is not None:
                on_wait(answer)
            await asyncio.sleep(answer.seconds)

    @abstractmethod
    async def try_acquire(self, clients: Sequence[str] = ()) -> Slot | Wait:
        """Take a free slot, or say how long until one may be free (see `acquire`)."""

    @abstractmethod
    async def release(self, slot: Slot) -> None:
        """The request on `slot` was answered (or failed) just now: free it W seconds from now."""

    @abstractmethod
    async def cancel(self, slot: Slot) -> None:
        """`slot` was never used to send anything: free it at once."""

    @abstractmethod
    async def pause(self, seconds: float) -> None:
        """Grant no slot for `seconds` (the upstream said so with a 429)."""

    @abstractmethod
    async def set_rate(self, limit: int, window: float) -> None:
        """The upstream announced another rate: use it from now on, keeping the invariant."""

    @abstractmethod
    async def withdraw(self) -> None:
        """This process has no client waiting any more (it named some in `try_acquire`)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections, if the backend holds any."""


def wait_for_slot(now: float, window: float, next_free: float | None) -> Wait:
    """How long to wait when every slot is taken.

    A slot still in flight frees W after an answer that has not come yet, so never before
    now + W; a released slot frees at its known time. Sleep until the earlier of the two and
    look again: no polling, and no wake-up message is needed between processes.
    """
    soonest = now + window if next_free is None else min(next_free, now + window)
    return Wait(max(soonest - now, 0.0), WINDOW)
