"""The long-lived parts one service uses: its settings, clients, limiter, dispatcher, loop, and
the three strategies over them, by name (`strategies.table`).

Built once per app (the web layer keeps them as the app's extension, `web/extension.py`), so two
apps (two tests) never share a connection pool, a budget or a loop. Nothing here knows of Flask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from catfacts.background import BackgroundLoop
from catfacts.limiter import Limiter
from catfacts.limiter.degraded import Fallback
from catfacts.limiter.memory import MemoryLimiter
from catfacts.limiter.redis import RedisLimiter
from catfacts.rates import Rates
from catfacts.settings import BOUNDED, OFF, Settings
from catfacts.strategies.all_at_once import AllAtOnce
from catfacts.strategies.base import Strategy
from catfacts.strategies.limited.admission import Admission, Closing
from catfacts.strategies.limited.dispatcher import Dispatcher
from catfacts.strategies.limited.learning import RateLearner
from catfacts.strategies.limited.strategy import Limited
from catfacts.strategies.one_by_one import OneByOne
from catfacts.strategies.outside import OutsideSends
from catfacts.strategies.overdraft import Overdraft
from catfacts.upstream.client import AsyncUpstream, SyncUpstream

MAX_CONNECTIONS = 1000  # the dispatcher's pool; its slots bound what it sends at once


@dataclass
class Services:
    """Everything a request needs besides its own arguments."""

    settings: Settings
    upstream_url: str
    loop: BackgroundLoop = field(default_factory=BackgroundLoop)
    sync_upstream: SyncUpstream = field(init=False)
    async_upstream: AsyncUpstream = field(init=False)
    limiter: Limiter = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    admission: Admission = field(init=False)
    strategies: dict[str, Strategy] = field(init=False)

    def __post_init__(self) -> None:
        settings, timeout = self.settings, self.settings.upstream_timeout
        self.sync_upstream = SyncUpstream(self.upstream_url, timeout)
        self.async_upstream = AsyncUpstream(self.upstream_url, timeout)
        # The dispatcher's own pool: a request that holds a slot never queues for a connection
        # behind an all-at-once call, and slots in flight rarely outnumber these.
        # It follows no redirect by itself: each hop must take a slot of its own.
        limited_upstream = AsyncUpstream(
            self.upstream_url, timeout, MAX_CONNECTIONS, "limited", follow_redirects=False
        )
        # With auto, where it starts until the upstream says; with Redis, learned by every worker.
        learner = RateLearner(settings.rate, shared=settings.redis_url is not None)
        self.limiter = self._limiter(learner.rates)
        closing = Closing()  # one flag: the door and the dispatcher refuse alike once it is set
        # Requests one by one and all at once send past the limiter: the upstream counts them,
        # and the limited strategy must know them for ours, not another client's.
        self.outside = OutsideSends()
        self.dispatcher = Dispatcher(
            limited_upstream, self.limiter, learner=learner, closing=closing, outside=self.outside
        )
        retry_after = math.ceil(learner.rates.longest_window or 1.0)
        self.admission = Admission(settings.max_calls, retry_after=retry_after, closing=closing)
        self.strategies = {
            strategy.info.name: strategy for strategy in self._strategies() if strategy is not None
        }
        for closer in (self.async_upstream.close, limited_upstream.close, self.limiter.close):
            self.loop.on_stop(closer)

    def _strategies(self) -> tuple[Strategy | None, ...]:
        """The three, less those that take no slot when `CATFACTS_UNLIMITED_STRATEGIES=off`;
        all at once bounded by the shared budget unless `open` (`strategies/overdraft.py`)."""
        unlimited = self.settings.unlimited
        if unlimited == OFF:
            return (None, None, Limited(self.dispatcher))
        overdraft = Overdraft(self.limiter) if unlimited == BOUNDED else None
        return (
            OneByOne(self.sync_upstream, self.outside),
            AllAtOnce(self.async_upstream, overdraft, self.outside),
            Limited(self.dispatcher),
        )

    def _limiter(self, rates: Rates) -> Limiter:
        """Redis when configured, so that every worker and host shares one budget."""
        settings = self.settings
        if settings.redis_url is None:
            return MemoryLimiter(rates)
        # Degraded, not dead: on a safe local share while Redis is away (`limiter/degraded.py`).
        return Fallback(
            RedisLimiter(rates, settings.redis_url, self.upstream_url, settings.upstream_timeout)
        )

    def drain(self) -> None:
        """Shutdown has begun (SIGTERM): refuse new calls, end the others after the grace."""
        self.admission.closing.close()  # at once, in this thread: the loop may be busy
        self.loop.call_soon(self.dispatcher.drain, self.settings.shutdown_grace)

    def close(self) -> None:
        """Stop the loop (closing the async session) and drop the sync pool."""
        self.loop.stop()
        self.sync_upstream.close()
