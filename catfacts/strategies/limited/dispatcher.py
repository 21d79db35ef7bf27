"""The limited strategy's dispatcher: as fast as the upstream limit allows, and never faster.

One pump task per process, on the background loop, repeats: wait for credit from the upstream's
own word (`UpstreamQuota`), take a slot from the limiter, take the next item from the calls in
turn (round-robin, so a call for 3 facts is not stuck behind a call for 1000), and send it. Every
request's life passes through `_send`, the one place to watch: sent, answered, then delivered,
retried or failed. A 429 pauses everyone and is retried; transient failures are retried with
exponential backoff and jitter, a bounded number of times.

A call is refused at the door if it cannot meet the deadline it asked for (`admission`); once in,
it is never failed for time while facts keep coming, however many calls share the turns. The pump
never dies: an unexpected error is logged and it goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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
    UpstreamTimeout,
)
from catfacts.limiter import Limiter, Slot, StateLost, Wait
from catfacts.observe import metrics
from catfacts.observe.timeline import Attempt, Timeline
from catfacts.rates import Rates
from catfacts.strategies.limited.admission import finish_estimate, refuse_if_late
from catfacts.strategies.limited.calls import Call, Item
from catfacts.strategies.limited.learning import Answer, RateLearner
from catfacts.strategies.limited.quota import Ticket, UpstreamQuota, heard
from catfacts.strategies.limited.retries import ATTEMPTS, BACKOFF, Retries
from catfacts.strategies.limited.turns import Turns
from catfacts.upstream.client import MAX_HOPS, AsyncUpstream, Reply

log = logging.getLogger(__name__)

STALL_WINDOWS = 3  # windows without a fact for anyone, besides two time-outs, before giving up
PUMP_RESTART = 1.0  # seconds before the pump goes on after an unexpected error

# Why nothing could be sent, as the timelines say it (the limiter's own reasons besides).
AWAITING_CREDIT = "the upstream's answer, to know what remains"
NONE_REMAIN = "the upstream's next window: none remain in this one"


class Dispatcher:
    """Fetches n facts for any number of concurrent callers through one shared budget."""

    def __init__(
        self,
        upstream: AsyncUpstream,
        limiter: Limiter,
        *,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        learner: RateLearner | None = None,
    ) -> None:
        self._upstream = upstream
        self._limiter = limiter
        # What the upstream announces sets the rates; by default the limiter's are the ceiling.
        self._learner = learner or RateLearner(limiter.rates, shared=limiter.shared)
        windows = self._learner.windows  # when the upstream's windows end, as found
        self._quota = UpstreamQuota(self._learner.rates, windows, shared=limiter.shared)
        limiter.on_shared = self._adopt  # what another worker learned, through shared slots
        self._calls = Turns()
        self._wakeup = asyncio.Event()
        self._retries = Retries(attempts, backoff, wake=self._wakeup.set)
        self._pump: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0  # to log each pause once, not once per refused request
        self._closing = False
        self._progress_at = 0.0  # loop time of the last fact, or of work arriving when idle
        # A moving average, for estimates only; learned from the first answers (a guess here
        # would refuse short deadlines forever, as nothing is sent while calls are refused).
        self._round_trip = 0.0

    async def fetch(
        self,
        n: int,
        deadline: float | None = None,
        timeline: Timeline | None = None,
        on_fact: Callable[[int, str], None] | None = None,
        client: str = "",
    ) -> list[str]:
        """Exactly n facts for one caller, or an error saying what happened and how far it got.

        With a `deadline`, a call the queue cannot serve in time is refused before it spends
        anything. A call let in is never failed for time while the dispatcher gets facts: only
        when no fact came back for anyone for `_stall` seconds. `timeline` records its requests
        and waits; `on_fact(index, fact)` hears of each fact as it arrives. Turns go round
        `client`s first, then round each client's calls.
        """
        await self.admit(n, deadline, client)
        if n == 0:
            return []
        loop = asyncio.get_running_loop()
        if not self._calls:
            self._progress_at = loop.time()
        request_id = logs.request_id.get()
        if timeline is None:
            timeline = Timeline("limited", n, request_id, self.rate)
        call = Call(n, request_id, timeline, on_fact, client)
        self._calls.add(call)
        self._start_pump()
        self._wakeup.set()
        try:
            return await self._until_done(call)
        finally:
            call.abandon()
            self._calls.remove(call)
            timeline.limit, timeline.window = self.rate  # as learned by the end of the call

    def drain(self, grace: float) -> None:
        """Shutdown: take no new call, and end the calls still running after `grace` seconds."""
        if self._closing:
            return
        self._closing = True
        asyncio.get_running_loop().call_later(grace, self._end_all)

    @property
    def _window(self) -> float:
        return self._quota.window

    @property
    def _stall(self) -> float:
        """The dispatcher as a whole must keep getting facts; one call may wait long for a turn."""
        return STALL_WINDOWS * self._window + 2 * self._upstream.timeout

    async def _until_done(self, call: Call) -> list[str]:
        loop = asyncio.get_running_loop()
        while True:
            quiet_left = self._progress_at + self._stall - loop.time()
            if quiet_left <= 0:
                raise UpstreamTimeout(
                    f"the upstream gave no fact for {self._stall:g} s; "
                    f"got {call.fetched} of {call.n} facts"
                ).progress(call.fetched, call.n)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(call.result), quiet_left)

    @property
    def rate(self) -> tuple[int, float]:
        """The tightest limit in force (lower than configured if the upstream said so) and its
        window; a pace of r a second shows as one request per 1/r seconds."""
        return self._quota.limit, self._window

    @property
    def rates(self) -> Rates:
        """Every limit in force, as configured or learned."""
        return self._learner.rates

    @property
    def pump_alive(self) -> bool:
        """For readiness: the pump runs, or has had nothing to do yet."""
        return self._pump is None or not self._pump.done()

    async def admit(self, n: int, deadline: float | None, client: str = "") -> None:
        """Refuse now (503) a call that cannot finish within `deadline`, or any during shutdown.

        `fetch` asks this itself; a streamed answer asks first, so that a refusal keeps its
        status. (A coroutine, so that other threads run it on the loop, which owns the queue.)
        """
        if self._closing:
            metrics.refused("shutting_down")
            raise ServiceUnavailable("the service is shutting down", retry_after=1)
        if deadline is None or n == 0:
            return
        now = asyncio.get_running_loop().time()
        estimate = finish_estimate(
            self._calls.sent_before(client, n),
            credit=self._quota.credit,
            limit=self._quota.limit,
            window=self._window,
            blocked=self._quota.blocked_for(now) or 0.0,
            round_trip=self._round_trip,
        )
        refuse_if_late(n, estimate, deadline)

    def _end_all(self) -> None:
        for call in list(self._calls):
            error = ServiceUnavailable(
                f"the service is shutting down; got {call.fetched} of {call.n} facts"
            )
            call.fail(error.detail(facts=call.facts_so_far()))

    def _start_pump(self) -> None:
        if self._pump is None or self._pump.done():
            # A fresh context: the pump serves every caller, so it carries no one's request id.
            self._pump = asyncio.create_task(self._run(), context=contextvars.Context())
            self._pump.add_done_callback(_pump_ended)

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
            log.warning("%s: waiting %g s, then probing the upstream", lost, self._window)
            self._quota.unsure(not_before=loop.time() + self._window)
            return
        except ServiceUnavailable as error:
            self._fail_queued(error)
            return
        call = self._calls.next_call(slot.client)
        # The wait for a slot may have been long: the upstream may have said stop meanwhile.
        if call is None or self._quota.blocked_for(loop.time()) != 0.0:
            await self._release(slot, used=False)
            return
        task = asyncio.create_task(
            self._send(call, call.pending.popleft(), slot, self._quota.spend())
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
        self._quota.unsure(not_before=asyncio.get_running_loop().time() + self._window)

    async def _send(self, call: Call, item: Item, slot: Slot, ticket: Ticket) -> None:
        logs.request_id.set(call.request_id)
        item.sends += 1
        attempt = call.timeline.attempt(item.index, item.sends, item.queued)
        try:
            outcome = await self._exchange(item, logs.detail_level(call.n), slot, ticket, attempt)
            if isinstance(outcome, Reply):
                self._progress_at = asyncio.get_running_loop().time()
                call.deliver(item, outcome.fact)
                return
            item.queued = asyncio.get_running_loop().time()
            if isinstance(outcome, UpstreamRedirected):
                self._follow(call, item, outcome)
            elif isinstance(outcome, UpstreamRateLimited):
                attempt.retried = not call.over
                await self._pause(outcome)
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
            self._wakeup.set()

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
            await self._release(slot)
            now = loop.time()
            self._quota.answered(ticket, heard(outcome), now)
        self._round_trip += (now - sent - self._round_trip) / 8
        quota = outcome.quota if outcome is not None else None
        refused = isinstance(outcome, UpstreamRateLimited)
        if self._learner.hear(Answer(quota, sent, now, refused)):
            await self._follow_rates()
        return outcome

    def _follow(self, call: Call, item: Item, redirect: UpstreamRedirected) -> None:
        """Send `item` again where the upstream pointed, with a slot of its own (every hop is
        an arrival); a permanent redirect already moved the upstream's URL for everyone."""
        item.hops += 1
        if item.hops > MAX_HOPS:
            call.fail(UpstreamBadResponse(f"the upstream redirected more than {MAX_HOPS} times"))
            return
        item.url = redirect.location
        call.retry(item)

    async def _release(self, slot: Slot, used: bool = True) -> None:
        try:
            await (self._limiter.release(slot) if used else self._limiter.cancel(slot))
        except ServiceUnavailable as error:
            # The slot stays taken in the limiter until its lease ends: safe, if slower.
            log.warning("could not release a slot: %s", error.message)

    async def _follow_rates(self) -> None:
        """This worker learned new rates: run at them, and make them every worker's."""
        rates = self._learner.rates
        log.warning("the upstream announces %s: running at that", rates)
        self._quota.set_rates(rates)
        try:
            await self._limiter.set_rates(rates)  # another worker's, if it changed them first
        except ServiceUnavailable as error:
            log.warning("could not share the rates learned: %s", error.message)

    def _adopt(self, rates: Rates) -> None:
        """Another worker learned `rates` (they came with the shared slots): run at them."""
        log.info("another worker learned the upstream's limit: %s", rates)
        self._learner.adopt(rates)
        self._quota.set_rates(self._learner.rates)

    async def _pause(self, refusal: UpstreamRateLimited) -> None:
        now = asyncio.get_running_loop().time()
        seconds = self._quota.pause_after(refusal.quota, now)  # as precise as its rounding
        until = now + seconds
        if until > self._paused_until + 0.5:
            log.warning("the upstream refused a request (429): pausing all requests %g s", seconds)
        self._paused_until = max(self._paused_until, until)
        await self._limiter.pause(seconds)
        self._quota.unsure()


def _pump_ended(pump: asyncio.Task[None]) -> None:
    if not pump.cancelled() and pump.exception() is not None:
        log.error("the pump ended", exc_info=pump.exception())
