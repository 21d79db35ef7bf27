"""`GET /budget`'s answer: the budget as it stands, seen without spending any of it.

What a caller (or the page, live) wants to know before it calls: the rate in force and where it
came from, what the upstream last said remains and when its window resets, any pause after a 429,
the slots counting against the limit now, who has calls in flight (across workers, with Redis),
and how long a call for n would take if it came now. Nothing is sent upstream and no slot is
taken: one look at the limiter (`Limiter.survey`), which with Redis also tells the other workers
this one's queue, and the estimate every call gets (`forecast`).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict, dataclass
from typing import Any

from catfacts.limiter import Queued, merged
from catfacts.strategies.limited.forecast import Forecast
from catfacts.strategies.limited.held import binding
from catfacts.strategies.limited.learning import RateLearner


@dataclass(frozen=True)
class ClientCalls:
    """One client's calls in flight, everywhere the budget is shared."""

    client: str
    calls: int
    queued: int  # requests not sent yet
    you: bool  # the caller that asked


@dataclass(frozen=True)
class Budget:
    """The budget, as `GET /budget` answers it (seconds throughout)."""

    limit: int
    window: float
    source: str  # configured, announced, learned
    rates: str
    remaining: int | None  # what the upstream last said remains in its window
    reset: float | None  # seconds until that window ends
    paused_for: float  # seconds left of a pause after a 429 (every worker's)
    slots_in_use: int  # requests counting against the tightest limit now, in flight among them
    in_flight: int
    shared: bool  # one budget across workers (Redis)
    calls: list[ClientCalls]
    n: int
    wait: float  # seconds until the last fact of a call for n made now
    worker: int  # the process that answered

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def source(learner: RateLearner) -> str:
    """Where the tightest rate in force came from: "configured"; "announced" by the upstream,
    window and all; or "learned" (a window found from the answers' timing, a pace)."""
    rates = learner.rates
    tightest = binding(rates)
    if learner.configured is not None and tightest in learner.configured.policies:
        return "configured"
    if rates.tightest is None or tightest.guess or learner.deduced:
        return "learned"
    return "announced"


def everyone(here: Queued, elsewhere: Queued, caller: str) -> list[ClientCalls]:
    """Each client's calls, this worker's and the others', most queued first."""
    rows = [
        ClientCalls(c, calls, requests, c == caller)
        for c, (calls, requests) in merged((here, elsewhere)).items()
    ]
    return sorted(rows, key=lambda row: (-row.queued, row.client))


async def peek(
    forecast: Forecast, learner: RateLearner, *, shared: bool, client: str, n: int
) -> Budget:
    """The budget now, for a caller known as `client` who may ask for n facts."""
    wait = await forecast.new_call(client, n)  # a fresh look at the limiter first
    survey = forecast.surveyor.latest
    quota = forecast.quota
    remaining, reset = quota.said(asyncio.get_running_loop().time())
    rate = binding(learner.rates)
    return Budget(
        limit=rate.limit,
        window=rate.window,
        source=source(learner),
        rates=str(learner.rates),
        remaining=remaining,
        reset=None if reset is None else round(reset, 3),
        paused_for=round(survey.paused_for, 3),
        slots_in_use=survey.counted,
        in_flight=survey.in_flight,
        shared=shared,
        calls=everyone(forecast.queued(), survey.others, client),
        n=n,
        wait=round(wait, 3),
        worker=os.getpid(),
    )
