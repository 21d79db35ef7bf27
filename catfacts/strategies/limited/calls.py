"""One caller's call for n facts: its own queue, its own results, its own end.

Nothing here is shared between callers: the dispatcher takes items from calls in turn and hands
each answer back to the call it came from, so no caller can get another's facts.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from catfacts.errors import CatFactsError
from catfacts.observe.timeline import Timeline
from catfacts.strategies.estimate import Estimate


@dataclass
class Item:
    """One fact still to fetch: its position in the call, its failed attempts and sends so far,
    and since when it has waited to be sent (loop time)."""

    index: int
    queued: float
    attempts: int = 0
    sends: int = 0
    url: str | None = None  # where a temporary redirect sent it; None: the upstream's fact URL
    hops: int = 0  # redirects followed for it


class Call:
    """n facts for one caller; `result` resolves with all n in order, or with the error.

    Its `timeline` records every request sent for it and every wait while it had some queued;
    `on_fact(index, fact)`, if given, hears of each fact as it arrives (a streamed answer).
    """

    def __init__(
        self,
        n: int,
        request_id: str,
        timeline: Timeline,
        on_fact: Callable[[int, str], None] | None = None,
        client: str = "",
        *,
        estimate: Estimate | None = None,
    ) -> None:
        self.n = n
        self.estimate = estimate  # when it will end, for the caller to read (`forecast`)
        self.on_delivered: Callable[[Call], None] | None = None  # before `on_fact`: the eta
        self.request_id = request_id
        self.client = client  # whose turn it takes (`turns`)
        self.timeline = timeline
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.pending: deque[Item] = deque(Item(index, now) for index in range(1, n + 1))
        self.result: asyncio.Future[list[str]] = loop.create_future()
        self._facts: dict[int, str] = {}
        self._on_fact = on_fact

    @property
    def fetched(self) -> int:
        return len(self._facts)

    @property
    def over(self) -> bool:
        return self.result.done()

    def facts_so_far(self) -> list[str]:
        """The facts delivered until now, in their order: what a call cut short still has."""
        return [self._facts[index] for index in sorted(self._facts)]

    def deliver(self, item: Item, fact: str) -> None:
        if self.over:
            return
        self._facts[item.index] = fact
        if self.on_delivered is not None:
            self.on_delivered(self)
        if self._on_fact is not None:
            self._on_fact(item.index, fact)
        if len(self._facts) == self.n:
            self.result.set_result([self._facts[i] for i in range(1, self.n + 1)])

    def retry(self, item: Item) -> None:
        """Put `item` back at the front of the queue, unless the call is over."""
        if not self.over:
            self.pending.appendleft(item)

    def waited(self, start: float, end: float, reason: str) -> None:
        """The dispatcher could send nothing from `start` to `end`: a wait, if ours were queued."""
        if self.pending and not self.over:
            self.timeline.waited(start, end, reason)
            if self.estimate is not None:
                self.estimate.waits(end, reason)

    def fail(self, error: CatFactsError) -> None:
        """End the call with `error`; what is still queued is dropped, never sent."""
        self.pending.clear()
        if not self.over:
            self.result.set_exception(error.with_progress(self.fetched, self.n))

    def abandon(self) -> None:
        """The caller is gone (deadline, disconnect, shutdown): drop what is still queued."""
        self.pending.clear()
        if not self.over:
            self.result.cancel()
        elif not self.result.cancelled():
            self.result.exception()  # a failure that lost the race with the deadline: seen
