"""One request's life, from a slot taken to the fact delivered, retried or failed.

Every request passes through `Sender.send`, the one place to watch: sent, answered, then
delivered, sent again where a redirect points, paused and retried after a 429, retried with
backoff after a transient failure, or failed. Whatever happens, the limiter gets its slot back
and the quota, the learner and the round trip hear of the answer. A slot taken long before the
send (the process was paused) is first confirmed as still ours; a lost one sends nothing, and
the item queues again for a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from catfacts import logs
from catfacts.errors import (
    CatFactsError,
    ServiceUnavailable,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRedirected,
)
from catfacts.limiter import Limiter, Slot
from catfacts.observe import metrics
from catfacts.observe.timeline import Attempt
from catfacts.strategies.limited.calls import Call, Item
from catfacts.strategies.limited.learning import Answer, RateLearner
from catfacts.strategies.limited.pause import RefusalPause
from catfacts.strategies.limited.quota import Ticket, UpstreamQuota, heard
from catfacts.strategies.limited.rate_following import RateFollower
from catfacts.strategies.limited.retries import Retries
from catfacts.strategies.limited.round_trip import RoundTrip
from catfacts.upstream.client import MAX_HOPS, AsyncUpstream, Reply

log = logging.getLogger(__name__)


class Sender:
    """Sends one item of a call with the slot and ticket it was given, and handles the answer.

    `on_fact` is told (before the call hears of it) whenever a fact comes back; `wake` after
    every request, whatever its end, so the pump looks again.
    """

    def __init__(
        self,
        upstream: AsyncUpstream,
        limiter: Limiter,
        quota: UpstreamQuota,
        learner: RateLearner,
        retries: Retries,
        *,
        on_fact: Callable[[], None],
        wake: Callable[[], None],
    ) -> None:
        self._upstream = upstream
        self._limiter = limiter
        self._quota = quota
        self._learner = learner
        self._retries = retries
        self._on_fact = on_fact
        self._wake = wake
        self._pause = RefusalPause(limiter, quota)
        self._rates = RateFollower(learner, quota, limiter)
        self.round_trip = RoundTrip()

    async def send(self, call: Call, item: Item, slot: Slot, ticket: Ticket) -> None:
        logs.request_id.set(call.request_id)
        try:
            confirmed = await self._confirmed(slot)
            if confirmed is None:  # paused past its lease: others may have spent the slot
                self._quota.answered(ticket, None, asyncio.get_running_loop().time())
                call.retry(item)
                return
            item.sends += 1
            attempt = call.timeline.attempt(item.index, item.sends, item.queued)
            outcome = await self._exchange(
                item, logs.detail_level(call.n), confirmed, ticket, attempt
            )
            if isinstance(outcome, Reply):
                self._on_fact()
                call.deliver(item, outcome.fact)
                return
            item.queued = asyncio.get_running_loop().time()
            if isinstance(outcome, UpstreamRedirected):
                _follow(call, item, outcome)
            elif isinstance(outcome, UpstreamRateLimited):
                attempt.retried = not call.over
                await self._pause.after(outcome)
                metrics.retried("rate_limited")
                call.retry(item)
            else:
                attempt.retried = self._retries.later(call, item, outcome) and not call.over
        except CatFactsError as error:  # the limiter failed: end the call, never lose the item
            call.fail(error)
        except Exception as error:
            log.error("fact #%d: unexpected error", item.index, exc_info=error)
            call.fail(CatFactsError("an unexpected error ended the call; see the service log"))
        finally:
            self._wake()

    async def _confirmed(self, slot: Slot) -> Slot | None:
        """The slot, confirmed still ours if it was granted long ago; a failed confirmation
        gives it back, so nothing counts a slot that was never sent on."""
        try:
            return await self._limiter.confirm(slot)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._limiter.cancel(slot)
            raise

    async def _exchange(
        self, item: Item, level: int, slot: Slot, ticket: Ticket, attempt: Attempt
    ) -> Reply | UpstreamError:
        """Send one request; the limiter and the quota hear of it whatever happens."""
        outcome: Reply | UpstreamError | None = None
        loop = asyncio.get_running_loop()
        sent = now = loop.time()
        try:
            with metrics.slot_in_flight():
                outcome = await self._upstream.fetch_fact(item.index, level, attempt, item.url)
        except UpstreamError as error:
            outcome = error
        finally:
            await self.release(slot)
            now = loop.time()
            self._quota.answered(ticket, heard(outcome), now)
        self.round_trip.heard(sent, now)
        quota = outcome.quota if outcome is not None else None
        refused = isinstance(outcome, UpstreamRateLimited)
        if self._learner.hear(Answer(quota, sent, now, refused)):
            await self._rates.follow()
        return outcome

    async def release(self, slot: Slot, used: bool = True) -> None:
        """Give the limiter its slot back: spent on a request, or `used=False`, not spent."""
        try:
            await (self._limiter.release(slot) if used else self._limiter.cancel(slot))
        except ServiceUnavailable as error:
            # The slot stays taken in the limiter until its lease ends: safe, if slower.
            log.warning("could not release a slot: %s", error.message)


def _follow(call: Call, item: Item, redirect: UpstreamRedirected) -> None:
    """Send `item` again where the upstream pointed, with a slot of its own (every hop is
    an arrival); a permanent redirect already moved the upstream's URL for everyone."""
    item.hops += 1
    if item.hops > MAX_HOPS:
        call.fail(UpstreamBadResponse(f"the upstream redirected more than {MAX_HOPS} times"))
        return
    item.url = redirect.location
    call.retry(item)
