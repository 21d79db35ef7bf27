"""Fetch n facts with n concurrent requests on the background loop.

Fast, and the demonstration of what goes wrong without a limiter: past the upstream's limit the
answers are 429s, which are dropped, so fewer than n facts may come back. A call where nothing
succeeded for another reason is an outage, and raises instead of returning an empty success.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from catfacts import logs
from catfacts.errors import UpstreamError, UpstreamRateLimited, UpstreamTimeout
from catfacts.observe.timeline import Timeline
from catfacts.strategies.base import LoopStrategy, OnFact, Order
from catfacts.strategies.outside import OutsideSends
from catfacts.strategies.overdraft import Overdraft
from catfacts.strategies.table import ALL_AT_ONCE
from catfacts.upstream.client import AsyncUpstream, Reply

log = logging.getLogger(__name__)


class AllAtOnce(LoopStrategy):
    """n requests at once on the event loop; what the upstream refuses is dropped."""

    info = ALL_AT_ONCE

    def __init__(
        self,
        upstream: AsyncUpstream,
        overdraft: Overdraft | None = None,
        outside: OutsideSends | None = None,
    ) -> None:
        self._upstream = upstream
        self._overdraft = overdraft  # None: unbounded (`CATFACTS_UNLIMITED_STRATEGIES=open`)
        self._outside = outside or OutsideSends()  # the limited strategy counts them as ours

    async def admit(self, order: Order) -> None:
        """Refused at once if it would overdraw the shared budget too far (`overdraft`)."""
        if self._overdraft is not None:
            await self._overdraft.admit(order, self.timeout(order.n))

    async def run(self, order: Order, on_fact: OnFact | None = None) -> list[str]:
        self._outside.record(order.n)
        try:
            return await fetch_all_at_once(self._upstream, order.n, order.timeline, on_fact)
        finally:
            if self._overdraft is not None:
                await self._overdraft.settle(order)

    def timeout(self, n: int) -> float:
        """n requests go out `connections` at a time, each within the upstream's time-out."""
        rounds = max(math.ceil(n / self._upstream.connections), 1)
        return rounds * self._upstream.timeout


async def fetch_all_at_once(
    upstream: AsyncUpstream, n: int, timeline: Timeline, on_fact: OnFact | None = None
) -> list[str]:
    """Return the facts of the requests that succeeded, in request order.

    `on_fact(index, fact)` hears of each fact as it arrives, for a streamed answer.
    """
    level = logs.detail_level(n)
    requests = [
        asyncio.ensure_future(upstream.fetch_fact(index, level, timeline.attempt(index)))
        for index in range(1, n + 1)
    ]
    if on_fact is not None:
        for index, request in enumerate(requests, 1):
            request.add_done_callback(_announce(index, on_fact))
    results = await asyncio.gather(*requests, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, UpstreamError):
            raise result
    facts = [result.fact for result in results if isinstance(result, Reply)]
    errors = [result for result in results if isinstance(result, UpstreamError)]
    refused = sum(isinstance(error, UpstreamRateLimited) for error in errors)
    if errors:
        log.info("%d of %d requests failed, %d of them refused (429)", len(errors), n, refused)
    failures = [error for error in errors if not isinstance(error, UpstreamRateLimited)]
    if not facts and failures:
        raise _most_telling(failures).with_progress(0, n)
    return facts


def _announce(index: int, on_fact: OnFact) -> Callable[[asyncio.Future[Reply]], None]:
    def done(request: asyncio.Future[Reply]) -> None:
        if not request.cancelled() and request.exception() is None:
            on_fact(index, request.result().fact)

    return done


def _most_telling(failures: list[UpstreamError]) -> UpstreamError:
    """A timeout explains an outage better than the odd bad answer, so it wins."""
    timeouts = [error for error in failures if isinstance(error, UpstreamTimeout)]
    return timeouts[0] if timeouts else failures[0]
