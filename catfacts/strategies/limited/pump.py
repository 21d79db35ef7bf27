"""The pump: one task per process that sends as fast as the upstream's limit allows, never faster.

It repeats: wait for credit from the upstream's own word (`UpstreamQuota`), take a slot from the
limiter, take the next item from the calls in turn (round-robin, so a call for 3 facts is not
stuck behind a call for 1000), and hand it to the `Sender`. When nothing can be sent, every call
with facts queued records the wait and its reason. The pump never dies: an unexpected error is
logged and it goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable

from catfacts.errors import ServiceUnavailable
from catfacts.limiter import Limiter, StateLost, Wait
from catfacts.observe import metrics
from catfacts.strategies.limited.quota import UpstreamQuota
from catfacts.strategies.limited.sending import Sender
from catfacts.strategies.limited.turns import Turns

log = logging.getLogger(__name__)

PUMP_RESTART = 1.0  # seconds before the pump goes on after an unexpected error

# Why nothing could be sent, as the timelines say it (the limiter's own reasons besides).
AWAITING_CREDIT = "the upstream's answer, to know what remains"
NONE_REMAIN = "the upstream's next window: none remain in this one"


class Pump:
    """Takes items from `calls` in turn and sends each when the quota and the limiter allow.

    `wakeup` is set whenever there may be something new to do (a call came, a request ended);
    `window` gives the upstream's window in force, the wait before a probe after a lost limiter;
    `on_send` hears of each request about to go.
    """

    def __init__(
        self,
        calls: Turns,
        quota: UpstreamQuota,
        limiter: Limiter,
        sender: Sender,
        *,
        wakeup: asyncio.Event,
        window: Callable[[], float],
        on_send: Callable[[], None] = lambda: None,
    ) -> None:
        self._calls = calls
        self._quota = quota
        self._limiter = limiter
        self._sender = sender
        self._wakeup = wakeup
        self._window = window
        self._on_send = on_send  # a slot was taken for a request (the estimates count it)
        self.task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    @property
    def alive(self) -> bool:
        """For readiness: the pump runs, or has had nothing to do yet."""
        return self.task is None or not self.task.done()

    def start(self) -> None:
        """Run the pump, unless it already runs."""
        if self.task is None or self.task.done():
            # A fresh context: the pump serves every caller, so it carries no one's request id.
            self.task = asyncio.create_task(self._run(), context=contextvars.Context())
            self.task.add_done_callback(_pump_ended)

    async def _run(self) -> None:
        while True:
            try:
                await self._pump_once()
            except Exception:
                log.exception("the pump hit an unexpected error; it goes on in %g s", PUMP_RESTART)
                await asyncio.sleep(PUMP_RESTART)

    async def _pump_once(self) -> None:
        """Send one request, or wait for the reason there is none to send."""
        loop = asyncio.get_running_loop()
        self._wakeup.clear()
        metrics.queued(sum(len(call.pending) for call in self._calls))
        if not any(call.pending for call in self._calls):
            await self._limiter.withdraw()
            await self._wakeup.wait()
            return
        blocked = self._quota.blocked_for(loop.time())
        if blocked != 0.0:
            began = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), blocked)
            reason = AWAITING_CREDIT if blocked is None else NONE_REMAIN
            self._waited(began, loop.time(), reason)
            return
        try:
            slot = await self._limiter.acquire(self._waiting, self._calls.waiting)
        except StateLost as lost:
            log.warning("%s: waiting %g s, then probing the upstream", lost, self._window())
            self._quota.unsure(not_before=loop.time() + self._window())
            return
        except ServiceUnavailable as error:
            self._fail_queued(error)
            return
        call = self._calls.next_call(slot.client)
        # The wait for a slot may have been long: the upstream may have said stop meanwhile.
        if call is None or self._quota.blocked_for(loop.time()) != 0.0:
            await self._sender.release(slot, used=False)
            return
        self._on_send()
        task = asyncio.create_task(
            self._sender.send(call, call.pending.popleft(), slot, self._quota.spend())
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _waiting(self, wait: Wait) -> None:
        now = asyncio.get_running_loop().time()
        self._waited(now, now + wait.seconds, wait.reason)

    def _waited(self, start: float, end: float, reason: str) -> None:
        """Nothing could be sent from `start` to `end`: every call with facts queued waited."""
        if end - start >= 0.001:  # a sub-millisecond wait is scheduling, not the limiter
            for call in self._calls:
                call.waited(start, end, reason)

    def _fail_queued(self, error: ServiceUnavailable) -> None:
        """No limiter, no sending: end every waiting call now rather than let it hang.

        The limiter may come back without the slots it had, so wait a window, then probe.
        """
        log.error("%s: failing the calls that wait", error.message)
        for call in self._calls:
            if call.pending:
                call.fail(error)
        self._quota.unsure(not_before=asyncio.get_running_loop().time() + self._window())


def _pump_ended(pump: asyncio.Task[None]) -> None:
    if not pump.cancelled() and pump.exception() is not None:
        log.error("the pump ended", exc_info=pump.exception())
