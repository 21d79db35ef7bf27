"""A recent look at the shared budget, kept while calls are in flight: for the estimates.

The estimates (`forecast`) need what no single worker knows: the slots the other workers hold and
the calls they have queued. Reading Redis at every fact would cost a round trip a fact, so the
`Surveyor` looks every `EVERY` seconds while this process has calls (and at once when one comes
or goes), saying at the same time what this process has queued (`Limiter.survey`); the estimates
read the last look. A look that fails keeps the one before: an estimate is never worth a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import Limiter, Queued, Survey

log = logging.getLogger(__name__)

EVERY = 0.25  # seconds between looks while calls are in flight


class Surveyor:
    """The last look at the budget (`latest`, taken at loop time `at`); `on_look` hears of each."""

    def __init__(
        self, limiter: Limiter, queued: Callable[[], Queued], on_look: Callable[[], None]
    ) -> None:
        self._limiter = limiter
        self._queued = queued
        self._on_look = on_look
        self.latest = Survey()
        self.at = 0.0
        self.taken: list[float] = []  # when this process took each slot since the last look
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def took(self) -> None:
        """This process took a slot just now: the last look does not count it yet."""
        self.taken.append(asyncio.get_running_loop().time())

    def changed(self) -> None:
        """A call came or went: look again now, and keep looking while calls are in flight."""
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def look(self) -> Survey:
        """A look now (the door and the peek want the budget as it is, not as it was)."""
        loop = asyncio.get_running_loop()
        try:
            asked = loop.time()
            self.latest = await self._limiter.survey(self._queued())
            self.at = loop.time()
            self.taken = [at for at in self.taken if at >= asked]  # those it may not count
        except ServiceUnavailable as error:
            log.debug("no look at the budget: %s", error.message)
        return self.latest

    def aged(self, now: float) -> Survey:
        """The last look, its waits counted down to `now`."""
        latest, age = self.latest, max(now - self.at, 0.0)
        return Survey(
            latest.counted,
            latest.in_flight,
            max(latest.frees_in - age, 0.0),
            max(latest.paused_for - age, 0.0),
            latest.others,
        )

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            await self.look()
            self._on_look()
            if not self._queued():
                return  # the others heard that nothing is queued here any more
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), EVERY)
