"""When a failed request is sent again: a bounded number of times, after a growing, jittered pause.

Transient failures (5xx, a malformed body, no connection, a timeout) are retried; a 429 is not
counted here (it pauses the whole dispatcher instead). The jitter keeps the retries of many
calls that failed together from arriving together again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from catfacts.errors import UpstreamError
from catfacts.observe import metrics
from catfacts.strategies.limited.calls import Call, Item

log = logging.getLogger(__name__)

ATTEMPTS = 4  # tries per fact before the call fails with the last error
BACKOFF = 0.2  # seconds before the first retry; doubled at each further one
MAX_BACKOFF = 5.0


class Retries:
    """Puts a failed item back in its call's queue after a backoff, or fails the call."""

    def __init__(self, attempts: int, backoff: float, wake: Callable[[], None]) -> None:
        self._attempts = attempts
        self._backoff = backoff
        self._wake = wake

    def later(self, call: Call, item: Item, error: UpstreamError) -> bool:
        """Send `item` again after a backoff (True), or fail the call after the last attempt."""
        item.attempts += 1
        if item.attempts >= self._attempts:
            log.warning("fact #%d failed %d times: %s", item.index, item.attempts, error.message)
            call.fail(error)
            return False
        pause = min(self._backoff * 2 ** (item.attempts - 1), MAX_BACKOFF)
        delay = pause * random.uniform(0.5, 1.5)
        log.info("fact #%d failed (%s); retry in %.2f s", item.index, error.message, delay)
        metrics.retried("failed")
        asyncio.get_running_loop().call_later(delay, self._requeue, call, item)
        return True

    def _requeue(self, call: Call, item: Item) -> None:
        call.retry(item)
        self._wake()
