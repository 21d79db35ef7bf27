"""The limiter interface: for every rate in force, at most L requests reach the upstream in any
interval of W seconds; with a pace, requests go at least 1/pace seconds apart.

The scheme (the same for every backend): a request takes a slot when it is sent; it counts
against every policy from then until W seconds after its answer came back (or it failed or timed
out). A new slot is granted only while fewer than L count. The upstream counts a request when it
arrives, after it was sent and before its answer came back, so the requests that arrive in any
interval of length W all count at its end: at most L of them, whatever the network delay. It
costs one round trip per window compared with a perfect clock, and needs no safety margin.
It assumes only that a request the upstream counts reaches it before our timeout for it ends
(a timed-out request counts from when it timed out).

Each slot is stored as the time its answer came, never as a time it frees: so the rates may
change at any moment (a window learned longer or shorter, a limit lowered) without moving or
dropping a single slot, and a slot still in flight always counts.

All at once sends without slots, but its requests count too (`charge`, then `settle` once its
answers are in), so that whatever it spent, the slots wait for (`strategies/overdraft.py`).

Backends differ only in where the slots live: `memory` in this process, `redis` in Redis so that
every worker and host shares one budget, and the rates learned with it. Pick one with
`create_limiter`.

Fair shares across processes: a caller names the clients it has work for (`clients`, in its own
turn order). The memory limiter serves one process, whose turns are already fair, so it ignores
them. The Redis limiter grants a slot only to the named client furthest behind among every
client any process is waiting for, and says which one (`Slot.client`); when another process's
client is further behind, the caller waits (`BEHIND`) for as long as the slots' state says.
The same client waited for by several processes is served by them in turns, a slot each (else
the pump that asks first wins, and no estimate can say how often): one ahead waits a millisecond.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from catfacts.observe import metrics
from catfacts.rates import Rate, Rates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Slot:
    """Permission to send one request; give it back with `release` (or `cancel` if unused)."""

    id: str
    client: str | None = None  # whose turn it is, when the limiter chose (see the module doc)
    taken: float = 0.0  # time.monotonic() when it was asked for: a late send `confirm`s it


@dataclass(frozen=True)
class Wait:
    """No slot now: try again in `seconds`, for `reason`."""

    seconds: float
    reason: str


# What a process has queued for one client: (calls, requests not yet sent).
Queued = Mapping[str, tuple[int, int]]


def merged(queues: Iterable[Queued]) -> dict[str, tuple[int, int]]:
    """Several processes' queues as one: each client's calls and requests summed."""
    total: dict[str, tuple[int, int]] = {}
    for queued in queues:
        for client, (calls, requests) in queued.items():
            had = total.get(client, (0, 0))
            total[client] = (had[0] + calls, had[1] + requests)
    return total


@dataclass(frozen=True)
class Survey:
    """The budget as one look sees it, spending nothing: the slots that count against the
    tightest policy now (those in flight among them), seconds until each of the answered ones
    stops counting (soonest first), any pause left, and what the other processes sharing the
    slots have queued, per client."""

    counted: int = 0
    in_flight: int = 0
    freeing: tuple[float, ...] = ()
    paused_for: float = 0.0
    others: Queued = field(default_factory=dict)


class StateLost(Exception):
    """The shared slots were lost without an error (a Redis restart, FLUSHALL, a fail-over).

    Whatever was spent just before is unknown, so wait a window before sending again.
    """


WINDOW = "the upstream window"
PAUSED = "the upstream's Retry-After"
BEHIND = "another worker's client, further behind"
PACED = "the pace learned from the upstream's refusals"

OnShared = Callable[[Rates], None]


class Limiter(ABC):
    """Slots for requests to the upstream; see the module docstring for the invariant."""

    shared = False  # whether other processes spend the same slots

    def __init__(self, rates: Rates) -> None:
        self.rates = rates  # this process's; shared ones (Redis) win, and reach `on_shared`
        self.on_shared: OnShared | None = None

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

    async def confirm(self, slot: Slot) -> Slot | None:
        """Just before a request goes on `slot`: the slot to send with, or None if it was lost
        meanwhile (the process was paused past its lease, and others may have spent it): then
        the request must take a new one. Slots in this process's memory are never lost."""
        return slot

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
    async def set_rates(self, rates: Rates) -> Rates:
        """This process learned `rates`: use them from now on, and share them where slots are
        shared. Returns the rates in force, which are another process's if it changed them
        first (they reach `on_shared` too)."""

    @abstractmethod
    async def charge(self, id: str, n: int, allowance: Rates, within: float) -> Wait | None:
        """Count n requests sent without slots (all at once: `strategies/overdraft.py`) as
        answered `within` seconds from now, the latest they can be, if every policy of
        `allowance` has room for all n beside every slot and charge that counts; else say how
        long until it may (nothing is counted then). `settle` counts them from their answers.
        """

    @abstractmethod
    async def settle(self, id: str, n: int) -> None:
        """The n requests charged as `id` were answered (or failed) by now: count them from now."""

    @abstractmethod
    async def withdraw(self) -> None:
        """This process has no client waiting any more (it named some in `try_acquire`)."""

    @abstractmethod
    async def survey(self, queued: Queued) -> Survey:
        """Say what this process has `queued` (per client), and look at the budget: where slots
        are shared, the others' queues too (for the estimates of when calls end)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections, if the backend holds any."""


def room_for(n: int, allowance: Rates) -> Rates:
    """The limits under which one more request fits exactly when n more fit under `allowance`
    (each policy's limit at least n), so that `wait_for_room` answers for n at once."""
    return Rates(tuple(Rate(rate.limit - n + 1, rate.window) for rate in allowance.policies))


def freeing(now: float, rate: Rate | None, answered: Sequence[float]) -> tuple[float, ...]:
    """Seconds until each answered slot that counts against `rate` now stops counting."""
    if rate is None:
        return ()
    since = bisect.bisect_right(answered, now - rate.window)
    return tuple(at + rate.window - now for at in answered[since:])


def wait_for_room(now: float, rates: Rates, flying: int, answered: Sequence[float]) -> float:
    """Seconds until every policy has room for one more request (0: now).

    `answered` holds, in order, when each slot that still counts had its answer. For a policy of
    L per W, the oldest answers free first, each W after it came; a slot still in flight frees
    no sooner than now + W. Sleep until then and look again: no polling, and no wake-up message
    is needed between processes.
    """
    wait = 0.0
    for rate in rates.policies:
        since = bisect.bisect_right(answered, now - rate.window)
        counted = len(answered) - since
        over = flying + counted - rate.limit + 1  # how many must stop counting first
        if over > 0:
            oldest = answered[since + over - 1] if over <= counted else now
            wait = max(wait, oldest + rate.window - now)
    return wait
