"""Fetch n facts one request after another, over one kept-alive connection.

The simplest correct strategy: it never exceeds the limit by much, because it is slow, and it
stops at the first refusal or failure, telling the caller how far it got.
"""

from __future__ import annotations

from collections.abc import Iterator

from catfacts import logs
from catfacts.errors import CatFactsError, UpstreamError
from catfacts.observe.timeline import Timeline
from catfacts.strategies.base import Interrupted, Order, ThreadStrategy, not_interrupted
from catfacts.strategies.outside import OutsideSends
from catfacts.strategies.table import ONE_BY_ONE
from catfacts.upstream.client import SyncUpstream


class OneByOne(ThreadStrategy):
    """One request after another, from the caller's thread, over one kept-alive connection."""

    info = ONE_BY_ONE

    def __init__(self, upstream: SyncUpstream, outside: OutsideSends | None = None) -> None:
        self._upstream = upstream
        self._outside = outside or OutsideSends()  # the limited strategy counts them as ours

    def facts(self, order: Order) -> Iterator[str]:
        def interrupted() -> CatFactsError | None:
            reason = order.interrupted()
            if reason is None:
                self._outside.record()  # the next request goes
            return reason

        return one_by_one(self._upstream, order.n, order.timeline, interrupted)


def one_by_one(
    upstream: SyncUpstream,
    n: int,
    timeline: Timeline,
    interrupted: Interrupted = not_interrupted,
) -> Iterator[str]:
    """Yield n facts as they come, or raise the first upstream error with the count before it.

    A generator, so a streamed answer sends each fact before the next request goes, and a
    caller who stops reading sends no more. Every fact is queued at the start: the timeline shows
    how long each waited for the ones before it. `interrupted` is asked before each request
    (has the caller hung up, is the service stopping?): an error it returns ends the call there.
    """
    level = logs.detail_level(n)
    queued = timeline.start
    for index in range(1, n + 1):
        if (reason := interrupted()) is not None:
            raise reason.with_progress(index - 1, n)
        try:
            fact = upstream.fetch_fact(index, level, timeline.attempt(index, queued=queued)).fact
        except UpstreamError as error:
            raise error.with_progress(index - 1, n) from None
        yield fact
