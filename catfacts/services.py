"""The long-lived parts one app uses: its settings, clients, limiter, dispatcher and loop.

Built once by `create_app` and kept in `app.extensions`, so two apps (two tests) never share
a connection pool, a budget or a loop; views reach them through `current_services()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from catfacts.background import BackgroundLoop
from catfacts.dispatch.dispatcher import Dispatcher
from catfacts.limiter import Limiter
from catfacts.limiter.memory import MemoryLimiter
from catfacts.limiter.redis import RedisLimiter
from catfacts.settings import Settings
from catfacts.upstream import AsyncUpstream, SyncUpstream

EXTENSION = "catfacts"


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

    def __post_init__(self) -> None:
        timeout = self.settings.upstream_timeout
        self.sync_upstream = SyncUpstream(self.upstream_url, timeout)
        self.async_upstream = AsyncUpstream(self.upstream_url, timeout)
        self.limiter = self._limiter()
        self.dispatcher = Dispatcher(self.async_upstream, self.limiter)
        self.loop.on_stop(self.async_upstream.close)
        self.loop.on_stop(self.limiter.close)

    def _limiter(self) -> Limiter:
        """Redis when configured, so that every worker and host shares one budget."""
        settings = self.settings
        if settings.redis_url is None:
            return MemoryLimiter(settings.rate)
        return RedisLimiter(
            settings.rate, settings.redis_url, self.upstream_url, settings.upstream_timeout
        )

    def close(self) -> None:
        """Stop the loop (closing the async session) and drop the sync pool."""
        self.loop.stop()
        self.sync_upstream.close()


def current_services() -> Services:
    services: Services = current_app.extensions[EXTENSION]
    return services
