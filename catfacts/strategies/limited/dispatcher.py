"""The limited strategy's dispatcher: exactly n facts for each caller, through one shared budget.

Calls come in here and their facts go back from here; everything between is the pump's
(`pump`), which sends each request through the `Sender` (`sending`) as fast as the upstream's
limit allows, and never faster. A 429 pauses everyone and is retried (`pause`); transient failures
are retried with exponential backoff and jitter, a bounded number of times (`retries`).

A call is refused at the door if it cannot meet the deadline it asked for (`admission`); once in,
it is never failed for time while facts keep coming, however many calls share the turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from catfacts import logs
from catfacts.errors import shutting_down
from catfacts.limiter import Limiter
from catfacts.observe.timeline import Timeline
from catfacts.rates import Rates
from catfacts.strategies.estimate import Estimate
from catfacts.strategies.limited.admission import Closing, refuse_if_late
from catfacts.strategies.limited.budget import Budget, peek
from catfacts.strategies.limited.calls import Call
from catfacts.strategies.limited.forecast import Forecast
from catfacts.strategies.limited.learning import RateLearner
from catfacts.strategies.limited.pump import Pump
from catfacts.strategies.limited.quota import UpstreamQuota
from catfacts.strategies.limited.retries import ATTEMPTS, BACKOFF, Retries
from catfacts.strategies.limited.sending import Sender
from catfacts.strategies.limited.stall import StallWatch
from catfacts.strategies.limited.turns import Turns
from catfacts.strategies.outside import OutsideSends
from catfacts.upstream.client import AsyncUpstream


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
        closing: Closing | None = None,
        outside: OutsideSends | None = None,
    ) -> None:
        # What the upstream announces sets the rates; by default the limiter's are the ceiling.
        self._learner = learner or RateLearner(limiter.rates, shared=limiter.shared)
        self._shared = limiter.shared
        rates, windows = self._learner.rates, self._learner.windows  # windows: their ends, found
        self._quota = UpstreamQuota(rates, windows, shared=self._shared, outside=outside)
        self._calls = Turns()
        self._stall = StallWatch(lambda: self._quota.waited_window, upstream.timeout)
        self._wakeup = asyncio.Event()
        retries = Retries(attempts, backoff, wake=self._wakeup.set)
        self._sender = Sender(
            upstream,
            limiter,
            self._quota,
            self._learner,
            retries,
            on_fact=self._stall.progressed,
            wake=self._wakeup.set,
        )
        self.forecast = Forecast(self._calls, self._quota, self._sender.round_trip, limiter)
        self._pumping = Pump(
            self._calls,
            self._quota,
            limiter,
            self._sender,
            wakeup=self._wakeup,
            window=lambda: self._quota.window,
            on_send=self.forecast.surveyor.took,
        )
        self._closing = closing or Closing()  # the service's, shared with its `Admission`
        self._ending: asyncio.TimerHandle | None = None

    async def fetch(
        self,
        n: int,
        deadline: float | None = None,
        timeline: Timeline | None = None,
        on_fact: Callable[[int, str], None] | None = None,
        client: str = "",
        *,
        estimate: Estimate | None = None,
    ) -> list[str]:
        """Exactly n facts for one caller, or an error saying what happened and how far it got.

        With a `deadline`, a call the queue cannot serve in time is refused before it spends
        anything (`admit`); a call let in is `run`."""
        await self.admit(n, deadline, client, estimate)
        return await self.run(n, timeline, on_fact, client, estimate=estimate)

    async def run(
        self,
        n: int,
        timeline: Timeline | None = None,
        on_fact: Callable[[int, str], None] | None = None,
        client: str = "",
        *,
        estimate: Estimate | None = None,
    ) -> list[str]:
        """The facts of a call already admitted (`admit`, once per call).

        It is never failed for time while the dispatcher gets facts: only when no fact came back
        for anyone for a while (`stall`). `timeline` records its requests and waits; `on_fact(index,
        fact)` hears of each fact as it arrives. Turns go round `client`s first, then round each
        client's calls. `estimate` is reckoned again at each of its facts (`forecast`)."""
        if n == 0:
            return []
        if not self._calls:
            self._stall.progressed()
        request_id = logs.request_id.get()
        if timeline is None:
            timeline = Timeline("limited", n, request_id, self.rate)
        call = Call(n, request_id, timeline, on_fact, client, estimate=estimate)
        self._calls.add(call)
        self.forecast.joined(call)
        self._pumping.start()
        self._wakeup.set()
        try:
            return await self._stall.until_done(call)
        finally:
            call.abandon()
            self._calls.remove(call)
            self.forecast.surveyor.changed()
            timeline.limit, timeline.window = self.rate  # as learned by the end of the call

    async def budget(self, client: str, n: int) -> Budget:
        """The budget as it stands, spending nothing (`GET /budget`)."""
        return await peek(self.forecast, self._learner, shared=self._shared, client=client, n=n)

    def drain(self, grace: float) -> None:
        """Shutdown: take no new call, and end the calls still running after `grace` seconds."""
        self._closing.close()
        if self._ending is None:
            self._ending = asyncio.get_running_loop().call_later(grace, self._end_all)

    @property
    def rate(self) -> tuple[int, float]:
        """The tightest limit in force (lower than configured if the upstream said so) and its
        window; a pace of r a second shows as one request per 1/r seconds."""
        return self._quota.limit, self._quota.window

    @property
    def rates(self) -> Rates:
        """Every limit in force, as configured or learned."""
        return self._learner.rates

    @property
    def pump_alive(self) -> bool:
        """For readiness: the pump runs, or has had nothing to do yet."""
        return self._pumping.alive

    @property
    def _pump(self) -> asyncio.Task[None] | None:
        return self._pumping.task

    async def admit(
        self, n: int, deadline: float | None, client: str = "", estimate: Estimate | None = None
    ) -> None:
        """Refuse now (503) a call that cannot finish within `deadline`, or any during shutdown;
        `estimate` hears when a call let in will end (`forecast`, the same model).

        `fetch` asks this, then runs the call; a streamed answer asks it first and then `run`s,
        so that a refusal keeps its status. (A coroutine, so that other threads run it on the
        loop, which owns the queue.)
        """
        self._closing.refuse()
        if deadline is not None or estimate is not None:
            seconds = await self.forecast.new_call(client, n)
            if deadline is not None:
                refuse_if_late(n, seconds, deadline)
            if estimate is not None:
                estimate.reckon(seconds)

    def _end_all(self) -> None:
        for call in list(self._calls):
            error = shutting_down(call.fetched, call.n)
            call.fail(error.with_details(facts=call.facts_so_far()))
