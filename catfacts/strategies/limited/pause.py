"""The pause after a refusal (429): everyone stops until the window that refused us has ended.

The upstream's refusal speaks for the whole budget, not for the one request: so every worker
waits (through the limiter), and the quota probes afresh once the pause is over.
"""

from __future__ import annotations

import asyncio
import logging

from catfacts.errors import UpstreamRateLimited
from catfacts.limiter import Limiter
from catfacts.strategies.limited.quota import UpstreamQuota

log = logging.getLogger(__name__)


class RefusalPause:
    """Pauses all requests after a 429, for as long as the quota says; logs each pause once."""

    def __init__(self, limiter: Limiter, quota: UpstreamQuota) -> None:
        self._limiter = limiter
        self._quota = quota
        self._paused_until = 0.0  # to log each pause once, not once per refused request

    async def after(self, refusal: UpstreamRateLimited) -> None:
        now = asyncio.get_running_loop().time()
        seconds = self._quota.pause_after(refusal.quota, now)  # as precise as its rounding
        until = now + seconds
        if until > self._paused_until + 0.5:
            log.warning("the upstream refused a request (429): pausing all requests %g s", seconds)
        self._paused_until = max(self._paused_until, until)
        await self._limiter.pause(seconds)
        self._quota.unsure()
